"""Provides the demo book opened on a new journal, so the desk is never empty.

Realistic positions across the watchlist: credit and debit verticals, an iron condor, a
long call, a short put and a protective put, one of them close to expiry so that the
position manager has a roll to recommend. Entry prices are what the structures would
have cost when "opened" some days earlier (priced at that time's spot and the current
implied vol), so the book starts with winners and losers rather than a row of zeros.
The fills go through the paper broker's ledger like any other, tagged ``demo``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Literal, NamedTuple

import numpy as np

from engine.pricing import greeks
from engine.records import Leg, Option, Stock

if TYPE_CHECKING:
    from engine.engine import Engine

log = logging.getLogger(__name__)


class Spec(NamedTuple):
    symbol: str
    dte: int
    legs: tuple[tuple[Literal["C", "P", "S"], float, int], ...]  # (right, K/S, ratio)
    quantity: int
    days_held: int


DEMO: tuple[Spec, ...] = (
    Spec("SPY", 35, (("P", 0.95, -1), ("P", 0.92, 1)), 3, 9),  # bull put spread
    Spec("QQQ", 12, (("C", 1.04, -1), ("C", 1.07, 1)), 2, 20),  # bear call spread, near expiry
    Spec("IWM", 45, (("P", 0.92, 1), ("P", 0.95, -1), ("C", 1.05, -1), ("C", 1.08, 1)), 2, 6),
    Spec("AAPL", 60, (("C", 1.03, 1),), 2, 12),  # long call
    Spec("NVDA", 30, (("P", 0.88, -1),), 1, 5),  # short put
    Spec("TSLA", 45, (("S", 1.0, 100), ("P", 0.90, 1)), 1, 15),  # protective put
    Spec("SPY", 50, (("C", 1.00, 1), ("C", 1.04, -1)), 2, 3),  # bull call spread
)


def _expiry(engine: Engine, symbol: str, dte: int) -> dt.date | None:
    today = engine.clock.today()
    listed = engine.market.expiries(symbol)
    if not listed:
        return None
    return min(listed, key=lambda d: abs((d - today).days - dte))


def _strike(engine: Engine, symbol: str, expiry: dt.date, target: float) -> float:
    listed = np.array(engine.market.strikes(symbol, expiry))
    return float(listed[np.argmin(np.abs(listed - target))])


def open_demo_book(engine: Engine) -> int:
    """Open the demo positions through the broker; return how many were opened."""
    settle = getattr(engine.broker, "settle", None)
    if settle is None:
        log.info("demo book skipped: broker %s cannot book demo fills", engine.broker.name)
        return 0
    rng = np.random.default_rng(engine.config.market.sim.seed + 1)
    opened = 0
    for spec in DEMO:
        if spec.symbol not in engine.market.symbols:
            continue
        quote = engine.market.quote(spec.symbol)
        expiry = _expiry(engine, spec.symbol, spec.dte)
        if quote is None or quote.last is None or expiry is None:
            continue
        spot = quote.last
        legs = []
        for right, moneyness, ratio in spec.legs:
            if right == "S":
                legs.append(Leg(instrument=Stock(symbol=spec.symbol), ratio=ratio))
            else:
                strike = _strike(engine, spec.symbol, expiry, spot * moneyness)
                legs.append(
                    Leg(
                        instrument=Option(
                            underlying=spec.symbol, expiry=expiry, strike=strike, right=right
                        ),
                        ratio=ratio,
                    )
                )
        prices = _entry_prices(engine, legs, spot, spec.days_held, rng)
        if prices is None:
            continue
        engine.book_at_prices(
            tag="demo",
            intent="open",
            position_id=None,
            legs=tuple(legs),
            quantity=spec.quantity,
            prices=prices,
            source="demo",
            commission=_commission(engine, legs, spec.quantity),
        )
        opened += 1
    engine.alert("info", "demo", "DEMO_BOOK", f"demo book opened: {opened} positions")
    return opened


def _entry_prices(
    engine: Engine, legs: list[Leg], spot: float, days: int, rng: np.random.Generator
) -> dict[str, float] | None:
    """Each leg's price ``days`` ago: spot moved back by a random draw, same implied vol."""
    options = [leg.instrument for leg in legs if isinstance(leg.instrument, Option)]
    marks = engine.market.option_marks(options)
    if np.any(marks.state != 0):
        return None
    vol = float(np.nanmean(marks.iv))
    then = spot * float(np.exp(rng.normal(0.0, vol * np.sqrt(days / 365.0))))
    prices: dict[str, float] = {}
    today = engine.clock.today()
    symbol = options[0].underlying if options else legs[0].instrument.underlying
    q = engine.market.dividend_yield(symbol)
    for i, option in enumerate(options):
        t = ((option.expiry - today).days + days) / 365.0
        value = greeks(
            option.right.lower(), then, option.strike, t, engine.market.rate, float(marks.iv[i]), q
        ).price
        prices[option.key] = max(round(float(value), 2), 0.01)
    for leg in legs:
        if isinstance(leg.instrument, Stock):
            prices[leg.instrument.key] = round(then, 2)
    return prices


def _commission(engine: Engine, legs: list[Leg], quantity: int) -> float:
    paper = engine.config.broker.paper
    cents = sum(
        abs(leg.ratio)
        * quantity
        * (
            paper.commission_per_contract
            if isinstance(leg.instrument, Option)
            else paper.commission_per_share
        )
        * 100
        for leg in legs
    )
    return round(cents) / 100
