"""Provides combo pricing: mid, natural, size and per-leg allocation of a net price.

The broker walks orders with it, the engine previews closes and rolls with it and checks
fat-finger limits against it, so all three agree on what "mid" means.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from engine.market.base import MarketSource
from engine.records import Leg, LegFill, Option, Stock

TICK = 0.01
_PIP = 10_000  # leg prices are reported to 1/10,000 of a dollar


class ComboQuote(NamedTuple):
    """Per combo unit: ``mid`` and ``natural`` are signed (positive = we pay)."""

    mid: float
    natural: float
    size: int
    leg_mids: tuple[float, ...]
    leg_half_spreads: tuple[float, ...]
    state: int  # 0 ok, 1 stale, 2 invalid
    reason: str
    ts: int

    @property
    def ok(self) -> bool:
        return self.state == 0


def quote_combo(
    legs: Sequence[Leg], market: MarketSource, now_ns: int, stale_ns: int
) -> ComboQuote:
    bids: list[float] = []
    asks: list[float] = []
    bid_sizes: list[int] = []
    ask_sizes: list[int] = []
    states: list[int] = []
    reasons: list[str] = []
    oldest = now_ns
    options = [leg.instrument for leg in legs if isinstance(leg.instrument, Option)]
    marks = market.option_marks(options) if options else None
    i = 0
    for leg in legs:
        inst = leg.instrument
        if isinstance(inst, Stock):
            q = market.quote(inst.symbol)
            if q is None or q.bid is None or q.ask is None:
                bids.append(np.nan)
                asks.append(np.nan)
                bid_sizes.append(0)
                ask_sizes.append(0)
                states.append(2)
                reasons.append(f"no valid quote for {inst.symbol}")
                continue
            bids.append(q.bid)
            asks.append(q.ask)
            bid_sizes.append(q.bid_size)
            ask_sizes.append(q.ask_size)
            ts = q.ts
            state = 0
        else:
            assert marks is not None
            bids.append(float(marks.bid[i]))
            asks.append(float(marks.ask[i]))
            bid_sizes.append(int(marks.bid_size[i]))
            ask_sizes.append(int(marks.ask_size[i]))
            ts = int(marks.ts[i])
            state = int(marks.state[i])
            i += 1
        if state == 0 and now_ns - ts > stale_ns:
            state = 1
        if state == 1:
            reasons.append(f"quote for {_label(inst)} is stale")
        elif state == 2:
            reasons.append(f"no valid quote for {_label(inst)}")
        states.append(state)
        oldest = min(oldest, ts)
    state = max(states, default=2)
    if state == 2:
        return ComboQuote(np.nan, np.nan, 0, (), (), 2, "; ".join(reasons), oldest)
    ratios = np.array([leg.ratio for leg in legs], dtype=np.float64)
    bid = np.array(bids)
    ask = np.array(asks)
    mids = (bid + ask) / 2.0
    halves = (ask - bid) / 2.0
    mid = float(np.dot(ratios, mids))
    natural = float(np.dot(ratios, np.where(ratios > 0, ask, bid)))
    sizes = [
        (ask_sizes[k] if legs[k].ratio > 0 else bid_sizes[k]) // abs(legs[k].ratio)
        for k in range(len(legs))
    ]
    return ComboQuote(
        mid=mid,
        natural=natural,
        size=min(sizes),
        leg_mids=tuple(float(m) for m in mids),
        leg_half_spreads=tuple(float(h) for h in halves),
        state=state,
        reason="; ".join(reasons),
        ts=oldest,
    )


def _label(inst: Option | Stock) -> str:
    return inst.describe() if isinstance(inst, Option) else inst.symbol


def round_tick(price: float) -> float:
    return round(round(price / TICK) * TICK, 2)


def allocate(
    legs: Sequence[Leg], quote: ComboQuote, net_price: float, units: int
) -> tuple[LegFill, ...]:
    """Split a combo's net price into leg prices that sum back to it exactly.

    Each leg starts at its mid; the concession from mid is shared in proportion to each
    leg's half-spread, as a market maker would price it. Prices are whole pips, and the
    rounding residue goes to a one-ratio leg, so Σ ratio·price equals the net to the pip.
    """
    ratios = [leg.ratio for leg in legs]
    mids = [round(m * _PIP) for m in quote.leg_mids]
    target = round(net_price * _PIP)
    concession = target - sum(r * m for r, m in zip(ratios, mids, strict=True))
    weights = [abs(r) * max(h, 1e-9) for r, h in zip(ratios, quote.leg_half_spreads, strict=True)]
    total_w = sum(weights)
    pips = [
        max(m + (1 if r > 0 else -1) * round(concession * w / total_w / abs(r)), 0)
        for r, m, w in zip(ratios, mids, weights, strict=True)
    ]
    residue = target - sum(r * p for r, p in zip(ratios, pips, strict=True))
    if residue:
        # Put the residue on a unit-ratio leg that stays non-negative after taking it.
        order = sorted(range(len(legs)), key=lambda k: (abs(ratios[k]) != 1, -pips[k]))
        for k in order:
            if residue % ratios[k] == 0 and pips[k] + residue // ratios[k] >= 0:
                pips[k] += residue // ratios[k]
                residue = 0
                break
    if residue:
        raise ValueError(f"cannot allocate net price {net_price} over legs {ratios}")
    return tuple(
        LegFill(instrument=leg.instrument, quantity=leg.ratio * units, price=p / _PIP)
        for leg, p in zip(legs, pips, strict=True)
    )
