"""Provides strategy recognition from legs, and max profit / max loss at expiry."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from engine.records import Direction, Instrument, Option, Stock


class Holding(NamedTuple):
    instrument: Instrument
    quantity: int


class Shape(NamedTuple):
    name: str
    bias: Direction


def recognise(holdings: Sequence[Holding]) -> Shape:
    """Name the structure a trader would call these legs, and its directional bias.

    A name promises a risk profile, so it is given only when the legs deliver it: legs on
    more than one underlying are never a spread, and stock "covers" calls or "protects"
    with puts only for as many contracts as it has shares for.
    """
    legs = [h for h in holdings if h.quantity != 0]
    options = [h for h in legs if isinstance(h.instrument, Option)]
    stocks = [h for h in legs if isinstance(h.instrument, Stock)]
    if not legs:
        return Shape("flat", "neutral")
    if len({h.instrument.underlying for h in legs}) > 1:
        return Shape(f"custom ({len(legs)} legs)", "neutral")
    if stocks and not options and len(stocks) == 1:
        return (
            Shape("long stock", "bullish")
            if stocks[0].quantity > 0
            else Shape("short stock", "bearish")
        )
    if len(stocks) == 1 and stocks[0].quantity > 0:
        return _with_stock(stocks[0].quantity, options)
    if stocks:
        return Shape(f"custom ({len(legs)} legs)", "neutral")
    return _options_only(options)


def _opt(h: Holding) -> Option:
    assert isinstance(h.instrument, Option)
    return h.instrument


def _shares_for(h: Holding) -> int:
    """Shares that cover (or are protected by) this option leg."""
    return abs(h.quantity) * _opt(h).multiplier


def _with_stock(shares: int, options: list[Holding]) -> Shape:
    legs = len(options) + 1
    calls = [h for h in options if _opt(h).right == "C"]
    puts = [h for h in options if _opt(h).right == "P"]
    if len(options) == 1 and calls and calls[0].quantity < 0:
        call = calls[0]
        if shares >= _shares_for(call):
            return Shape("covered call", "bullish")
        if shares >= _opt(call).multiplier:
            # Some contracts are covered and the rest are naked: the classic ratio write.
            return Shape("ratio call write", "neutral")
        return Shape("uncovered call", "bearish")
    if len(options) == 1 and puts and puts[0].quantity > 0:
        protected = _shares_for(puts[0])
        if protected == shares:
            return Shape("protective put", "bullish")
        if protected < shares:
            return Shape("partial protective put", "bullish")
        # More puts than shares: a net long put position with some stock, not a hedge.
        return Shape(f"custom ({legs} legs)", "neutral")
    collar = len(calls) == 1 and len(puts) == 1 and calls[0].quantity < 0 < puts[0].quantity
    if collar and shares >= _shares_for(calls[0]) and shares == _shares_for(puts[0]):
        return Shape("collar", "bullish")
    return Shape(f"custom ({legs} legs)", "neutral")


def _options_only(options: list[Holding]) -> Shape:
    n = len(options)
    if n == 1:
        h = options[0]
        long = h.quantity > 0
        if _opt(h).right == "C":
            return Shape("long call", "bullish") if long else Shape("short call", "bearish")
        return Shape("long put", "bearish") if long else Shape("short put", "bullish")
    legs = sorted(options, key=lambda h: (_opt(h).expiry, _opt(h).strike, _opt(h).right))
    expiries = {_opt(h).expiry for h in legs}
    sizes = {abs(h.quantity) for h in legs}
    if n == 2 and len(sizes) == 1:
        return _two_legs(legs[0], legs[1], same_expiry=len(expiries) == 1)
    if n == 3 and len(expiries) == 1:
        return _butterfly(legs)
    if n == 4 and len(expiries) == 1 and len(sizes) == 1:
        return _four_legs(legs)
    return Shape(f"custom ({n} legs)", "neutral")


def _two_legs(a: Holding, b: Holding, *, same_expiry: bool) -> Shape:
    oa, ob = _opt(a), _opt(b)
    if not same_expiry:
        if oa.right != ob.right or a.quantity * b.quantity > 0:
            return Shape("custom (2 legs)", "neutral")
        name = "calendar" if oa.strike == ob.strike else "diagonal"
        right = "call" if oa.right == "C" else "put"
        long_back = (b.quantity if oa.expiry < ob.expiry else a.quantity) > 0
        prefix = "" if long_back else "short "
        return Shape(f"{prefix}{right} {name}", "neutral")
    if oa.right != ob.right:
        if a.quantity * b.quantity < 0:
            return Shape("custom (2 legs)", "neutral")
        long = a.quantity > 0
        name = "straddle" if oa.strike == ob.strike else "strangle"
        return Shape(f"{'long' if long else 'short'} {name}", "neutral")
    if a.quantity * b.quantity > 0 or oa.strike == ob.strike:
        return Shape("custom (2 legs)", "neutral")
    low = a if oa.strike < ob.strike else b
    long_low = low.quantity > 0
    if oa.right == "C":
        return (
            Shape("bull call spread", "bullish")
            if long_low
            else Shape("bear call spread", "bearish")
        )
    return Shape("bull put spread", "bullish") if long_low else Shape("bear put spread", "bearish")


def _butterfly(legs: list[Holding]) -> Shape:
    rights = {_opt(h).right for h in legs}
    qty = [h.quantity for h in legs]
    strikes = [_opt(h).strike for h in legs]
    equal_wings = math.isclose(strikes[1] - strikes[0], strikes[2] - strikes[1])
    if len(rights) == 1 and qty[0] == qty[2] and qty[1] == -2 * qty[0] and equal_wings:
        right = "call" if "C" in rights else "put"
        side = "long" if qty[0] > 0 else "short"
        return Shape(f"{side} {right} butterfly", "neutral")
    return Shape("custom (3 legs)", "neutral")


def _four_legs(legs: list[Holding]) -> Shape:
    puts = sorted((h for h in legs if _opt(h).right == "P"), key=lambda h: _opt(h).strike)
    calls = sorted((h for h in legs if _opt(h).right == "C"), key=lambda h: _opt(h).strike)
    if len(puts) != 2 or len(calls) != 2:
        return Shape("custom (4 legs)", "neutral")
    # Short condor: long wing put < short put <= short call < long wing call.
    short_body = (
        puts[1].quantity < 0 < puts[0].quantity and calls[0].quantity < 0 < calls[1].quantity
    )
    long_body = (
        puts[1].quantity > 0 > puts[0].quantity and calls[0].quantity > 0 > calls[1].quantity
    )
    if not (short_body or long_body) or _opt(puts[1]).strike > _opt(calls[0]).strike:
        return Shape("custom (4 legs)", "neutral")
    kind = "butterfly" if _opt(puts[1]).strike == _opt(calls[0]).strike else "condor"
    return Shape(f"iron {kind}" if short_body else f"reverse iron {kind}", "neutral")


def payoff_extremes(
    holdings: Sequence[Holding], net_cost: float
) -> tuple[float | None, float | None]:
    """Max profit and max loss (a positive number) at the first expiry, in dollars.

    Payoff is piecewise linear in the underlying with kinks at the strikes, so the extremes
    sit at a kink, at zero, or run off to infinity along the last slope (``None`` means
    unlimited). Legs on different underlyings move independently, so the extremes of the
    whole are the sums of each underlying's extremes. Structures with several expiries are
    not piecewise linear at the first expiry; there the loss is bounded by what was paid
    and the profit is left unknown.
    """
    options = [h for h in holdings if isinstance(h.instrument, Option) and h.quantity]
    if len({_opt(h).expiry for h in options}) > 1:
        return None, (net_cost if net_cost > 0 else None)
    groups: dict[str, list[Holding]] = {}
    for h in holdings:
        groups.setdefault(h.instrument.underlying, []).append(h)
    best: float | None = 0.0
    worst: float | None = 0.0
    for group in groups.values() or [[]]:
        high, low = _payoff_range(group)
        best = None if best is None or high is None else best + high
        worst = None if worst is None or low is None else worst + low
    max_profit = None if best is None else best - net_cost
    max_loss = None if worst is None else max(net_cost - worst, 0.0)
    return max_profit, max_loss


def _payoff_range(holdings: Sequence[Holding]) -> tuple[float | None, float | None]:
    """Highest and lowest payoff at expiry over the underlying's price; None if unbounded."""
    strikes = sorted({h.instrument.strike for h in holdings if isinstance(h.instrument, Option)})
    top = (strikes[-1] if strikes else 1.0) * 2.0 + 1.0
    values = [_payoff(holdings, s) for s in [0.0, *strikes, top]]
    slope_up = _payoff(holdings, top + 1.0) - _payoff(holdings, top)
    high: float | None = None if slope_up > 1e-9 else max(values)
    low: float | None = None if slope_up < -1e-9 else min(values)
    return high, low


def _payoff(holdings: Sequence[Holding], spot: float) -> float:
    total = 0.0
    for h in holdings:
        inst = h.instrument
        if isinstance(inst, Stock):
            total += h.quantity * inst.multiplier * spot
        elif inst.right == "C":
            total += h.quantity * inst.multiplier * max(spot - inst.strike, 0.0)
        else:
            total += h.quantity * inst.multiplier * max(inst.strike - spot, 0.0)
    return total
