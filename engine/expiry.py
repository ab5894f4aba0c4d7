"""Provides expiration: options past 16:00 ET on their expiry settle at intrinsic value.

Settlement goes through the broker (the paper broker books it on its ledger), so the
broker's record and the journal keep agreeing after every expiry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.broker.base import BrokerOrder
from engine.orders import expired
from engine.records import Leg, Option, Order

if TYPE_CHECKING:
    from engine.engine import Engine


def settle_expired(engine: Engine) -> int:
    """Settle every expired option leg of every open position; return legs settled."""
    now = engine.now()
    settle = getattr(engine.broker, "settle", None)
    if settle is None:
        return 0
    settled = 0
    for position in engine.book.open_positions():
        legs = [
            leg
            for leg in position.open_legs
            if isinstance(leg.instrument, Option) and expired(leg.instrument, now)
        ]
        if not legs:
            continue
        quote = engine.market.quote(position.underlying)
        spot = quote.last if quote is not None else None
        if spot is None:
            engine.alert(
                "critical",
                "expiry",
                "SETTLEMENT_PRICE_MISSING",
                f"{position.position_id}: no price for {position.underlying} to settle "
                "expired options; they stay on the book until one arrives",
            )
            continue
        prices = {}
        for leg in legs:
            assert isinstance(leg.instrument, Option)
            strike = leg.instrument.strike
            intrinsic = (
                max(spot - strike, 0.0) if leg.instrument.right == "C" else max(strike - spot, 0.0)
            )
            prices[leg.instrument.key] = round(intrinsic, 4)
        order_id = engine.next_order_id()
        whole = len(legs) == len(position.open_legs)
        order = Order(
            order_id=order_id,
            command_id=f"expiry-{order_id}",
            intent="close" if whole else "adjust",
            position_id=position.position_id,
            legs=tuple(Leg(instrument=leg.instrument, ratio=-leg.quantity) for leg in legs),
            quantity=1,
            limit=None,
            state="filled",
            created_at=now,
            updated_at=now,
        )
        engine.record_order(order)
        execution = settle(
            BrokerOrder(
                order_id=order_id,
                order_ref=order.command_id,
                position_id=position.position_id,
                intent=order.intent,
                legs=order.legs,
                quantity=1,
                limit=None,
                ts=now,
            ),
            prices,
            now,
        )
        engine.on_execution(execution)
        settled += len(legs)
        worth = ", ".join(
            f"{leg.instrument.describe()} at {prices[leg.instrument.key]:.2f}"  # type: ignore[union-attr]
            for leg in legs
        )
        engine.alert("info", "expiry", "EXPIRED", f"{position.position_id} expired: {worth}")
    return settled
