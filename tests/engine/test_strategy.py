"""Strategy recognition and max profit / loss at expiry, on the structures traders use."""

import datetime as dt

import pytest

from engine.records import Option, Stock
from engine.strategy import Holding, payoff_extremes, recognise

EXP = dt.date(2026, 12, 18)
LATER = dt.date(2027, 1, 15)


def opt(strike: float, right: str, expiry: dt.date = EXP) -> Option:
    return Option(underlying="SPY", expiry=expiry, strike=strike, right=right)


@pytest.mark.parametrize(
    ("legs", "name", "bias"),
    [
        ([(opt(600, "C"), 1)], "long call", "bullish"),
        ([(opt(600, "C"), -1)], "short call", "bearish"),
        ([(opt(600, "P"), 2)], "long put", "bearish"),
        ([(opt(600, "P"), -1)], "short put", "bullish"),
        ([(opt(600, "C"), 1), (opt(610, "C"), -1)], "bull call spread", "bullish"),
        ([(opt(600, "C"), -1), (opt(610, "C"), 1)], "bear call spread", "bearish"),
        ([(opt(600, "P"), -1), (opt(590, "P"), 1)], "bull put spread", "bullish"),
        ([(opt(600, "P"), 1), (opt(590, "P"), -1)], "bear put spread", "bearish"),
        ([(opt(600, "P"), 1), (opt(600, "C"), 1)], "long straddle", "neutral"),
        ([(opt(590, "P"), -1), (opt(610, "C"), -1)], "short strangle", "neutral"),
        ([(opt(600, "C"), -1), (opt(600, "C", LATER), 1)], "call calendar", "neutral"),
        ([(opt(600, "P"), -1), (opt(590, "P", LATER), 1)], "put diagonal", "neutral"),
        (
            [(opt(580, "P"), 1), (opt(590, "P"), -1), (opt(610, "C"), -1), (opt(620, "C"), 1)],
            "iron condor",
            "neutral",
        ),
        (
            [(opt(590, "P"), 1), (opt(600, "P"), -1), (opt(600, "C"), -1), (opt(610, "C"), 1)],
            "iron butterfly",
            "neutral",
        ),
        (
            [(opt(590, "C"), 1), (opt(600, "C"), -2), (opt(610, "C"), 1)],
            "long call butterfly",
            "neutral",
        ),
        ([(Stock(symbol="SPY"), 100), (opt(620, "C"), -1)], "covered call", "bullish"),
        ([(Stock(symbol="SPY"), 100), (opt(560, "P"), 1)], "protective put", "bullish"),
        (
            [(Stock(symbol="SPY"), 100), (opt(560, "P"), 1), (opt(620, "C"), -1)],
            "collar",
            "bullish",
        ),
        ([(Stock(symbol="SPY"), 100)], "long stock", "bullish"),
        (
            [(opt(600, "C"), 1), (opt(610, "C"), -1), (opt(620, "P"), 3)],
            "custom (3 legs)",
            "neutral",
        ),
    ],
)
def test_structures_are_named_as_a_trader_would(legs, name, bias):
    shape = recognise([Holding(i, q) for i, q in legs])

    assert (shape.name, shape.bias) == (name, bias)


SPY = Stock(symbol="SPY")


@pytest.mark.parametrize(
    ("legs", "name", "bias"),
    [
        # Calls are covered only as far as the shares go: 100 shares cover one contract.
        ([(SPY, 200), (opt(620, "C"), -2)], "covered call", "bullish"),
        ([(SPY, 150), (opt(620, "C"), -1)], "covered call", "bullish"),
        ([(SPY, 100), (opt(620, "C"), -5)], "ratio call write", "neutral"),
        ([(SPY, 10), (opt(620, "C"), -1)], "uncovered call", "bearish"),
        # A protective put protects as many shares as it has contracts for.
        ([(SPY, 200), (opt(560, "P"), 2)], "protective put", "bullish"),
        ([(SPY, 200), (opt(560, "P"), 1)], "partial protective put", "bullish"),
        ([(SPY, 100), (opt(560, "P"), 3)], "custom (2 legs)", "neutral"),
        ([(SPY, 100), (opt(560, "P"), 1), (opt(620, "C"), -2)], "custom (3 legs)", "neutral"),
        ([(SPY, 100), (opt(560, "P"), 3), (opt(620, "C"), -1)], "custom (3 legs)", "neutral"),
    ],
)
def test_stock_covers_or_protects_only_as_many_contracts_as_it_has_shares_for(legs, name, bias):
    shape = recognise([Holding(i, q) for i, q in legs])

    assert (shape.name, shape.bias) == (name, bias)


def qqq(strike: float, right: str, expiry: dt.date = EXP) -> Option:
    return Option(underlying="QQQ", expiry=expiry, strike=strike, right=right)


@pytest.mark.parametrize(
    "legs",
    [
        [(opt(600, "C"), 1), (qqq(610, "C"), -1)],  # would be a bull call spread
        [(opt(600, "P"), -1), (qqq(600, "P"), 1)],  # would be a bear put spread
        [(opt(600, "C"), -1), (qqq(600, "C", LATER), 1)],  # would be a calendar
        [(opt(600, "P"), 1), (qqq(600, "C"), 1)],  # would be a straddle
        [(Stock(symbol="TSLA"), 100), (opt(620, "C"), -1)],  # would be a covered call
        [(Stock(symbol="TSLA"), 100), (opt(560, "P"), 1)],  # would be a protective put
        [(opt(580, "P"), 1), (opt(590, "P"), -1), (qqq(610, "C"), -1), (qqq(620, "C"), 1)],
        [(opt(590, "C"), 1), (qqq(600, "C"), -2), (opt(610, "C"), 1)],
    ],
)
def test_legs_on_different_underlyings_are_never_named_as_one_structure(legs):
    shape = recognise([Holding(i, q) for i, q in legs])

    assert shape == (f"custom ({len(legs)} legs)", "neutral")


def test_vertical_credit_spread_extremes_are_credit_and_width_less_credit():
    # Sold the 600/590 put spread for 3.00 credit: max profit 300, max loss 700.
    holdings = [Holding(opt(600, "P"), -1), Holding(opt(590, "P"), 1)]

    profit, loss = payoff_extremes(holdings, net_cost=-300.0)

    assert profit == pytest.approx(300.0)
    assert loss == pytest.approx(700.0)


def test_naked_short_call_has_unlimited_loss_and_long_call_unlimited_profit():
    assert payoff_extremes([Holding(opt(600, "C"), -1)], -500.0) == (500.0, None)
    assert payoff_extremes([Holding(opt(600, "C"), 1)], 500.0) == (None, 500.0)


def test_covered_call_loss_is_stock_cost_less_premium():
    holdings = [Holding(Stock(symbol="SPY"), 100), Holding(opt(620, "C"), -1)]

    profit, loss = payoff_extremes(holdings, net_cost=60_000.0 - 500.0)

    assert profit == pytest.approx(62_000.0 - 59_500.0)
    assert loss == pytest.approx(59_500.0)


def test_calendar_has_no_single_expiry_payoff_so_profit_is_unknown():
    holdings = [Holding(opt(600, "C"), -1), Holding(opt(600, "C", LATER), 1)]

    assert payoff_extremes(holdings, net_cost=250.0) == (None, 250.0)


def test_extremes_across_underlyings_add_up_because_the_prices_move_independently():
    # SPY 600/590 put spread sold for 3.00 and QQQ 500/510 call spread sold for 2.00: the
    # worst case is both losing their full width at once, the best both expiring worthless.
    holdings = [
        Holding(opt(600, "P"), -1),
        Holding(opt(590, "P"), 1),
        Holding(qqq(500, "C"), -1),
        Holding(qqq(510, "C"), 1),
    ]

    profit, loss = payoff_extremes(holdings, net_cost=-500.0)

    assert profit == pytest.approx(500.0)
    assert loss == pytest.approx(1_000.0 + 1_000.0 - 500.0)


def test_a_long_call_on_one_underlying_and_a_short_put_on_another_risk_the_put_strike():
    # Paid 5.00 for the SPY 600 call, took 4.00 for the QQQ 500 put: profit is unlimited,
    # the loss is QQQ going to zero while SPY expires below 600.
    holdings = [Holding(opt(600, "C"), 1), Holding(qqq(500, "P"), -1)]

    assert payoff_extremes(holdings, net_cost=100.0) == (None, pytest.approx(50_100.0))
