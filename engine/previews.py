"""Provides the engine's answers for confirm dialogs: close and approve previews, and
roll candidates.

The app shows these and never computes them: a close preview (legs, estimated fill, the
position's and the whole book's Greeks before and after), an approve preview (the same
for the order a proposal would open) and roll candidates (expiry × strikes, net credit
or debit at mid, credit per extra day, Greeks change).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

import numpy as np

from engine.combo import quote_combo, round_tick
from engine.orders import Refusal, RollPlan, position_legs, rolled_legs
from engine.records import (
    ClosePreview,
    Greeks,
    Leg,
    MarkState,
    Option,
    ProposalPreview,
    RollCandidate,
)

if TYPE_CHECKING:
    from engine.engine import Engine
    from engine.portfolio import PositionState

_STATES: tuple[MarkState, ...] = ("ok", "stale", "invalid")


def _legs_greeks(engine: Engine, legs: list[Leg], units: int) -> Greeks:
    """Greeks of ``units`` of a structure, in position units.

    A leg without a valid mark or spot is left out, as the valuation leaves it out of the
    Greeks pane, so a preview's "before" reads what the pane reads.
    """
    options = [leg for leg in legs if isinstance(leg.instrument, Option)]
    totals = dict.fromkeys(("delta", "gamma", "theta", "vega", "rho"), 0.0)
    dollar_delta = dollar_gamma = 0.0
    if options:
        marks = engine.market.option_marks(
            [leg.instrument for leg in options if isinstance(leg.instrument, Option)]
        )
        scale = np.array([leg.ratio * units * leg.instrument.multiplier for leg in options], float)
        spot = marks.underlying_price
        ok = (marks.state < 2) & np.isfinite(marks.delta) & np.isfinite(spot)
        for name in totals:
            totals[name] = float(
                np.sum(np.where(ok, scale * np.nan_to_num(getattr(marks, name)), 0))
            )
        spot = np.nan_to_num(spot)
        dollar_delta = float(np.sum(np.where(ok, scale * np.nan_to_num(marks.delta) * spot, 0)))
        dollar_gamma = float(
            np.sum(np.where(ok, scale * np.nan_to_num(marks.gamma) * spot**2 * 0.01, 0))
        )
    for leg in legs:
        if not isinstance(leg.instrument, Option):
            quote = engine.market.quote(leg.instrument.symbol)
            if quote is None or quote.mid is None or not math.isfinite(quote.mid):
                continue
            shares = leg.ratio * units * leg.instrument.multiplier
            totals["delta"] += shares
            dollar_delta += shares * quote.mid
    return Greeks(**totals, dollar_delta=dollar_delta, dollar_gamma=dollar_gamma)


def _minus(a: Greeks, b: Greeks) -> Greeks:
    return Greeks(
        delta=a.delta - b.delta,
        gamma=a.gamma - b.gamma,
        theta=a.theta - b.theta,
        vega=a.vega - b.vega,
        rho=a.rho - b.rho,
        dollar_delta=a.dollar_delta - b.dollar_delta,
        dollar_gamma=a.dollar_gamma - b.dollar_gamma,
    )


def _plus(a: Greeks, b: Greeks) -> Greeks:
    return Greeks(
        delta=a.delta + b.delta,
        gamma=a.gamma + b.gamma,
        theta=a.theta + b.theta,
        vega=a.vega + b.vega,
        rho=a.rho + b.rho,
        dollar_delta=a.dollar_delta + b.dollar_delta,
        dollar_gamma=a.dollar_gamma + b.dollar_gamma,
    )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def book_greeks(engine: Engine) -> Greeks:
    """Every open position's Greeks, summed: one market call for the whole book."""
    legs = [
        Leg(instrument=leg.instrument, ratio=leg.quantity)
        for position in engine.book.open_positions()
        for leg in position.open_legs
    ]
    return _legs_greeks(engine, legs, 1)


def _open(engine: Engine, position_id: str) -> PositionState:
    position = engine.book.positions.get(position_id)
    if position is None or position.closed_at is not None:
        raise Refusal("POSITION_NOT_FOUND", f"no open position {position_id}")
    return position


def _estimated_fill(engine: Engine, mid: float, natural: float) -> float:
    """Where the paper broker's walk from mid toward natural is likely to fill."""
    threshold = engine.config.broker.paper.fill_threshold
    return round_tick(mid + threshold * (natural - mid))


def proposal_preview(engine: Engine, proposal_id: str) -> ProposalPreview:
    """The order approving ``proposal_id`` would send: its price, its Greeks and the
    book's Greeks before and after it fills."""
    proposal = engine.proposals.get(proposal_id)
    if proposal is None:
        raise Refusal("PROPOSAL_NOT_FOUND", f"no proposal {proposal_id}")
    if proposal.status != "pending":
        raise Refusal("PROPOSAL_NOT_PENDING", f"proposal {proposal_id} is {proposal.status}")
    legs = list(proposal.legs)
    quote = quote_combo(legs, engine.market, engine.now(), engine.stale_ns)
    opened = _legs_greeks(engine, legs, proposal.quantity)
    before = book_greeks(engine)
    priced = quote.state < 2 and math.isfinite(quote.mid)
    return ProposalPreview(
        proposal_id=proposal_id,
        quantity=proposal.quantity,
        mid=_finite(quote.mid),
        natural=_finite(quote.natural),
        estimated_fill=_estimated_fill(engine, quote.mid, quote.natural) if priced else None,
        greeks=opened,
        portfolio_greeks_before=before,
        portfolio_greeks_after=_plus(before, opened),
        mark_state=_STATES[quote.state],
        message=quote.reason,
    )


def close_preview(
    engine: Engine, position_id: str, quantity: int | None = None, limit: float | None = None
) -> ClosePreview:
    position = _open(engine, position_id)
    units = position.units
    qty = units if quantity is None else max(0, min(int(quantity), units))
    held = position_legs(position, units)
    legs = [Leg(instrument=leg.instrument, ratio=-leg.ratio) for leg in held]
    quote = quote_combo(legs, engine.market, engine.now(), engine.stale_ns)
    before = _legs_greeks(engine, held, units)
    after = _legs_greeks(engine, held, units - qty)
    change = _minus(after, before)
    book_before = book_greeks(engine)
    estimate = None
    message = quote.reason
    if quote.state < 2 and math.isfinite(quote.mid):
        estimate = _estimated_fill(engine, quote.mid, quote.natural)
        if limit is not None and limit < estimate:
            message = (
                f"limit {limit:.2f} is inside the estimated fill {estimate:.2f}: it may not fill"
            )
            estimate = limit
    return ClosePreview(
        position_id=position_id,
        quantity=qty,
        max_quantity=units,
        legs=tuple(legs),
        mid=_finite(quote.mid),
        natural=_finite(quote.natural),
        estimated_fill=estimate,
        greeks_before=before,
        greeks_after=after,
        mark_state=_STATES[quote.state],
        message=message,
        portfolio_greeks_before=book_before,
        portfolio_greeks_after=_plus(book_before, change),
        greeks_change=change,
    )


def roll_targets(engine: Engine, position: PositionState) -> list[dt.date]:
    """Listed expiries a roll may go to: after the front expiry and, for a position with
    legs in several expiries, before its next leg's (only the front legs roll)."""
    expiries = sorted(
        {leg.instrument.expiry for leg in position.open_legs if isinstance(leg.instrument, Option)}
    )
    if not expiries:
        return []
    front = expiries[0]
    before = expiries[1] if len(expiries) > 1 else None
    return [
        d
        for d in engine.market.expiries(position.underlying)
        if d > front and (before is None or d < before)
    ]


def roll_candidates(
    engine: Engine, position_id: str, expiries: int = 4, shifts: tuple[int, ...] = (0, -1, 1, -2, 2)
) -> tuple[RollCandidate, ...]:
    position = _open(engine, position_id)
    current = position.expiry
    if current is None:
        raise Refusal("NOTHING_TO_ROLL", f"position {position_id} has no options to roll")
    units = position.units
    held = position_legs(position, units)
    rolled = [
        leg.instrument
        for leg in held
        if isinstance(leg.instrument, Option) and leg.instrument.expiry == current
    ]
    before = _legs_greeks(engine, held, units)
    today = engine.clock.today()
    found: list[RollCandidate] = []
    for expiry in roll_targets(engine, position)[:expiries]:
        listed = np.array(engine.market.strikes(position.underlying, expiry))
        if listed.size == 0:
            continue
        base = [int(np.argmin(np.abs(listed - o.strike))) for o in rolled]
        for shift in shifts:
            index = [b + shift for b in base]
            if min(index) < 0 or max(index) >= listed.size:
                continue
            strikes = tuple(float(listed[i]) for i in index)
            try:
                plan = rolled_legs(position, units, expiry, strikes)
            except Refusal:
                continue  # a roll the engine would refuse is no candidate
            candidate = _candidate(
                engine,
                position_id,
                plan,
                units,
                expiry,
                strikes,
                before,
                (current - today).days,
                (expiry - today).days,
            )
            if candidate is not None:
                found.append(candidate)
    return tuple(found)


def _candidate(
    engine: Engine,
    position_id: str,
    plan: RollPlan,
    units: int,
    expiry: dt.date,
    strikes: tuple[float, ...],
    before: Greeks,
    old_dte: int,
    new_dte: int,
) -> RollCandidate | None:
    legs = plan.legs
    listed = [leg.instrument for leg in legs if isinstance(leg.instrument, Option)]
    if not all(engine.market.is_listed(option) for option in listed):
        return None
    quote = quote_combo(legs, engine.market, engine.now(), engine.stale_ns)
    after = _legs_greeks(engine, plan.opening + plan.kept, units)
    net = _finite(quote.mid)
    extra = new_dte - old_dte
    per_day = None
    if net is not None and extra > 0:
        # Dollars per combo unit: each leg's mid times its own contract multiplier.
        dollars = sum(
            leg.ratio * mid * leg.instrument.multiplier
            for leg, mid in zip(legs, quote.leg_mids, strict=True)
        )
        per_day = -dollars * units / extra
    return RollCandidate(
        position_id=position_id,
        to_expiry=expiry,
        strikes=strikes,
        dte=new_dte,
        legs=tuple(legs),
        net_price=None if net is None else round(net, 2),
        credit_per_day=per_day,
        greeks_change=_minus(after, before),
        mark_state=_STATES[quote.state],
    )
