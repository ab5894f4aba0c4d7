"""The book's Greeks and P&L, checked against vollib leg by leg; bad marks never leak NaN."""

from __future__ import annotations

import math

import numpy as np
import pytest
from vollib.black_scholes_merton.greeks import analytical as ref

from engine.clock import NS_PER_DAY
from engine.records import Leg, Option, Stock
from tests.engine.conftest import advance, engine_config, open_engine


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
        dollar_delta = dollar_gamma = 0.0
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
            # Dollar gamma: how much the dollar delta changes on a 1% move, Γ·S²/100.
            gamma = ref.gamma(flag, s, inst.strike, t, r, sigma, q)
            dollar_gamma += size * gamma * s * s / 100.0
        # Act / Assert: the engine's totals agree with the independent reference.
        for name, value in expected.items():
            assert getattr(view.greeks, name) == pytest.approx(value, rel=1e-6, abs=1e-6), name
        assert view.greeks.dollar_delta == pytest.approx(dollar_delta, rel=1e-6)
        assert view.greeks.dollar_gamma == pytest.approx(dollar_gamma, rel=1e-6, abs=1e-9)


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


def _fill_costs(engine) -> dict[str, float]:
    """Each open position's cost in dollars, summed from its journaled fills."""
    costs: dict[str, float] = {}
    for entry in engine.journal.entries():
        if entry.kind == "fill":
            fill = entry.record
            paid = sum(leg.quantity * leg.price * leg.instrument.multiplier for leg in fill.legs)
            costs[fill.position_id] = costs.get(fill.position_id, 0.0) + paid
    return costs


def _market_value(engine, view) -> float:
    """The position's value from the market's own marks: quantity × multiplier × mid."""
    total = 0.0
    for leg in view.legs:
        inst = leg.instrument
        if isinstance(inst, Stock):
            mid = engine.market.quote(inst.symbol).mid
        else:
            mid = float(engine.market.option_marks([inst]).mid[0])
        total += leg.quantity * inst.multiplier * mid
    return total


def test_pnl_percent_is_unrealized_over_the_cost_paid_or_received(engine):
    advance(engine, 3)
    views = [v for v in engine.revalue().views.values() if v.status == "open"]
    costs = _fill_costs(engine)

    for view in views:
        value = _market_value(engine, view)
        cost = costs[view.position_id]
        assert view.cost_basis == pytest.approx(cost, abs=0.005)
        assert view.unrealized_pnl == pytest.approx(value - cost, rel=1e-9, abs=1e-6)
        # A credit received is the base of a credit position's P&L %, as a debit paid is.
        assert view.pnl_pct == pytest.approx((value - cost) / abs(cost), rel=1e-9)


def test_day_pnl_is_the_move_since_the_last_close_for_positions_held_overnight(tmp_path):
    # Ten-minute ticks: the next session is 40 ticks away.
    engine = open_engine(engine_config(tmp_path, clock={"speed": 2400.0}))
    at_close: dict[str, float] = {}
    equity_at_close = 0.0
    while len(engine.sessions) < 2:
        views = [v for v in engine.valuation.views.values() if v.status == "open"]
        at_close = {v.position_id: _market_value(engine, v) for v in views}
        equity_at_close = engine.book.cash + sum(at_close.values())
        advance(engine)

    # Act: an hour into the new session, with no trades today.
    advance(engine, 6)
    valuation = engine.revalue()

    # Assert
    views = [v for v in valuation.views.values() if v.status == "open"]
    assert {v.position_id for v in views} == set(at_close)
    for view in views:
        expected = _market_value(engine, view) - at_close[view.position_id]
        assert view.day_pnl == pytest.approx(expected, rel=1e-9, abs=1e-6), view.position_id
    equity = engine.book.cash + sum(_market_value(engine, v) for v in views)
    assert valuation.summary.day_pnl == pytest.approx(equity - equity_at_close, abs=1e-6)
    assert valuation.summary.day_pnl != pytest.approx(0.0, abs=1.0)  # the market moved
    engine.shutdown()


def test_a_leg_never_marked_shows_no_price_and_the_totals_carry_it_at_cost(engine):
    # Arrange: a contract the market does not list, so it has never had a mark.
    advance(engine, 1)
    before = engine.revalue()
    expiry = engine.market.expiries("SPY")[-1]
    unlisted = Option(underlying="SPY", expiry=expiry, strike=12_345.0, right="C")
    assert not engine.market.is_listed(unlisted)
    order = engine.book_at_prices(
        tag="test",
        intent="open",
        position_id=None,
        legs=(Leg(instrument=unlisted, ratio=1),),
        quantity=2,
        prices={unlisted.key: 3.00},
        source="demo",
    )

    # Act
    after = engine.revalue()

    # Assert: the position says it has no price; nothing pretends 0 is one.
    view = after.views[order.position_id]
    assert view.mark_state == "invalid"
    assert view.market_value is None and view.unrealized_pnl is None
    assert view.day_pnl is None and view.pnl_pct is None
    assert view.legs[0].mark is None and view.legs[0].market_value is None
    assert after.unpriced_legs == before.unpriced_legs + 1 == 1
    assert after.summary.unpriced_legs == 1  # what the desk is told, to say so
    assert after.summary.excluded_legs == before.summary.excluded_legs + 1
    # The 600 paid left the cash and is carried at cost: equity neither drops nor jumps.
    assert after.summary.cash == pytest.approx(before.summary.cash - 600.0)
    assert after.summary.market_value == pytest.approx(before.summary.market_value + 600.0)
    assert after.summary.equity == pytest.approx(before.summary.equity)
    assert after.summary.unrealized_pnl == pytest.approx(before.summary.unrealized_pnl)
    assert after.position_values[order.position_id] == pytest.approx(600.0)
