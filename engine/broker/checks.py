"""Provides the paper broker's own order checks: what it refuses whoever sent the order.

A broker does not trust its client: a crash, a restart or a second client can put an order
here that the engine's pre-trade checks never saw, so the broker refuses on its own, with
a code and a reason, what it could not trade.
"""

from __future__ import annotations

import math

from engine.broker.base import BrokerOrder
from engine.broker.config import PaperBrokerConfig
from engine.clock import NS_PER_SECOND
from engine.combo import quote_combo
from engine.market.base import MarketSource
from engine.orders import expired
from engine.records import Instrument, Option


def refusal(
    order: BrokerOrder, market: MarketSource | None, config: PaperBrokerConfig
) -> tuple[str, str] | None:
    """(code, reason) if the broker must reject ``order``; None if it can work it."""
    if order.quantity <= 0:
        return "QUANTITY_BELOW_MINIMUM", f"quantity {order.quantity} must be at least 1"
    if order.quantity > config.max_quantity:
        return "QUANTITY_EXCEEDS_MAXIMUM", (
            f"quantity {order.quantity} exceeds the maximum {config.max_quantity}"
        )
    if not order.legs:
        return "INVALID_ORDER", "an order needs at least one leg"
    if len({leg.instrument.key for leg in order.legs}) < len(order.legs):
        return "INVALID_ORDER", "a combo lists the same contract more than once"
    if market is None:
        return "NO_MARKET_DATA", "the paper broker has no market data to fill against"
    for leg in order.legs:
        inst = leg.instrument
        if leg.ratio == 0:
            return "INVALID_ORDER", f"leg {_label(inst)} has a ratio of 0"
        if isinstance(inst, Option):
            if expired(inst, order.ts):
                return "CONTRACT_EXPIRED", f"{inst.describe()} has expired"
            if not market.is_listed(inst):
                return "INSTRUMENT_NOT_FOUND", f"{inst.describe()} is not listed"
        elif market.quote(inst.symbol) is None:
            return "INSTRUMENT_NOT_FOUND", f"unknown symbol {inst.symbol}"
    quote = quote_combo(order.legs, market, order.ts, int(config.stale_after_s * NS_PER_SECOND))
    if quote.state == 1:
        return "QUOTE_STALE", f"no fresh quote to fill against: {quote.reason}"
    if quote.state == 2 or not math.isfinite(quote.mid):
        return "QUOTE_INVALID", f"no valid quote to fill against: {quote.reason}"
    return None


def _label(inst: Instrument) -> str:
    return inst.describe() if isinstance(inst, Option) else inst.symbol
