"""Provides expiration: options past 16:00 ET on their expiry settle at intrinsic value.

Settlement goes through the broker (the paper broker books it on its ledger), so the
broker's record and the journal keep agreeing after every expiry. The price is the
underlying's close on the expiry date, also when the engine first sees the expiry at a
later session (it was not running over the close).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

import numpy as np

from engine.orders import expired
from engine.records import Leg, Option

if TYPE_CHECKING:
    from engine.engine import Engine


def settlement_spot(engine: Engine, symbol: str, expiry: dt.date) -> float | None:
    """The underlying's close on ``expiry``: its last price while that day's close is now,
    its daily bar's close when the engine only reaches the expiry at a later session."""
    quote = engine.market.quote(symbol)
    last = quote.last if quote is not None else None
    if engine.clock.today() <= expiry:
        return last
    bars = engine.market.daily_bars(symbol)
    rows = np.flatnonzero(bars.date == np.datetime64(expiry))
    close = float(bars.close[rows[-1]]) if rows.size else math.nan
    return round(close, 2) if math.isfinite(close) and close > 0 else last


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
        options = [leg.instrument for leg in legs if isinstance(leg.instrument, Option)]
        spots = {o.key: settlement_spot(engine, position.underlying, o.expiry) for o in options}
        if any(spot is None for spot in spots.values()):
            engine.alert(
                "critical",
                "expiry",
                "SETTLEMENT_PRICE_MISSING",
                f"{position.position_id}: no price for {position.underlying} to settle "
                "expired options; they stay on the book until one arrives",
            )
            continue
        prices = {}
        for option in options:
            spot = spots[option.key]
            assert spot is not None
            strike = option.strike
            intrinsic = max(spot - strike, 0.0) if option.right == "C" else max(strike - spot, 0.0)
            prices[option.key] = round(intrinsic, 4)
        whole = len(legs) == len(position.open_legs)
        engine.book_at_prices(
            tag="expiry",
            intent="close" if whole else "adjust",
            position_id=position.position_id,
            legs=tuple(Leg(instrument=leg.instrument, ratio=-leg.quantity) for leg in legs),
            quantity=1,
            prices=prices,
            source="expiration",
        )
        settled += len(legs)
        worth = ", ".join(
            f"{leg.instrument.describe()} at {prices[leg.instrument.key]:.2f}"  # type: ignore[union-attr]
            for leg in legs
        )
        engine.alert("info", "expiry", "EXPIRED", f"{position.position_id} expired: {worth}")
    return settled
