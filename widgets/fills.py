"""Provides the recent fills pane: what traded, at what net price and commission."""

from __future__ import annotations

from collections.abc import Iterable

from engine.records import Fill
from widgets import _format as fmt
from widgets._table import Cell, Column, LineTable, Row

COLUMNS = (
    Column("time", "Time", 8, "left"),
    Column("position", "Position", 9, "left", flex=True),
    Column("intent", "Action", 7, "left"),
    Column("qty", "Qty", 4),
    Column("price", "Net", 9),
    Column("commission", "Comm", 6, drop=1),
    Column("source", "Source", 8, "left", drop=2),
)


class RecentFills(LineTable):
    def __init__(self, *, limit: int = 50, id: str | None = None) -> None:
        super().__init__(COLUMNS, empty="no fills yet", id=id)
        self.limit = limit

    def show(self, fills: Iterable[Fill]) -> None:
        newest = sorted(fills, key=lambda f: f.ts, reverse=True)[: self.limit]
        self.set_rows(_row(f) for f in newest)


def _row(fill: Fill) -> Row:
    net = fill.net_price
    amount = fmt.compact(abs(net)) if abs(net) >= 10_000 else f"{abs(net):,.2f}"
    price = f"{amount} {'cr' if net < 0 else 'db'}"
    return Row(
        key=fill.fill_id,
        cells=(
            Cell(fmt.clock(fill.ts)),
            Cell(fill.position_id, "strong"),
            Cell(fill.intent),
            Cell(str(fill.quantity)),
            Cell(price),
            Cell(fmt.num(fill.commission, 2)),
            Cell(fill.source, "dim"),
        ),
        search=f"{fill.position_id} {fill.intent}",
    )
