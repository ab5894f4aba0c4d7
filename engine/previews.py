"""Provides the engine's answers for confirm dialogs: close previews and roll candidates.

The app shows these and never computes them: a close preview (legs, estimated fill,
Greeks before and after) and roll candidates (expiry × strikes, net credit or debit at
mid, credit per extra day, Greeks change).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

import numpy as np

from engine.combo import quote_combo, round_tick
from engine.orders import Refusal, position_legs, rolled_legs
from engine.records import ClosePreview, Greeks, Leg, MarkState, Option, RollCandidate

if TYPE_CHECKING:
    from engine.engine import Engine

_STATES: tuple[MarkState, ...] = ("ok", "stale", "invalid")


def _legs_greeks(engine: Engine, legs: list[Leg], units: int) -> Greeks:
    """Greeks of ``units`` of a structure, in position units."""
    options = [leg for leg in legs if isinstance(leg.instrument, Option)]
    totals = dict.fromkeys(("delta", "gamma", "theta", "vega", "rho"), 0.0)
    dollar_delta = dollar_gamma = 0.0
    if options:
        marks = engine.market.option_marks(
            [leg.instrument for leg in options if isinstance(leg.instrument, Option)]
        )
        scale = np.array([leg.ratio * units * leg.instrument.multiplier for leg in options], float)
        ok = (marks.state < 2) & np.isfinite(marks.delta)
        for name in totals:
            totals[name] = float(
                np.sum(np.where(ok, scale * np.nan_to_num(getattr(marks, name)), 0))
            )
        spot = np.nan_to_num(marks.underlying_price)
        dollar_delta = float(np.sum(np.where(ok, scale * np.nan_to_num(marks.delta) * spot, 0)))
        dollar_gamma = float(
            np.sum(np.where(ok, scale * np.nan_to_num(marks.gamma) * spot**2 * 0.01, 0))
        )
    for leg in legs:
        if not isinstance(leg.instrument, Option):
            quote = engine.market.quote(leg.instrument.symbol)
            shares = leg.ratio * units * leg.instrument.multiplier
            totals["delta"] += shares
            if quote is not None and quote.mid is not None:
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


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def close_preview(
    engine: Engine, position_id: str, quantity: int | None = None, limit: float | None = None
) -> ClosePreview:
    position = engine.book.positions.get(position_id)
    if position is None or position.closed_at is not None:
        raise Refusal("POSITION_NOT_FOUND", f"no open position {position_id}")
    units = position.units
    qty = units if quantity is None else max(0, min(int(quantity), units))
    legs = [
        Leg(instrument=leg.instrument, ratio=-leg.ratio) for leg in position_legs(position, units)
    ]
    quote = quote_combo(legs, engine.market, engine.now(), engine.stale_ns)
    held = position_legs(position, units)
    before = _legs_greeks(engine, held, units)
    after = _legs_greeks(engine, held, units - qty)
    estimate = None
    message = quote.reason
    if quote.state < 2 and math.isfinite(quote.mid):
        threshold = engine.config.broker.paper.fill_threshold
        estimate = round_tick(quote.mid + threshold * (quote.natural - quote.mid))
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
    )


def roll_candidates(
    engine: Engine, position_id: str, expiries: int = 4, shifts: tuple[int, ...] = (0, -1, 1, -2, 2)
) -> tuple[RollCandidate, ...]:
    position = engine.book.positions.get(position_id)
    if position is None or position.closed_at is not None:
        raise Refusal("POSITION_NOT_FOUND", f"no open position {position_id}")
    current = position.expiry
    if current is None:
        raise Refusal("NOTHING_TO_ROLL", f"position {position_id} has no options to roll")
    units = position.units
    held = position_legs(position, units)
    options = [leg.instrument for leg in held if isinstance(leg.instrument, Option)]
    before = _legs_greeks(engine, held, units)
    today = engine.clock.today()
    later = [d for d in engine.market.expiries(position.underlying) if d > current][:expiries]
    found: list[RollCandidate] = []
    for expiry in later:
        listed = np.array(engine.market.strikes(position.underlying, expiry))
        if listed.size == 0:
            continue
        base = [int(np.argmin(np.abs(listed - o.strike))) for o in options]
        for shift in shifts:
            index = [b + shift for b in base]
            if min(index) < 0 or max(index) >= listed.size:
                continue
            strikes = tuple(float(listed[i]) for i in index)
            candidate = _candidate(
                engine,
                position_id,
                held,
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
    held: list[Leg],
    units: int,
    expiry: dt.date,
    strikes: tuple[float, ...],
    before: Greeks,
    old_dte: int,
    new_dte: int,
) -> RollCandidate | None:
    position = engine.book.positions[position_id]
    legs = rolled_legs(position, units, expiry, strikes)
    listed = [leg.instrument for leg in legs if isinstance(leg.instrument, Option)]
    if not all(engine.market.is_listed(option) for option in listed):
        return None
    quote = quote_combo(legs, engine.market, engine.now(), engine.stale_ns)
    new_structure = legs[len(legs) // 2 :]
    stock = [leg for leg in held if not isinstance(leg.instrument, Option)]
    after = _legs_greeks(engine, new_structure + stock, units)
    net = _finite(quote.mid)
    extra = new_dte - old_dte
    per_day = (-net * units * 100 / extra) if net is not None and extra > 0 else None
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
