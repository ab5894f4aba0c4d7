"""Provides LineTable: a fast, keyboard-driven table drawn with Textual's line API.

Rows are replaced wholesale with ``set_rows``; only rows whose cells changed lose their
cached strip and only their lines are repainted, which is what lets a 1,000-row book
with 100 changed cells repaint in about a millisecond (DataTable takes ~60 ms). Sorting,
filtering, a cursor that follows its row's key, and expandable child rows (legs) are
built in. Cells carry a tone, not a colour: the tone maps to a component class styled
by the theme, so colours live in TCSS variables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

Align = Literal["left", "right", "center"]
TONES = ("up", "down", "flat", "stale", "warning", "critical", "dim", "strong", "accent")


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int
    align: Align = "right"
    drop: int = 0
    """Columns with a higher ``drop`` are hidden first when the table is narrow."""
    flex: bool = False
    """Takes the width the other columns leave (at least ``width``)."""


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    tone: str = ""


@dataclass(slots=True)
class Row:
    key: str
    cells: tuple[Cell, ...]
    sort: tuple[Any, ...] = ()
    search: str = ""
    tone: str = ""
    children: list[Row] = field(default_factory=list)
    expandable: bool = False
    """Has children to show, built only when expanded (they may be costly to make)."""


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
        Binding("enter,space", "toggle", "Expand", show=False),
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
        self._fitted: tuple[int, list[tuple[Column, int]]] | None = None
        self._column_index = {c.key: i for i, c in enumerate(self.columns)}
        self._styles: dict[tuple[str, str, bool], Style] = {}
        self.empty_text = empty
        self._rows: list[Row] = []
        self._by_key: dict[str, Row] = {}
        self._visible: list[tuple[Row, int]] = []
        self._line_of: dict[str, int] = {}
        self._cache: dict[tuple[str, bool, int], Strip] = {}
        self.expanded: set[str] = set()
        self.sort_column: str | None = None
        self.sort_reverse = False
        self.filter_text = ""
        self.selected_key: str | None = None

    # --- data -----------------------------------------------------------------------------

    def set_rows(self, rows: Iterable[Row]) -> None:
        """Replace the rows; repaint only the lines whose content changed."""
        rows = list(rows)
        before = [(r.key, d) for r, d in self._visible]
        changed: set[str] = set()
        by_key = {}
        for row in rows:
            by_key[row.key] = row
            old = self._by_key.get(row.key)
            if (
                old is None
                or old.cells != row.cells
                or old.tone != row.tone
                or _kids(old) != _kids(row)
            ):
                changed.add(row.key)
                changed.update(child.key for child in row.children)
        self._rows = rows
        self._by_key = by_key
        self._layout()
        after = [(r.key, d) for r, d in self._visible]
        if before != after:
            self._cache.clear()
            self.refresh()
        else:
            for y, (row, _) in enumerate(self._visible):
                if row.key in changed:
                    self._drop(row.key)
                    self.refresh_line(y + 1)
        self._settle_cursor()

    def update_rows(self, changed: Iterable[Row], removed: Iterable[str] = ()) -> None:
        """Patch some rows in place: the cost is in the rows that changed, not the table.

        Rows not named keep their place and their cached lines. The table is laid out
        again only when the order or the membership changes (a new or removed row, a sort
        value or a filtered field that moved, legs appearing or going).
        """
        gone = {key for key in removed if key in self._by_key}
        relayout = bool(gone)
        sort_index = self._sort_index()
        dirty: list[Row] = []
        for row in changed:
            old = self._by_key.get(row.key)
            self._by_key[row.key] = row
            if old is None:
                self._rows.append(row)
                relayout = True
                continue
            if (
                old.cells == row.cells
                and old.tone == row.tone
                and old.expandable == row.expandable
                and _kids(old) == _kids(row)
            ):
                continue
            dirty.append(row)
            if (
                (
                    sort_index is not None
                    and _sort_key(old, sort_index) != _sort_key(row, sort_index)
                )
                or (self.filter_text and old.search != row.search)
                or len(old.children) != len(row.children)
            ):
                relayout = True
        if gone:
            self._rows = [r for r in self._rows if r.key not in gone]
            for key in gone:
                del self._by_key[key]
        if dirty and not relayout:
            # Same order: swap the new rows (and their legs) into their lines, and repaint
            # only the lines on screen (``_rows`` order is resolved through ``_by_key``).
            top = int(self.scroll_offset.y)
            bottom = top + max(self.size.height - 1, 0)
            for row in dirty:
                for item in (row, *row.children):
                    line = self._line_of.get(item.key)
                    if line is not None:
                        self._visible[line] = (item, self._visible[line][1])
                        self._drop(item.key)
                        if top <= line < bottom:
                            self.refresh_line(line + 1)
            return
        if relayout:
            self._rows = [self._by_key[r.key] for r in self._rows if r.key in self._by_key]
            self._relayout()

    def _sort_index(self) -> int | None:
        if self.sort_column is None:
            return None
        return next((i for i, c in enumerate(self.columns) if c.key == self.sort_column), None)

    def _layout(self) -> None:
        rows = [self._by_key[r.key] for r in self._rows]
        if self.filter_text:
            needle = self.filter_text.lower()
            rows = [r for r in rows if needle in r.search.lower()]
        index = self._sort_index()
        if index is not None:
            rows = sorted(rows, key=lambda r: _sort_key(r, index), reverse=self.sort_reverse)
        visible: list[tuple[Row, int]] = []
        for row in rows:
            visible.append((row, 0))
            if row.key in self.expanded:
                visible.extend((child, 1) for child in row.children)
        self._visible = visible
        self._line_of = {row.key: line for line, (row, _) in enumerate(visible)}
        self.virtual_size = Size(self._total_width(), len(visible) + 1)

    def _drop(self, key: str) -> None:
        for cursor in (True, False):
            self._cache.pop((key, cursor, self.size.width), None)

    def row_at_cursor(self) -> Row | None:
        if 0 <= self.cursor < len(self._visible):
            return self._visible[self.cursor][0]
        return None

    @property
    def row_count(self) -> int:
        return len(self._visible)

    def select_key(self, key: str) -> None:
        for y, (row, _) in enumerate(self._visible):
            if row.key == key:
                self.cursor = y
                return

    def _settle_cursor(self) -> None:
        """Keep the cursor on the same row key across re-sorts, filters and updates."""
        if self.selected_key is not None:
            for y, (row, _) in enumerate(self._visible):
                if row.key == self.selected_key:
                    if y != self.cursor:
                        self.cursor = y
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
        if reverse is None:
            reverse = (
                not self.sort_reverse
                if key == self.sort_column
                else key not in ("symbol", "strategy")
            )
        self.sort_column, self.sort_reverse = key, reverse
        self._relayout()

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        self._relayout()

    def _relayout(self) -> None:
        self._layout()
        self._cache.clear()
        self.refresh()
        self._settle_cursor()

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

    def watch_cursor(self, old: int, new: int) -> None:
        for y in (old, new):
            if 0 <= y < len(self._visible):
                self._drop(self._visible[y][0].key)
                self.refresh_line(y + 1)
        self._scroll_to_cursor()
        self._announce()

    def _scroll_to_cursor(self) -> None:
        body = max(self.size.height - 1, 1)
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + body:
            self.scroll_to(y=self.cursor - body + 1, animate=False)

    def on_resize(self) -> None:
        self._cache.clear()
        self.virtual_size = Size(self._total_width(), len(self._visible) + 1)

    # --- drawing ---------------------------------------------------------------------------

    def _shown_columns(self) -> list[tuple[Column, int]]:
        """The columns that fit, each with its width: droppable ones go first, flex fills."""
        width = self.size.width or sum(c.width + 1 for c in self.columns)
        if self._fitted is not None and self._fitted[0] == width:
            return self._fitted[1]
        fitted = self._fit_columns(width)
        self._fitted = (width, fitted)
        return fitted

    def _fit_columns(self, width: int) -> list[tuple[Column, int]]:
        shown = list(self.columns)

        def need(columns: list[Column]) -> int:
            return sum(self._width(c) + 1 for c in columns)

        while len(shown) > 1 and need(shown) > width:
            worst = max(shown, key=lambda c: c.drop)
            if worst.drop == 0:
                break
            shown.remove(worst)
        spare = max(width - need(shown), 0)
        return [(c, self._width(c) + (spare if c.flex else 0)) for c in shown]

    def _width(self, column: Column) -> int:
        # Expandable tables keep two cells in the first column for the ▸/▾ marker.
        first = column is self.columns[0] and self.expandable
        return column.width + (2 if first else 0)

    def _total_width(self) -> int:
        return sum(w + 1 for _, w in self._shown_columns())

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x = int(self.scroll_offset.x)
        if y == 0:
            return self._header().crop_extend(
                scroll_x, scroll_x + width, self._style("", "", False)
            )
        index = y - 1 + int(self.scroll_offset.y)
        if not self._visible:
            if index == 0:
                style = self.get_component_rich_style("linetable--empty")
                return Strip([Segment(f" {self.empty_text}", style)]).adjust_cell_length(
                    width, self._style("", "", False)
                )
            return Strip.blank(width, self._style("", "", False))
        if index >= len(self._visible):
            return Strip.blank(width, self._style("", "", False))
        row, depth = self._visible[index]
        at_cursor = index == self.cursor
        key = (row.key, at_cursor, width)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._draw(row, depth, at_cursor)
            self._cache[key] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, self._style("", "", False))

    def _header(self) -> Strip:
        style = self.get_component_rich_style("linetable--header")
        segments = []
        for n, (column, width) in enumerate(self._shown_columns()):
            label = column.label
            if column.key == self.sort_column:
                label = f"{label}{'▼' if self.sort_reverse else '▲'}"
            if n == 0 and self.expandable:
                label = "  " + label
            segments.append(Segment(_fit(label, width, column.align) + " ", style))
        return Strip(segments)

    def _style(self, row_tone: str, cell_tone: str, at_cursor: bool) -> Style:
        """The combined style of a cell, built once per tone mix (and again after a theme
        change): adding Rich styles for every cell of every line is what made drawing slow."""
        key = (row_tone, cell_tone, at_cursor)
        style = self._styles.get(key)
        if style is None:
            style = self.rich_style
            for tone in (row_tone, cell_tone):
                if tone:
                    style += self.get_component_rich_style(f"linetable--{tone}")
            if at_cursor:
                style += self.get_component_rich_style("linetable--cursor")
            self._styles[key] = style
        return style

    def notify_style_update(self) -> None:
        self._styles.clear()
        self._cache.clear()
        super().notify_style_update()

    def _draw(self, row: Row, depth: int, at_cursor: bool) -> Strip:
        index = self._column_index
        segments = []
        for n, (column, width) in enumerate(self._shown_columns()):
            cell = row.cells[index[column.key]] if index[column.key] < len(row.cells) else _BLANK
            text = cell.text
            if n == 0 and self.expandable:
                if depth:
                    marker = "└ "
                elif row.children or row.expandable:
                    marker = "▾ " if row.key in self.expanded else "▸ "
                else:
                    marker = "  "
                text = marker + _fit(text, width - 2, column.align)
            style = self._style(row.tone, cell.tone, at_cursor)
            segments.append(Segment(_fit(text, width, column.align) + " ", style))
        return (
            Strip(segments)
            .adjust_cell_length(self.size.width, self._style("", "", at_cursor))
            .simplify()
        )


_BLANK = Cell("")


def _kids(row: Row) -> list[tuple[Cell, ...]]:
    return [child.cells for child in row.children]


def _sort_key(row: Row, index: int) -> tuple[int, Any]:
    value = row.sort[index] if index < len(row.sort) else row.cells[index].text
    return (1, 0) if value is None else (0, value)


def _fit(text: str, width: int, align: Align) -> str:
    """Pad or cut ``text`` to exactly ``width`` terminal cells (wide glyphs counted)."""
    size = cell_len(text)
    if size > width:
        return (
            set_cell_size(text, max(width - 1, 0)) + "…"
            if width > 1
            else set_cell_size(text, width)
        )
    pad = width - size
    if align == "right":
        return " " * pad + text
    if align == "center":
        return " " * (pad // 2) + text + " " * (pad - pad // 2)
    return text + " " * pad
