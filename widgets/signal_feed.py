"""Provides the signal feed: newest first, with the inputs and votes behind each signal."""

from __future__ import annotations

from collections.abc import Iterable

from engine.records import Signal
from widgets import _format as fmt
from widgets._table import Cell, Column, LineTable, Row

COLUMNS = (
    Column("time", "Time", 5, "left"),
    Column("symbol", "Sym", 4, "left"),
    Column("direction", "Dir", 6, "left"),
    Column("confidence", "Conf", 4),
    Column("kind", "Type", 11, "left", drop=3),
    Column("status", "Status", 8, "left", drop=2),
    Column("description", "Signal", 8, "left", drop=1, flex=True),
)
DIRECTIONS = {
    "bullish": ("▲ bull", "up"),
    "bearish": ("▼ bear", "down"),
    "neutral": ("◆ flat", "dim"),
}
STATUS_TONES = {
    "new": "accent",
    "proposed": "strong",
    "approved": "up",
    "rejected": "dim",
    "executed": "up",
    "phantom": "dim",
}


class SignalFeed(LineTable):
    """Bounded to ``limit`` rows; Enter shows why a signal fired."""

    def __init__(self, *, limit: int = 200, id: str | None = None) -> None:
        super().__init__(
            COLUMNS, empty="no signals yet: scanners run on their schedule", expandable=True, id=id
        )
        self.limit = limit

    def show(self, signals: Iterable[Signal]) -> None:
        newest = sorted(signals, key=lambda s: s.ts, reverse=True)[: self.limit]
        self.set_rows(_row(s) for s in newest)


def _row(signal: Signal) -> Row:
    arrow, tone = DIRECTIONS.get(signal.direction, ("?", ""))
    children = [
        Row(
            key=f"{signal.signal_id}/{name}",
            cells=(
                Cell(""),
                Cell(""),
                Cell(""),
                Cell(""),
                Cell(""),
                Cell(""),
                Cell(f"{name} = {fmt.num(value, 2)}"),
            ),
            tone="dim",
        )
        for name, value in sorted(signal.inputs.items())
    ]
    children += [
        Row(
            key=f"{signal.signal_id}/vote/{vote.agent}",
            cells=(
                Cell(""),
                Cell(""),
                Cell(""),
                Cell(""),
                Cell(""),
                Cell(""),
                Cell(
                    f"vote {vote.agent}: {vote.direction} {vote.confidence:.0%} "
                    f"× weight {vote.weight:.2f}"
                ),
            ),
            tone="dim",
        )
        for vote in signal.votes
    ]
    return Row(
        key=signal.signal_id,
        cells=(
            Cell(fmt.clock(signal.ts, seconds=False)),
            Cell(signal.symbol, "strong"),
            Cell(arrow, tone),
            Cell(f"{signal.confidence:.0%}"),
            Cell(signal.kind),
            Cell(signal.status, STATUS_TONES.get(signal.status, "")),
            Cell(signal.description),
        ),
        search=f"{signal.symbol} {signal.kind} {signal.description} {signal.status}",
        children=children,
    )
