"""Provides the approve preview: what approving a proposal sends, for its confirm modal.

The order as the engine will place it (each leg, bought or sold, how many), the limit,
the engine's max profit and loss, and the book's Greeks the order would add to.
"""

from __future__ import annotations

from textual.markup import escape

from engine.records import Option, PortfolioSummary, Proposal
from widgets import _format as fmt


def approve_body(proposal: Proposal, portfolio: PortfolioSummary | None) -> str:
    """Markup for the confirm modal; every engine string is escaped."""
    limit = proposal.limit
    price = (
        "no limit: works from mid"
        if limit is None
        else f"limit {abs(limit):.2f} {'credit' if limit < 0 else 'debit'} per unit"
    )
    lines = [
        f"[b]Sends an opening order[/]: {escape(proposal.symbol)} "
        f"{escape(proposal.strategy)} ×{proposal.quantity}, {price}",
    ]
    for leg in proposal.legs:
        inst = leg.instrument
        name = inst.describe() if isinstance(inst, Option) else f"{inst.symbol} stock"
        side = "buy " if leg.ratio > 0 else "sell"
        lines.append(f"  {side} {abs(leg.ratio) * proposal.quantity:>4}  {escape(name)}")
    lines.append(
        f"max profit {fmt.money(proposal.max_profit)} · "
        f"[b]max loss {fmt.money(proposal.max_loss)}[/] · "
        f"POP {fmt.pct(proposal.probability_of_profit, 0, sign=False)} · "
        f"EV {fmt.money(proposal.expected_value, sign=True)}"
    )
    if portfolio is not None:
        g = portfolio.greeks
        lines.append(
            f"book Greeks now: Δ {fmt.num(g.delta, 0, sign=True)}  "
            f"Γ {fmt.num(g.gamma, 1, sign=True)}  Θ {fmt.num(g.theta, 0, sign=True)}  "
            f"V {fmt.num(g.vega, 0, sign=True)}"
        )
    lines.append("[$text-muted]the engine publishes no Greeks for a proposal's own legs[/]")
    if proposal.rationale:
        lines.append(f"why: {escape(proposal.rationale)}")
    return "\n".join(lines)
