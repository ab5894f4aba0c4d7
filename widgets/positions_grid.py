"""Provides the positions grid: every position, its P&L, Greeks and the manager's advice.

Drawn with the line API (see LineTable): a 1,000-row book repaints only the rows that
changed. A position whose marks are stale or invalid carries a text marker, not only a
colour; legs expand under their position with Enter.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.records import Option, PositionLeg, PositionView
from widgets import _format as fmt
from widgets._table import Cell, Column, LineTable, Row

COLUMNS = (
    Column("symbol", "Symbol", 6, "left"),
    Column("strategy", "Strategy", 16, "left", drop=3),
    Column("qty", "Qty", 4),
    Column("dte", "DTE", 4),
    Column("pnl", "P&L $", 8),
    Column("pnl_pct", "P&L %", 7, drop=2),
    Column("delta", "Δ", 5),
    Column("gamma", "Γ", 5, drop=6),
    Column("theta", "Θ/day", 5, drop=4),
    Column("vega", "Vega", 5, drop=5),
    Column("rec", "Recommendation", 12, "left", drop=1, flex=True),
)
SORTABLE = tuple(c.key for c in COLUMNS)
_MARKS = {"stale": "STALE", "invalid": "NO PRICE", "pending": "PRICING…"}


class PositionsGrid(LineTable):
    """The book. Selection (``selected_key``) is what Close and Roll act on."""

    DEFAULT_CSS = """
    PositionsGrid { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, empty="no open positions", expandable=True, id=id)
        self.stale = False
        self._views: dict[str, PositionView] = {}
        self._shown: dict[str, tuple[object, ...]] = {}

    def show(self, positions: Iterable[PositionView], *, stale: bool = False) -> None:
        """Render every position; ``stale`` marks every row (the feed itself went quiet)."""
        self.stale = stale
        self._views = {view.position_id: view for view in positions}
        self._shown = {pid: _shown(view) for pid, view in self._views.items()}
        self.set_rows(self._row(view) for view in self._views.values())

    def update(self, changed: Iterable[PositionView], removed: Iterable[str] = ()) -> None:
        """Apply the positions that changed: rows whose figures on screen are the same are
        not even formatted again, so a tick costs what changed, not the size of the book."""
        rows = []
        for view in changed:
            self._views[view.position_id] = view
            key = _shown(view)
            if self._shown.get(view.position_id) == key and view.position_id not in self.expanded:
                continue
            self._shown[view.position_id] = key
            rows.append(self._row(view))
        gone = [pid for pid in removed if self._views.pop(pid, None) is not None]
        for pid in gone:
            self._shown.pop(pid, None)
        if rows or gone:
            self.update_rows(rows, gone)

    def _row(self, view: PositionView) -> Row:
        return _row(view, self.stale, legs=view.position_id in self.expanded)

    def on_line_table_toggled(self, event: LineTable.Toggled) -> None:
        # Legs are built only for expanded positions: build (or drop) them now.
        view = self._views.get(event.key)
        if view is not None:
            self.update_rows([self._row(view)])

    def cycle_sort(self) -> str:
        """Sort by the next column (descending first for numbers); return its label."""
        keys = list(SORTABLE)
        current = self.sort_column
        following = keys[(keys.index(current) + 1) % len(keys)] if current in keys else keys[0]
        self.sort_by(following)
        return next(c.label for c in COLUMNS if c.key == following)


def _shown(view: PositionView) -> tuple[object, ...]:
    """What the row shows, at the precision it shows it: equal keys mean an equal row."""
    g = view.greeks
    total = None if view.unrealized_pnl is None else round(view.unrealized_pnl + view.realized_pnl)
    rec = view.recommendation
    return (
        view.quantity, view.dte, view.strategy, view.mark_state, view.status, total,
        None if view.pnl_pct is None else round(view.pnl_pct, 3),
        round(g.delta), round(g.gamma, 1), round(g.theta), round(g.vega),
        (rec.action, rec.reason) if rec else None, len(view.legs),
    )  # fmt: skip


def _row(view: PositionView, feed_stale: bool, *, legs: bool = False) -> Row:
    state = "stale" if feed_stale and view.mark_state == "ok" else view.mark_state
    marker = _MARKS.get(state, "")
    pnl = view.unrealized_pnl
    total = None if pnl is None else pnl + view.realized_pnl
    rec = view.recommendation
    advice = f"{rec.action} {rec.reason}" if rec else ""
    if view.status in ("closing", "rolling"):
        advice = f"{view.status.upper()}… {advice}".strip()
    if marker:
        advice = f"{marker} {advice}".strip()
    pnl_tone = "stale" if marker else fmt.tone(total)
    g = view.greeks
    cells = (
        Cell(view.underlying, "strong"),
        Cell(view.strategy),
        Cell(str(view.quantity)),
        Cell(
            fmt.DASH if view.dte is None else str(view.dte),
            "warning" if (view.dte or 99) <= 7 else "",
        ),
        Cell(fmt.money(total, sign=True), pnl_tone),
        Cell(fmt.pct(view.pnl_pct), pnl_tone),
        Cell(fmt.num(g.delta, 0, sign=True)),
        Cell(fmt.num(g.gamma, 1, sign=True)),
        Cell(fmt.num(g.theta, 0, sign=True), fmt.tone(g.theta)),
        Cell(fmt.num(g.vega, 0, sign=True)),
        Cell(advice, _advice_tone(rec.action if rec else "", marker)),
    )
    return Row(
        key=view.position_id,
        cells=cells,
        sort=(
            view.underlying,
            view.strategy,
            view.quantity,
            view.dte,
            total,
            view.pnl_pct,
            g.delta,
            g.gamma,
            g.theta,
            g.vega,
            rec.action if rec else "",
        ),
        search=f"{view.underlying} {view.strategy} {view.position_id}",
        tone="stale" if marker else "",
        children=[_leg(view.position_id, leg) for leg in view.legs] if legs else [],
        expandable=bool(view.legs),
    )


def _advice_tone(action: str, marker: str) -> str:
    if marker:
        return "stale"
    return {"CLOSE": "critical", "ROLL": "warning", "HOLD": "dim"}.get(action, "")


def _leg(position_id: str, leg: PositionLeg) -> Row:
    inst = leg.instrument
    label = inst.describe() if isinstance(inst, Option) else f"{inst.symbol} stock"
    marker = _MARKS.get(leg.mark_state, "")
    g = leg.greeks
    iv = f"  iv {fmt.pct(leg.iv, 0, sign=False)}" if leg.iv else ""
    cells = (
        Cell(""),
        Cell(label),
        Cell(f"{leg.quantity:+d}"),
        Cell(""),
        Cell(fmt.money(leg.unrealized_pnl, sign=True), fmt.tone(leg.unrealized_pnl)),
        Cell(""),
        Cell(fmt.num(g.delta, 0, sign=True)),
        Cell(fmt.num(g.gamma, 1, sign=True)),
        Cell(fmt.num(g.theta, 0, sign=True)),
        Cell(fmt.num(g.vega, 0, sign=True)),
        Cell(
            f"{marker + ' ' if marker else ''}{fmt.price(leg.avg_price)} → "
            f"{fmt.price(leg.mark)}{iv}",
            "stale" if marker else "dim",
        ),
    )
    return Row(key=f"{position_id}/{inst.key}", cells=cells, tone="dim")
