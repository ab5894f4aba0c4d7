"""Provides the proposals pane: what the agents want to trade, awaiting approve / reject."""

from __future__ import annotations

from collections.abc import Iterable

from engine.records import Option, Proposal
from widgets import _format as fmt
from widgets._table import Cell, Column, LineTable, Row

COLUMNS = (
    Column("symbol", "Sym", 5, "left"),
    Column("strategy", "Proposal", 12, "left", flex=True),
    Column("price", "Price", 10),
    Column("max_profit", "Max P", 7, drop=2),
    Column("max_loss", "Max L", 7, drop=2),
    Column("pop", "POP", 4, drop=1),
    Column("ev", "EV", 6, drop=3),
    Column("status", "Status", 9, "left"),
)
STATUS_TONES = {
    "pending": "accent",
    "approved": "up",
    "executed": "up",
    "rejected": "dim",
    "expired": "dim",
    "failed": "critical",
}


class ProposalsPane(LineTable):
    """Pending proposals first; ``a`` approves and ``x`` rejects the one under the cursor."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            COLUMNS,
            empty="no proposals: agents propose from confident signals",
            expandable=True,
            id=id,
        )

    def show(self, proposals: Iterable[Proposal]) -> None:
        ordered = sorted(proposals, key=lambda p: (p.status != "pending", -p.ts))
        self.set_rows(_row(p) for p in ordered[:100])


def _row(proposal: Proposal) -> Row:
    limit = proposal.limit
    price = fmt.DASH
    if limit is not None:
        price = f"{abs(limit):.2f} {'cr' if limit < 0 else 'db'}"
    children = [
        Row(
            key=f"{proposal.proposal_id}/{i}",
            tone="dim",
            cells=(Cell(""), Cell(f"{leg.ratio:+d} {_label(leg.instrument)}")),
        )
        for i, leg in enumerate(proposal.legs)
    ]
    children.append(
        Row(
            key=f"{proposal.proposal_id}/why",
            tone="dim",
            cells=(
                Cell(""),
                Cell(proposal.rationale + (f" — {proposal.reason}" if proposal.reason else "")),
            ),
        )
    )
    return Row(
        key=proposal.proposal_id,
        cells=(
            Cell(proposal.symbol, "strong"),
            Cell(proposal.strategy),
            Cell(price),
            Cell(fmt.money(proposal.max_profit)),
            Cell(fmt.money(proposal.max_loss)),
            Cell(fmt.pct(proposal.probability_of_profit, 0, sign=False)),
            Cell(fmt.money(proposal.expected_value, sign=True), fmt.tone(proposal.expected_value)),
            Cell(proposal.status, STATUS_TONES.get(proposal.status, "")),
        ),
        search=f"{proposal.symbol} {proposal.strategy} {proposal.status}",
        tone="" if proposal.status == "pending" else "dim",
        children=children,
    )


def _label(instrument: object) -> str:
    return (
        instrument.describe()
        if isinstance(instrument, Option)
        else str(getattr(instrument, "symbol", "?"))
    )
