"""Provides what a LineTable holds and the rules it lays lines out by: columns, cells
and rows; which columns fit a width; sorting; the text of a header or a body line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip

Align = Literal["left", "right", "center"]
UP, DOWN = "▲", "▼"


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
    short: str = ""
    """The header shown when ``label`` and its sort arrow do not fit."""


class Cell(NamedTuple):
    """A cell's text and tone. A tuple: made and compared in C, which a table that
    formats and compares thousands of cells a second notices (a frozen dataclass is
    several times slower to make)."""

    text: str
    tone: str = ""


class Row:
    """One line: its cells, what it sorts and filters on, and its child lines (legs).

    A subclass may make its cells on first use (override ``_build``, ``sort`` and
    ``search``): the table asks for cells only of rows it draws or compares on screen, so
    a tick touching every row of a big book formats only the rows that show.
    """

    __slots__ = (
        "_cells", "_search", "_sort", "children", "expandable", "key", "span", "strip",
        "tone",
    )  # fmt: skip

    def __init__(
        self,
        key: str,
        cells: tuple[Cell, ...] | None = None,
        *,
        sort: tuple[Any, ...] = (),
        search: str = "",
        tone: str = "",
        children: list[Row] | None = None,
        expandable: bool = False,
        span: bool = False,
    ) -> None:
        self.key = key
        self._cells = cells
        self._sort = sort
        self._search = search
        self.tone = tone
        self.children = children if children is not None else []
        self.expandable = expandable
        """Has children to show, built only when expanded (they may be costly to make)."""
        self.span = span
        """One text (the first cell) across the whole width: a note under its parent."""
        self.strip: tuple[tuple[Any, ...], Strip] | None = None
        """The line as last drawn off the cursor, with what it was drawn for."""

    @property
    def cells(self) -> tuple[Cell, ...]:
        if self._cells is None:
            self._cells = self._build()
        return self._cells

    def _build(self) -> tuple[Cell, ...]:
        return ()

    @property
    def sort(self) -> tuple[Any, ...]:
        return self._sort

    @property
    def search(self) -> str:
        return self._search

    def sort_value(self, index: int) -> Any:
        sort = self.sort
        return sort[index] if index < len(sort) else self.cells[index].text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.key!r})"


BLANK = Cell("")
Fitted = list[tuple[Column, int, int]]
"""The columns shown at a width, each with the cells it takes and its index in the row."""


class ToneStyles(dict[str, Style]):
    """Cell tone → style, for one row tone: each built (by ``build``) when first asked."""

    def __init__(self, build: Callable[[str], Style]) -> None:
        super().__init__()
        self.build = build

    def __missing__(self, tone: str) -> Style:
        style = self[tone] = self.build(tone)
        return style


def fit_columns(columns: list[Column], width: int, marker: int) -> Fitted:
    """Hide the most droppable columns until the rest fit, then bring back any hidden
    one that fits in what is left; the flex column takes the spare. The first column
    is ``marker`` cells wider (the ▸/▾ of an expandable table)."""

    def wide(column: Column) -> int:
        return column.width + (marker if column is columns[0] else 0)

    def need(shown: list[Column]) -> int:
        return sum(wide(c) + 1 for c in shown)

    shown = list(columns)
    hidden: list[Column] = []
    while len(shown) > 1 and need(shown) > width:
        worst = max(shown, key=lambda c: c.drop)
        if worst.drop == 0:
            break
        shown.remove(worst)
        hidden.append(worst)
    for column in reversed(hidden):
        if need(shown) + wide(column) + 1 <= width:
            shown.append(column)
    shown.sort(key=columns.index)
    spare = max(width - need(shown), 0)
    return [(c, wide(c) + (spare if c.flex else 0), columns.index(c)) for c in shown]


def header_label(column: Column, room: int, arrow: str) -> str:
    """The column's header with its sort arrow in ``room`` cells: the label, else the
    short label, else the label cut; the arrow is never the part cut off."""
    for label in (column.label, column.short):
        if label and cell_len(label) + len(arrow) <= room:
            return label + arrow
    return fit_text(column.short or column.label, room - len(arrow), "left").rstrip() + arrow


def header_text(shown: Fitted, sort_column: str | None, arrow: str, marker: bool) -> str:
    """The header line: each label, the sort column's with ``arrow``. ``marker``: the first
    column keeps two cells for the ▸/▾ of an expandable table."""
    parts = []
    for n, (column, wide, _) in enumerate(shown):
        mark = arrow if column.key == sort_column else ""
        lead = "  " if n == 0 and marker else ""
        label = header_label(column, wide - len(lead), mark)
        if lead and not label.startswith(column.label):
            # The ▸ slot has a cell to spare for a full label: " Symbol▲", not "Sym▲".
            lead, label = " ", header_label(column, wide - 1, mark)
        parts.append(fit_text(lead + label, wide, column.align) + " ")
    return "".join(parts)


def cell_segments(
    cells: tuple[Cell, ...], shown: Fitted, styles: Mapping[str, Style], marker: str
) -> list[Segment]:
    """A body line's segments: each shown cell fitted to its column in the style of its
    tone (``styles``), neighbouring cells of one style in one segment; ``marker`` (▸, └)
    leads the first column."""
    segments: list[Segment] = []
    run: list[str] = []
    run_style: Style | None = None
    count = len(cells)
    for n, (column, wide, index) in enumerate(shown):
        text, tone = cells[index] if index < count else BLANK
        align = column.align
        if n == 0 and marker:
            text = marker + fit_text(text, wide - len(marker), align)
        style = styles[tone]
        if style is not run_style:
            if run:
                segments.append(Segment("".join(run), run_style))
            run, run_style = [], style
        # The common case (ASCII that fits) without measuring cells one by one.
        if len(text) <= wide and text.isascii() and align != "center":
            run.append(text.ljust(wide) if align == "left" else text.rjust(wide))
        else:
            run.append(fit_text(text, wide, align))
        run.append(" ")
    if run:
        segments.append(Segment("".join(run), run_style))
    return segments


def line_regions(lines: list[int], width: int) -> list[Region]:
    """Ascending line numbers as regions ``width`` wide, one per run of neighbours."""
    regions, start, end = [], lines[0], lines[0]
    for y in lines[1:]:
        if y != end + 1:
            regions.append(Region(0, start, width, end - start + 1))
            start = y
        end = y
    regions.append(Region(0, start, width, end - start + 1))
    return regions


def make_strip(segments: list[Segment], used: int, width: int, pad: Style) -> Strip:
    """``used`` cells of segments as a strip of exactly ``width`` cells, built once (no
    adjust or simplify pass: each makes another strip, and strips are not cheap)."""
    if used < width:
        segments.append(Segment(" " * (width - used), pad))
    elif used > width:
        return Strip(segments, used).crop(0, width)
    return Strip(segments, width)


def same_face(old: Row, new: Row) -> bool:
    """Two rows (old drawn, new to draw) that draw the same line."""
    return (
        old.key == new.key
        and old.tone == new.tone
        and old.span == new.span
        and old.cells == new.cells
    )


def keys_of(row: Row) -> list[str]:
    return [child.key for child in row.children]


def sort_key(row: Row, index: int) -> Any:
    value = row.sort_value(index)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def sorted_rows(rows: list[Row], index: int, reverse: bool) -> list[Row]:
    """Rows by column ``index``; rows without a value go last either way round."""
    keyed = [(sort_key(row, index), row) for row in rows]
    known = [pair for pair in keyed if pair[0] is not None]
    known.sort(key=lambda pair: pair[0], reverse=reverse)
    return [row for _, row in known] + [row for key, row in keyed if key is None]


def fit_text(text: str, width: int, align: Align) -> str:
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
