"""Provides LineTable: a fast, keyboard-driven table drawn with Textual's line API.

Rows are replaced with ``set_rows`` or patched with ``update_rows``; either way the table
then compares each line on screen with what it last drew there and repaints only the
lines that differ. Rows off screen cost a dictionary entry: when their cells are made on
first use (a ``Row`` subclass) they are not even formatted until they scroll into view.
Sorting on any column (either way), filtering, a cursor that follows its row's key, and
expandable child rows (legs) are built in. Cells carry a tone, not a colour: the tone maps
to a component class styled by the theme, so colours live in TCSS variables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from widgets import _rows
from widgets._rows import BLANK, DOWN, UP, Align, Cell, Column, Fitted, Row

__all__ = ["DOWN", "UP", "Align", "Cell", "Column", "LineTable", "Row"]
TONES = ("up", "down", "flat", "stale", "warning", "critical", "dim", "strong", "accent")


class LineTable(ScrollView, can_focus=True):
    """A table whose header stays put and whose body scrolls under a cursor."""

    DEFAULT_CSS = """
    LineTable { height: 1fr; overflow-x: hidden; }
    LineTable > .linetable--header { text-style: bold; color: $text-muted; }
    LineTable > .linetable--cursor { background: $primary 30%; }
    LineTable:focus > .linetable--cursor { background: $primary 55%; }
    LineTable > .linetable--up { color: $pnl-up; }
    LineTable > .linetable--down { color: $pnl-down; }
    LineTable > .linetable--flat { color: $foreground; }
    LineTable > .linetable--stale { color: $stale; text-style: italic; }
    LineTable > .linetable--warning { color: $warning; }
    LineTable > .linetable--critical { color: $critical; text-style: bold; }
    LineTable > .linetable--dim { color: $text-muted; }
    LineTable > .linetable--strong { text-style: bold; }
    LineTable > .linetable--accent { color: $accent; }
    LineTable > .linetable--empty { color: $text-muted; text-style: italic; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "linetable--header", "linetable--cursor", "linetable--empty",
        *(f"linetable--{tone}" for tone in TONES),
    }  # fmt: skip
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "cursor(-10)", "Page up", show=False),
        Binding("pagedown", "cursor(10)", "Page down", show=False),
        Binding("home", "cursor_to(0)", "First", show=False),
        Binding("end", "cursor_to(-1)", "Last", show=False),
        # The registry's "expand" id: remapping it in [ui.keys] moves this key too.
        Binding("enter,space", "toggle", "Expand", show=False, id="expand"),
    ]

    cursor: reactive[int] = reactive(0, repaint=False, init=False)

    class Selected(Message):
        """The cursor moved onto a row (or off the last one)."""

        def __init__(self, table: LineTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

    class Toggled(Message):
        def __init__(self, table: LineTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        empty: str = "nothing to show",
        expandable: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = list(columns)
        self.expandable = expandable
        self.empty_text = empty
        self._fitted: tuple[int, Fitted, int] | None = None
        self._by_tone: dict[tuple[str, bool], dict[str, Style]] = {}
        self._keys: list[str] = []
        self._by_key: dict[str, Row] = {}
        self._visible: list[tuple[Row, int]] = []
        self._line_of: dict[str, int] = {}
        self._painted: dict[int, tuple[Any, ...]] = {}
        """What each screen line shows as last drawn, to repaint only lines that differ."""
        self._generation = 0
        self._view = (0, 0, 0, 0, 0)
        self.expanded: set[str] = set()
        self.sort_column: str | None = None
        self.sort_reverse = False
        self.filter_text = ""
        self.selected_key: str | None = None

    # --- data -----------------------------------------------------------------------------

    def set_rows(self, rows: Iterable[Row]) -> None:
        """Replace the rows; repaint only the lines on screen whose content changed."""
        self._by_key = {row.key: row for row in rows}
        self._keys = list(self._by_key)
        self._relayout()

    def update_rows(self, changed: Iterable[Row], removed: Iterable[str] = ()) -> None:
        """Patch some rows in place: the cost is in the rows that changed, not the table.

        Rows keep their lines unless the order or the membership changes (a new or removed
        row, a sort value or a filtered field that moved, legs appearing or going).
        """
        by_key, line_of, visible = self._by_key, self._line_of, self._visible
        gone = {key for key in removed if by_key.pop(key, None) is not None}
        moved = bool(gone)
        index = self._sort_index()
        filtering, expanded = bool(self.filter_text), self.expanded
        for row in changed:
            key = row.key
            old = by_key.get(key)
            by_key[key] = row
            if old is None:
                self._keys.append(key)
                moved = True
            elif moved:
                continue
            elif (
                (index is not None and _rows.sort_key(old, index) != _rows.sort_key(row, index))
                or (filtering and old.search != row.search)
                or (key in expanded and _rows.keys_of(old) != _rows.keys_of(row))
            ):
                moved = True
            elif (line := line_of.get(key)) is not None:  # else filtered out
                visible[line] = (row, 0)
                if key in expanded:
                    for child in row.children:
                        visible[line_of[child.key]] = (child, 1)
        if moved:
            if gone:
                self._keys = [key for key in self._keys if key not in gone]
            self._relayout()
        else:
            self._repaint()

    def _sort_index(self) -> int | None:
        if self.sort_column is None:
            return None
        return next((i for i, c in enumerate(self.columns) if c.key == self.sort_column), None)

    def _layout(self) -> None:
        rows = [self._by_key[key] for key in self._keys]
        if self.filter_text:
            needle = self.filter_text.lower()
            rows = [r for r in rows if needle in r.search.lower()]
        index = self._sort_index()
        if index is not None:
            rows = _rows.sorted_rows(rows, index, self.sort_reverse)
        elif self.sort_reverse:
            rows.reverse()
        visible: list[tuple[Row, int]] = []
        for row in rows:
            visible.append((row, 0))
            if row.key in self.expanded:
                visible.extend((child, 1) for child in row.children)
        self._visible = visible
        self._line_of = {row.key: line for line, (row, _) in enumerate(visible)}
        size = Size(self._total_width(self._room()), len(visible) + 1)
        if size != self.virtual_size:
            self.virtual_size = size  # only now: a new virtual size means a layout pass

    def _relayout(self) -> None:
        self._layout()
        self._settle_cursor()
        self._repaint()

    def row_at_cursor(self) -> Row | None:
        if 0 <= self.cursor < len(self._visible):
            return self._visible[self.cursor][0]
        return None

    @property
    def row_count(self) -> int:
        return len(self._visible)

    def select_key(self, key: str) -> None:
        line = self._line_of.get(key)
        if line is not None:
            self.cursor = line

    def _settle_cursor(self) -> None:
        """Keep the cursor on the same row key across re-sorts, filters and updates."""
        line = None if self.selected_key is None else self._line_of.get(self.selected_key)
        if line is not None:
            if line != self.cursor:
                self.cursor = line
            return
        self.cursor = min(self.cursor, max(len(self._visible) - 1, 0))
        self._announce()

    def _announce(self) -> None:
        row = self.row_at_cursor()
        key = row.key if row else None
        if key != self.selected_key:
            self.selected_key = key
            self.post_message(self.Selected(self, key))

    # --- sort, filter, expand ---------------------------------------------------------------

    def sort_by(self, key: str | None, reverse: bool | None = None) -> None:
        """Sort on column ``key`` (None: the order rows were given in). ``reverse`` None
        flips the direction when the column is already the sort, else sorts ascending."""
        if reverse is None:
            reverse = not self.sort_reverse if key == self.sort_column else False
        self.sort_column, self.sort_reverse = key, reverse
        self._relayout()

    def reverse_sort(self) -> str:
        """The same sort the other way round (worst P&L first, say); returns it in words."""
        self.sort_by(self.sort_column, not self.sort_reverse)
        return self.sort_description()

    def sort_description(self) -> str:
        """The sort in words: the column and which way round, and whether it is hidden."""
        column = next((c for c in self.columns if c.key == self.sort_column), None)
        if column is None:
            return "book order, reversed" if self.sort_reverse else "book order"
        hidden = " (column hidden at this width)" if self.sort_hidden() else ""
        return f"sorted by {column.label} {DOWN if self.sort_reverse else UP}{hidden}"

    def shown_keys(self) -> list[str]:
        """The columns this width shows (the others are dropped, most droppable first)."""
        return [c.key for c, _, _ in self._shown_columns(self._room())]

    def sort_hidden(self) -> bool:
        """The sort column is one this width hides (its arrow cannot show in the header)."""
        return self.sort_column is not None and self.sort_column not in self.shown_keys()

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        self._relayout()

    def action_toggle(self) -> None:
        row = self.row_at_cursor()
        if row is None:
            return
        if row.children or row.expandable:
            self.expanded ^= {row.key}
            self._relayout()
        self.post_message(self.Toggled(self, row.key))

    def action_cursor(self, delta: int) -> None:
        if self._visible:
            self.cursor = max(0, min(self.cursor + delta, len(self._visible) - 1))

    def action_cursor_to(self, index: int) -> None:
        if self._visible:
            self.cursor = index % len(self._visible)

    def watch_cursor(self) -> None:
        self._scroll_to_cursor()
        self._repaint()
        self._announce()

    def _scroll_to_cursor(self) -> None:
        body = max(self.size.height - 1, 1)
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + body:
            self.scroll_to(y=self.cursor - body + 1, animate=False)

    def on_resize(self) -> None:
        self.virtual_size = Size(self._total_width(self._room()), len(self._visible) + 1)

    def _room(self) -> int:
        """The width the columns may take: the content less any vertical scrollbar."""
        return max(self.size.width - self.scrollbar_gutter.width, 0)

    # --- drawing ---------------------------------------------------------------------------

    def _repaint(self) -> None:
        """Mark dirty only the screen lines whose content differs from what was drawn.

        A line showing a new Row object for the same key with equal cells keeps its
        strip: a republished but unchanged position costs a comparison, not a repaint.
        """
        width, height = self.size
        top, cursor = int(self.scroll_offset.y), self.cursor
        painted, line_key = self._painted, self._line_key
        dirty = [] if painted.get(0) == self._header_key() else [0]
        for y in range(1, height):
            want = line_key(top + y - 1, cursor)
            have = painted.get(y)
            if have == want:
                continue
            if have and want and have[1:] == want[1:] and _rows.same_face(have[0], want[0]):
                want[0].strip = have[0].strip
                painted[y] = want
                continue
            dirty.append(y)
        if dirty:
            self.refresh(*_rows.line_regions(dirty, max(self.virtual_size.width, width)))

    def _header_key(self) -> tuple[Any, ...]:
        return ("header", self.sort_column, self.sort_reverse, self._generation)

    def _line_key(self, index: int, cursor: int) -> tuple[Any, ...]:
        """What line ``index`` of the body shows: equal keys draw equal lines."""
        visible = self._visible
        if index >= len(visible):
            return ("empty", self.empty_text) if index == 0 else ()
        row, depth = visible[index]
        return (row, depth, index == cursor, self._marker(row, depth), self._generation)

    def _marker(self, row: Row, depth: int) -> str:
        if not self.expandable:
            return ""
        if depth:
            return "└ "
        if row.children or row.expandable:
            return "▾ " if row.key in self.expanded else "▸ "
        return "  "

    def render_lines(self, crop: Region) -> list[Strip]:
        # One look-up of size and scroll per pass, not one per line (size is a query).
        offset = self.scroll_offset
        self._view = (self.size.width, self._room(), int(offset.y), int(offset.x), self.cursor)
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width, room, top, left, cursor = self._view
        if y == 0:
            self._painted[0] = self._header_key()
            strip = self._header(width, room)
        else:
            key = self._painted[y] = self._line_key(top + y - 1, cursor)
            if len(key) < 3:  # ("empty", text) or () past the end
                strip = self._blank(width, bool(key))
            else:
                row, depth, at_cursor, marker, _ = key
                stamp = (self._generation, width, room, depth, marker)
                cached = row.strip
                if at_cursor or cached is None or cached[0] != stamp:
                    strip = self._draw(row, marker, at_cursor, width, room)
                    if not at_cursor:
                        row.strip = (stamp, strip)
                else:
                    strip = cached[1]
        return strip.crop(left, left + width) if left else strip

    def _blank(self, width: int, message: bool) -> Strip:
        base = self._tone_styles("", False)[""]
        if not message:
            return Strip.blank(width, base)
        text = _rows.fit_text(f" {self.empty_text}", width, "left")
        style = self.get_component_rich_style("linetable--empty")
        return Strip([Segment(text, style)], width)

    def _header(self, width: int, room: int) -> Strip:
        arrow = DOWN if self.sort_reverse else UP
        text = _rows.header_text(
            self._shown_columns(room), self.sort_column, arrow, self.expandable
        )
        segments = [Segment(text, self.get_component_rich_style("linetable--header"))]
        pad = self._tone_styles("", False)[""]
        return _rows.make_strip(segments, self._total_width(room), width, pad)

    def _style(self, row_tone: str, cell_tone: str, *, at_cursor: bool) -> Style:
        """The combined style of a cell (cached by ``_tone_styles``): adding Rich styles
        for every cell of every line is what made drawing slow."""
        style = self.rich_style
        for tone in (row_tone, cell_tone):
            if tone:
                style += self.get_component_rich_style(f"linetable--{tone}")
        if at_cursor:
            style += self.get_component_rich_style("linetable--cursor")
        return style

    def notify_style_update(self) -> None:
        self._by_tone.clear()
        self._generation += 1
        super().notify_style_update()

    def _draw(self, row: Row, marker: str, at_cursor: bool, width: int, room: int) -> Strip:
        """One body line, ``width`` cells of which the columns take ``room``; neighbouring
        cells of one style share a segment."""
        cells, tone = row.cells, row.tone
        styles = self._tone_styles(tone, at_cursor)
        if row.span:
            cell = cells[0] if cells else BLANK
            text = _rows.fit_text(marker + cell.text, room, "left")
            return _rows.make_strip([Segment(text, styles[cell.tone])], room, width, styles[""])
        segments = _rows.cell_segments(cells, self._shown_columns(room), styles, marker)
        pad = self._tone_styles("", at_cursor)[""]
        return _rows.make_strip(segments, self._total_width(room), width, pad)

    def _tone_styles(self, row_tone: str, at_cursor: bool) -> dict[str, Style]:
        """Cell tone → style for a row of ``row_tone``: one look-up per cell when drawing."""
        key = (row_tone, at_cursor)
        styles = self._by_tone.get(key)
        if styles is None:
            build = partial(self._style, row_tone, at_cursor=at_cursor)
            styles = self._by_tone[key] = _rows.ToneStyles(build)
        return styles

    def _shown_columns(self, width: int) -> Fitted:
        """The columns that fit, each with its width and cell index."""
        return self._fitting(width)[1]

    def _fitting(self, width: int) -> tuple[int, Fitted, int]:
        width = width or sum(c.width + 1 for c in self.columns) + 2  # before the first size
        if self._fitted is None or self._fitted[0] != width:
            shown = _rows.fit_columns(self.columns, width, 2 if self.expandable else 0)
            self._fitted = (width, shown, sum(room + 1 for _, room, _ in shown))
        return self._fitted

    def _total_width(self, width: int) -> int:
        return self._fitting(width)[2]
