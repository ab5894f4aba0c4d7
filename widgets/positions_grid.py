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
_MARKS = {"stale": "STALE", "invalid": "NO PRICE"}


class PositionsGrid(LineTable):
    """The book. Selection (``selected_key``) is what Close and Roll act on."""

    DEFAULT_CSS = """
    PositionsGrid { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, empty="no open positions", expandable=True, id=id)
        self.stale = False

    def show(self, positions: Iterable[PositionView], *, stale: bool = False) -> None:
        """Render the positions; ``stale`` marks every row (the feed itself went quiet)."""
        self.stale = stale
        self.set_rows(_row(view, stale) for view in positions)

    def cycle_sort(self) -> str:
        """Sort by the next column (descending first for numbers); return its label."""
        keys = list(SORTABLE)
        current = self.sort_column
        following = keys[(keys.index(current) + 1) % len(keys)] if current in keys else keys[0]
        self.sort_by(following)
        return next(c.label for c in COLUMNS if c.key == following)


def _row(view: PositionView, feed_stale: bool) -> Row:
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
        children=[_leg(view.position_id, leg) for leg in view.legs],
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
