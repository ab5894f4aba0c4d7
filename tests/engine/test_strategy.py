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
