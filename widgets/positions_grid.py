"""Provides the positions grid: every position, its P&L, Greeks and the manager's advice.

Drawn with the line API (see LineTable): a tick that republishes the whole book costs a
light row per position; only rows on screen are formatted, compared and repainted.

P&L $ and P&L % are the engine's own pair on one basis: ``unrealized_pnl`` and
``pnl_pct`` (the open legs against their cost basis), so they always agree in sign. What
a roll or a partial close realized is the engine's ``realized_pnl``, shown on a line of
its own when the position is expanded; adding it into the $ column would leave the %
on another basis. A position whose marks are stale or invalid carries a text marker, not
only a colour. The recommendation's action word is never cut; Enter shows its full
reason above the legs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from engine.records import Option, PositionLeg, PositionView
from widgets import _format as fmt
from widgets._table import Cell, Column, LineTable, Row

COLUMNS = (
    Column("symbol", "Symbol", 6, "left", short="Sym"),
    Column("strategy", "Strategy", 16, "left", drop=5),
    Column("qty", "Qty", 4),
    Column("dte", "DTE", 4),
    Column("pnl", "P&L $", 8),
    Column("pnl_pct", "P&L %", 7, drop=3),
    Column("delta", "Δ", 5, drop=2),
    Column("gamma", "Γ", 5, drop=8),
    Column("theta", "Θ/day", 5, drop=6, short="Θ"),
    Column("vega", "Vega", 5, drop=7),
    # Never dropped, and at least as wide as the longest action word plus a space.
    Column("rec", "Recommendation", 12, "left", flex=True, short="Advice"),
)
SORTABLE = tuple(c.key for c in COLUMNS)
_MARKS = {"stale": "STALE", "invalid": "NO PRICE", "pending": "PRICING…"}
_URGENCY = {"CLOSE": 0, "ROLL": 1, "HOLD": 2}
"""Sorting on the recommendation puts what needs doing first."""
_ADVICE_TONES = {"CLOSE": "critical", "ROLL": "warning", "HOLD": "dim"}
_BLANK = Cell("")


class PositionsGrid(LineTable):
    """The book. Selection (``selected_key``) is what Close and Roll act on."""

    DEFAULT_CSS = """
    PositionsGrid { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        # Until the engine's first snapshot, an empty grid means "not known yet", not "flat".
        super().__init__(COLUMNS, empty="waiting for the engine…", expandable=True, id=id)
        self.stale = False
        self._views: dict[str, PositionView] = {}

    def show(self, positions: Iterable[PositionView], *, stale: bool = False) -> None:
        """Render every position; ``stale`` marks every row (the feed itself went quiet)."""
        self.stale = stale
        self.empty_text = "no open positions"
        self._views = {view.position_id: view for view in positions}
        self.set_rows([self._row(view) for view in self._views.values()])

    def update(self, changed: Iterable[PositionView], removed: Iterable[str] = ()) -> None:
        """Apply the positions that changed. Rows are built light (cells are formatted
        only if the row is on screen), so a tick costs the rows shown, not the book."""
        views = self._views
        rows = []
        for view in changed:
            views[view.position_id] = view
            rows.append(self._row(view))
        gone = [pid for pid in removed if views.pop(pid, None) is not None]
        if rows or gone:
            self.update_rows(rows, gone)

    def _row(self, view: PositionView) -> Row:
        state = "stale" if self.stale and view.mark_state == "ok" else view.mark_state
        marker = _MARKS.get(state, "")
        if view.position_id not in self.expanded:
            return _PositionRow(view, marker, [])
        labels = "strategy" in self.shown_keys()
        return _PositionRow(view, marker, _children(view, marker, labels))

    def on_line_table_toggled(self, event: LineTable.Toggled) -> None:
        # Legs are built only for expanded positions: build (or drop) them now.
        view = self._views.get(event.key)
        if view is not None:
            self.update_rows([self._row(view)])

    def cycle_sort(self) -> str:
        """Sort by the next column (numbers high first, words A to Z); return its label."""
        keys = list(SORTABLE)
        current = self.sort_column
        following = keys[(keys.index(current) + 1) % len(keys)] if current in keys else keys[0]
        column = COLUMNS[keys.index(following)]
        self.sort_by(following, column.align == "right")
        return column.label

    def sort_by(self, key: str | None, reverse: bool | None = None) -> None:
        super().sort_by(key, reverse)  # reverse_sort() comes here too
        self._show_sort()

    def on_resize(self) -> None:
        self._show_sort()  # the sort column may have been hidden or shown by the width
        # The legs' labels move with the Strategy column: build them again for this width.
        rows = [self._row(self._views[key]) for key in self.expanded if key in self._views]
        if rows:
            self.update_rows(rows)

    def _show_sort(self) -> None:
        unsorted = self.sort_column is None and not self.sort_reverse
        self.border_subtitle = "" if unsorted else self.sort_description()


class _PositionRow(Row):
    """A position's line: built in a few assignments per tick, formatted only if shown."""

    __slots__ = ("marker", "view")

    def __init__(self, view: PositionView, marker: str, children: list[Row]) -> None:
        # Not Row.__init__: this runs for every position on every tick, so it sets only
        # what the table reads; sort and search are worked out if and when asked for.
        self.key = view.position_id
        self.view = view
        self.marker = marker
        self.tone = "stale" if marker else ""
        self.children = children
        self.expandable = bool(view.legs) or view.recommendation is not None
        self.span = False
        self.strip = None
        self._cells = None

    def _build(self) -> tuple[Cell, ...]:
        return _cells(self.view, self.marker)

    @property
    def sort(self) -> tuple[Any, ...]:
        return tuple(value(self.view) for value in _SORT_VALUES)

    @property
    def search(self) -> str:
        view = self.view
        return f"{view.underlying} {view.strategy} {view.position_id}"

    def sort_value(self, index: int) -> Any:
        return _SORT_VALUES[index](self.view)


def _urgency(view: PositionView) -> int:
    rec = view.recommendation
    return _URGENCY.get(rec.action, 3) if rec else 3


_SORT_VALUES: tuple[Callable[[PositionView], Any], ...] = (
    lambda v: v.underlying,
    lambda v: v.strategy,
    lambda v: v.quantity,
    lambda v: v.dte,
    lambda v: v.unrealized_pnl,
    lambda v: v.pnl_pct,
    lambda v: v.greeks.delta,
    lambda v: v.greeks.gamma,
    lambda v: v.greeks.theta,
    lambda v: v.greeks.vega,
    _urgency,
)
"""What each column sorts on, in COLUMNS order: the engine's numbers, not their text."""


def _cells(view: PositionView, marker: str) -> tuple[Cell, ...]:
    pnl = view.unrealized_pnl
    pnl_tone = "stale" if marker else fmt.tone(pnl)
    rec = view.recommendation
    g = view.greeks
    return (
        Cell(view.underlying, "strong"),
        Cell(view.strategy),
        Cell(str(view.quantity)),
        Cell(
            fmt.DASH if view.dte is None else str(view.dte),
            "warning" if (view.dte or 99) <= 7 else "",
        ),
        Cell(fmt.money(pnl, sign=True), pnl_tone),
        Cell(fmt.pct(view.pnl_pct), pnl_tone),
        Cell(fmt.num(g.delta, 0, sign=True)),
        Cell(fmt.num(g.gamma, 1, sign=True)),
        Cell(fmt.num(g.theta, 0, sign=True), fmt.tone(g.theta)),
        Cell(fmt.num(g.vega, 0, sign=True)),
        Cell(_advice(view, marker), _advice_tone(rec.action if rec else "", marker)),
    )


def _advice(view: PositionView, marker: str) -> str:
    """The action word first (padded, so reasons line up), then what the trader must know
    about the row (its marks, an order working on it), then the reason."""
    rec = view.recommendation
    words = [f"{rec.action if rec else fmt.DASH:<5}"]
    if marker:
        words.append(marker)
    if view.status in ("closing", "rolling"):
        words.append(f"{view.status.upper()}…")
    if rec:
        words.append(rec.reason)
    return " ".join(words).rstrip()


def _advice_tone(action: str, marker: str) -> str:
    return "stale" if marker else _ADVICE_TONES.get(action, "")


def _children(view: PositionView, marker: str, labels: bool) -> list[Row]:
    """What Enter shows under a position: the full advice, the legs, the realized P&L.

    ``labels``: the Strategy column shows, so what a line is (a leg's contract, "realized")
    goes there; else it leads the recommendation column, which always shows.
    """
    pid = view.position_id
    rec = view.recommendation
    rows = []
    if rec is not None or marker or view.status != "open":
        text = _advice(view, marker) + (f"  ({rec.agent})" if rec else "")
        tone = _advice_tone(rec.action if rec else "", marker)
        rows.append(Row(f"{pid}/advice", (Cell(text, tone),), span=True, tone="dim"))
    rows += [_leg(pid, leg, labels) for leg in view.legs]
    if view.realized_pnl:
        amount = Cell(fmt.money(view.realized_pnl, sign=True), fmt.tone(view.realized_pnl))
        rows.append(_child(f"{pid}/realized", "realized (closed legs)", labels, {"pnl": amount}))
    return rows


def _leg(position_id: str, leg: PositionLeg, labels: bool) -> Row:
    inst = leg.instrument
    label = inst.describe() if isinstance(inst, Option) else f"{inst.symbol} stock"
    marker = _MARKS.get(leg.mark_state, "")
    g = leg.greeks
    iv = f"  iv {fmt.pct(leg.iv, 0, sign=False)}" if leg.iv else ""
    marks = f"{fmt.price(leg.avg_price)} → {fmt.price(leg.mark)}{iv}"
    cells = {
        "qty": Cell(f"{leg.quantity:+d}"),
        "pnl": Cell(fmt.money(leg.unrealized_pnl, sign=True), fmt.tone(leg.unrealized_pnl)),
        "delta": Cell(fmt.num(g.delta, 0, sign=True)),
        "gamma": Cell(fmt.num(g.gamma, 1, sign=True)),
        "theta": Cell(fmt.num(g.theta, 0, sign=True)),
        "vega": Cell(fmt.num(g.vega, 0, sign=True)),
        "rec": Cell(f"{marker} {marks}".lstrip(), "stale" if marker else "dim"),
    }
    return _child(f"{position_id}/{inst.key}", label, labels, cells)


def _child(key: str, label: str, labels: bool, cells: dict[str, Cell]) -> Row:
    """A line under a position: ``cells`` by column key, ``label`` saying what it is."""
    if labels:
        cells["strategy"] = Cell(label)
    else:
        rest = cells.get("rec", _BLANK)
        cells["rec"] = Cell(f"{label}  {rest.text}".rstrip(), rest.tone)
    return Row(key, tuple(cells.get(c.key, _BLANK) for c in COLUMNS), tone="dim")
