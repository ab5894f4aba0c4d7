"""The position manager's rules, one at a time at their thresholds: each gives its action
and reason, and a position that meets none of them is held."""

from __future__ import annotations

import pytest

from engine.agents.position_manager import PositionManager
from engine.config import PositionManagerConfig
from engine.records import Greeks, PositionView

# Profit target 50% of max profit, stops at 2x the credit or half the debit,
# roll at 21 DTE or less, close at 1 DTE or less.
MANAGER = PositionManager(PositionManagerConfig())


def view(*, cost: float, pnl: float, max_profit: float | None, dte: int | None, marks="ok"):
    return PositionView(
        position_id="P1",
        underlying="SPY",
        strategy="test",
        bias="neutral",
        quantity=1,
        legs=(),
        opened_at=0,
        expiry=None,
        dte=dte,
        cost_basis=cost,
        market_value=cost + pnl,
        unrealized_pnl=pnl,
        realized_pnl=0.0,
        day_pnl=None,
        pnl_pct=None,
        max_profit=max_profit,
        max_loss=None,
        greeks=Greeks(),
        mark_state=marks,
        ts=0,
    )


CREDIT = {"cost": -300.0, "max_profit": 300.0}  # a spread sold for 3.00
DEBIT = {"cost": 400.0, "max_profit": 600.0}  # a spread bought for 4.00, 10 wide
LONG_CALL = {"cost": 500.0, "max_profit": None}  # unlimited upside


@pytest.mark.parametrize(
    ("position", "pnl", "dte", "action", "reason"),
    [
        # Profit target: half of max profit.
        (CREDIT, 150.0, 30, "CLOSE", "profit target: 50% of max profit taken"),
        (DEBIT, 300.0, 30, "CLOSE", "profit target: 50% of max profit taken"),
        (CREDIT, 120.0, 30, "HOLD", "40% of max profit, 30 DTE"),
        # Unlimited max profit: half of the debit paid.
        (LONG_CALL, 250.0, 60, "CLOSE", "profit target: up 50% on the 500 paid"),
        (LONG_CALL, 600.0, 60, "CLOSE", "profit target: up 120% on the 500 paid"),
        (LONG_CALL, 200.0, 60, "HOLD", "+40% on the debit, 60 DTE"),
        # Stops: twice the credit, half the debit.
        (CREDIT, -600.0, 30, "CLOSE", "stop: loss is 2.0x the credit"),
        (CREDIT, -590.0, 30, "HOLD", "-197% of max profit, 30 DTE"),
        (DEBIT, -200.0, 30, "CLOSE", "stop: lost 50% of the debit"),
        (DEBIT, -190.0, 30, "HOLD", "-32% of max profit, 30 DTE"),
        (LONG_CALL, -250.0, 60, "CLOSE", "stop: lost 50% of the debit"),
        # Days to expiry: roll at 21 or less, close at 1 or less.
        (CREDIT, 0.0, 22, "HOLD", "0% of max profit, 22 DTE"),
        (CREDIT, 0.0, 21, "ROLL", "21 DTE: roll out to keep time on the trade"),
        (CREDIT, 0.0, 2, "ROLL", "2 DTE: roll out to keep time on the trade"),
        (CREDIT, 0.0, 1, "CLOSE", "expires in 1 day: close, don't hold into expiry"),
        (CREDIT, 0.0, 0, "CLOSE", "expires in 0 days: close, don't hold into expiry"),
        # Order: expiry before everything, the target and the stop before the roll.
        (CREDIT, 200.0, 1, "CLOSE", "expires in 1 day: close, don't hold into expiry"),
        (CREDIT, 200.0, 10, "CLOSE", "profit target: 67% of max profit taken"),
        (DEBIT, -300.0, 10, "CLOSE", "stop: lost 75% of the debit"),
    ],
)
def test_each_rule_fires_at_its_threshold_with_its_reason(position, pnl, dte, action, reason):
    assert MANAGER.judge(view(pnl=pnl, dte=dte, **position)) == (action, reason)


@pytest.mark.parametrize("position", [CREDIT, DEBIT, LONG_CALL])
@pytest.mark.parametrize("dte", [22, 45, 200])
def test_a_position_inside_every_threshold_is_held(position, dte):
    cost = position["cost"]
    inside = (-0.49 * abs(cost), 0.0, 0.2 * abs(cost))

    for pnl in inside:
        action, reason = MANAGER.judge(view(pnl=pnl, dte=dte, **position))
        assert action == "HOLD", (pnl, reason)
        assert reason.endswith(f"{dte} DTE")


def test_stock_has_a_target_and_a_stop_but_no_expiry_rule():
    stock = {"cost": 20_000.0, "max_profit": None, "dte": None}

    assert MANAGER.judge(view(pnl=10_000.0, **stock))[0] == "CLOSE"
    assert MANAGER.judge(view(pnl=-10_000.0, **stock))[0] == "CLOSE"
    assert MANAGER.judge(view(pnl=500.0, **stock)) == ("HOLD", "+2% on the debit, no expiry")


@pytest.mark.parametrize("marks", ["stale", "invalid", "pending"])
def test_no_rule_is_applied_on_marks_that_cannot_be_trusted(marks):
    # Past the stop and a day from expiry, but the price behind it is not good.
    action, reason = MANAGER.judge(view(pnl=-900.0, dte=1, marks=marks, **CREDIT))

    assert action == "HOLD" and reason.startswith(f"marks {marks}")


def test_without_a_price_there_is_no_judgement():
    unpriced = view(pnl=0.0, dte=1, **CREDIT)
    unpriced = type(unpriced)(**{**_fields(unpriced), "unrealized_pnl": None})

    assert MANAGER.judge(unpriced)[0] == "HOLD"


def _fields(record) -> dict:
    return {name: getattr(record, name) for name in record.__struct_fields__}
