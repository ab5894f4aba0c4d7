"""The book's Greeks and P&L, checked against vollib leg by leg; bad marks never leak NaN."""

from __future__ import annotations

import math

import numpy as np
import pytest
from vollib.black_scholes_merton.greeks import analytical as ref

from engine.clock import NS_PER_DAY
from engine.records import Option, Stock
from tests.engine.conftest import advance


def _years(engine, option: Option) -> float:
    """Time to 16:00 New York on expiry, in years of 365 days, as the market prices it."""
    import datetime as dt

    from engine.clock import EXCHANGE_TZ, from_datetime

    close = dt.datetime.combine(option.expiry, dt.time(16), tzinfo=EXCHANGE_TZ)
    return (from_datetime(close) - engine.now()) / (365 * NS_PER_DAY)


def test_position_greeks_are_the_vollib_greeks_of_each_leg_times_size(engine):
    # Arrange: the demo book, valued at the current tick.
    advance(engine, 2)
    valuation = engine.revalue()
    market = engine.market
    for view in valuation.views.values():
        expected = dict.fromkeys(("delta", "gamma", "theta", "vega", "rho"), 0.0)
        dollar_delta = 0.0
        for leg in view.legs:
            inst = leg.instrument
            if isinstance(inst, Stock):
                expected["delta"] += leg.quantity
                dollar_delta += leg.quantity * leg.mark
                continue
            spot = market.quote(inst.underlying).last
            marks = market.option_marks([inst])
            sigma, s = float(marks.iv[0]), float(marks.underlying_price[0])
            t, r, q = _years(engine, inst), market.rate, market.dividend_yield(inst.underlying)
            flag = inst.right.lower()
            size = leg.quantity * inst.multiplier
            for name in expected:
                expected[name] += size * getattr(ref, name)(flag, s, inst.strike, t, r, sigma, q)
            dollar_delta += size * ref.delta(flag, s, inst.strike, t, r, sigma, q) * s
            assert spot is not None
        # Act / Assert: the engine's totals agree with the independent reference.
        for name, value in expected.items():
            assert getattr(view.greeks, name) == pytest.approx(value, rel=1e-6, abs=1e-6), name
        assert view.greeks.dollar_delta == pytest.approx(dollar_delta, rel=1e-6)


def test_portfolio_totals_are_the_sum_of_positions_and_equity_reconciles(engine):
    advance(engine, 3)
    summary = engine.revalue().summary
    views = [v for v in engine.valuation.views.values() if v.status == "open"]

    assert summary.greeks.delta == pytest.approx(sum(v.greeks.delta for v in views))
    assert summary.greeks.dollar_delta == pytest.approx(sum(v.greeks.dollar_delta for v in views))
    assert summary.equity == pytest.approx(summary.cash + summary.market_value)
    total_pnl = summary.realized_pnl + summary.unrealized_pnl - summary.commissions
    assert summary.equity - summary.initial_equity == pytest.approx(total_pnl, abs=0.01)


def test_a_leg_without_a_valid_quote_is_flagged_and_kept_out_of_the_greeks(engine):
    advance(engine, 1)
    nvda = next(p for p in engine.book.open_positions() if p.underlying == "NVDA")
    before = engine.revalue().summary

    engine.market.inject_quote("NVDA", math.nan, math.inf, -1.0)
    advance(engine, 1)
    after = engine.valuation.summary
    view = engine.valuation.views[nvda.position_id]

    assert view.mark_state in ("stale", "invalid")
    greeks = [getattr(after.greeks, f) for f in after.greeks.__struct_fields__]
    assert np.all(np.isfinite([after.equity, after.market_value, after.day_pnl, *greeks]))
    assert after.excluded_legs >= 1 or view.mark_state == "stale"
    assert before.equity == pytest.approx(after.equity, rel=0.02)
