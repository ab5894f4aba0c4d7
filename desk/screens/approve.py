"""Provides the approve preview: what approving a proposal sends, for its confirm modal.

The order as the engine will place it (each leg, bought or sold, how many), the limit and
the engine's estimate of the fill, its max profit and loss, and the Greeks it adds: the
order's own and the book's before → after, all from the engine's preview.
"""

from __future__ import annotations

from textual.markup import escape

from engine.records import Greeks, Option, Proposal, ProposalPreview
from widgets import _format as fmt


def approve_body(proposal: Proposal, preview: ProposalPreview | None, problem: str = "") -> str:
    """Markup for the confirm modal; every engine string is escaped. ``problem`` says why
    there is no preview (the engine could not price it, or did not answer)."""
    limit = proposal.limit
    price = "no limit: works from mid" if limit is None else f"limit {_side(limit)} per unit"
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
    if preview is None:
        lines.append(f"[$warning]no preview from the engine: {escape(problem)}[/]")
    else:
        if preview.estimated_fill is None:
            lines.append(f"[$critical]no price: {escape(preview.message or preview.mark_state)}[/]")
        else:
            stale = "  [i $stale]STALE[/]" if preview.mark_state == "stale" else ""
            lines.append(
                f"estimated fill [b]{_side(preview.estimated_fill)}[/] per unit "
                f"(mid {_side(preview.mid)}, natural {_side(preview.natural)}){stale}"
            )
        lines.append(_greeks("Order", preview.greeks))
        before, after = preview.portfolio_greeks_before, preview.portfolio_greeks_after
        lines.append(
            f"Book  Δ {_pair(before.delta, after.delta)}   Γ {_pair(before.gamma, after.gamma, 1)}"
            f"   Θ {_pair(before.theta, after.theta)}   V {_pair(before.vega, after.vega)}"
        )
    if proposal.rationale:
        lines.append(f"why: {escape(proposal.rationale)}")
    return "\n".join(lines)


def _side(net: float | None) -> str:
    """A signed combo price as a trader says it: 1.25 credit, 0.80 debit."""
    if net is None:
        return fmt.DASH
    return f"{abs(net):.2f} {'credit' if net < 0 else 'debit'}"


def _pair(before: float, after: float, decimals: int = 0) -> str:
    return f"{fmt.num(before, decimals, sign=True)} → {fmt.num(after, decimals, sign=True)}"


def _greeks(name: str, g: Greeks) -> str:
    return (
        f"{name} Δ {fmt.num(g.delta, 0, sign=True)}   Γ {fmt.num(g.gamma, 1, sign=True)}   "
        f"Θ {fmt.num(g.theta, 0, sign=True)}   V {fmt.num(g.vega, 0, sign=True)}"
    )
