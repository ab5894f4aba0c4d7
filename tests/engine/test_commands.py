"""Commands against a real engine: each one validated, journaled, acted on once."""

from __future__ import annotations

import msgspec
import pytest

from engine.previews import close_preview
from engine.records import (
    ClosePosition,
    PauseAgent,
    ResumeAgent,
    RollPosition,
    SetKillSwitch,
)
from tests.engine.conftest import advance, command_id, until


def first(engine, strategy: str):
    return next(p for p in engine.book.open_positions() if p.shape.name == strategy)


def close(engine, position_id: str, **kw) -> ClosePosition:
    return ClosePosition(
        command_id=command_id(), actor="test", issued_at=0, position_id=position_id, **kw
    )


def test_demo_book_opens_with_the_structures_a_trader_recognises(engine):
    names = sorted(p.shape.name for p in engine.book.open_positions())

    assert names == sorted(
        [
            "bull put spread",
            "bear call spread",
            "iron condor",
            "long call",
            "short put",
            "protective put",
            "bull call spread",
        ]
    )
    assert engine.journal.count("fill") == 7


def test_close_sends_one_combo_order_and_the_fill_closes_the_position(engine):
    position = first(engine, "iron condor")

    result = engine.execute(close(engine, position.position_id))

    assert result.accepted, result.message
    order = engine.orders[result.order_id]
    assert order.intent == "close" and len(order.legs) == 4
    until(engine, lambda: engine.orders[result.order_id].state == "filled")
    assert engine.book.positions[position.position_id].closed_at is not None
    assert engine.broker.positions().keys().isdisjoint(position.legs.keys())


def test_partial_close_leaves_the_rest_open(engine):
    position = first(engine, "bull put spread")
    units = position.units

    result = engine.execute(close(engine, position.position_id, quantity=1))
    until(engine, lambda: engine.orders[result.order_id].state == "filled")

    assert engine.book.positions[position.position_id].units == units - 1


def test_same_command_twice_answers_the_first_result_and_sends_one_order(engine):
    position = first(engine, "long call")
    command = close(engine, position.position_id)

    first_answer = engine.execute(command)
    second_answer = engine.execute(command)

    assert second_answer.duplicate and not first_answer.duplicate
    assert msgspec.structs.replace(second_answer, duplicate=False) == first_answer
    assert sum(1 for o in engine.orders.values() if o.command_id == command.command_id) == 1
    assert engine.journal.count("result") == 1


def test_a_position_already_closing_refuses_a_second_close(engine):
    position = first(engine, "short put")
    engine.execute(close(engine, position.position_id, limit=0.01))

    again = engine.execute(close(engine, position.position_id))

    assert (again.accepted, again.code) == (False, "POSITION_CLOSING")
    assert "already closing" in again.message


def test_roll_is_one_combo_order_that_keeps_the_position_and_moves_its_expiry(engine):
    position = first(engine, "bear call spread")
    old_expiry = position.expiry
    later = [d for d in engine.market.expiries(position.underlying) if d > old_expiry]

    result = engine.execute(
        RollPosition(
            command_id=command_id(),
            actor="t",
            issued_at=0,
            position_id=position.position_id,
            to_expiry=later[2],
        )
    )

    assert result.accepted, result.message
    assert result.net_price is not None and (
        "credit" in result.message or "debit" in result.message
    )
    until(engine, lambda: engine.orders[result.order_id].state == "filled")
    rolled = engine.book.positions[position.position_id]
    assert rolled.closed_at is None and rolled.expiry == later[2]
    assert rolled.shape.name == "bear call spread"
    assert sum(1 for o in engine.orders.values() if o.position_id == position.position_id) == 2


def test_kill_switch_cancels_working_orders_refuses_new_risk_allows_closing(engine):
    spread = first(engine, "bull put spread")
    working = engine.execute(close(engine, spread.position_id, limit=0.01))
    condor = first(engine, "iron condor")
    later = next(d for d in engine.market.expiries(condor.underlying) if d > condor.expiry)

    on = engine.execute(SetKillSwitch(command_id=command_id(), actor="t", issued_at=0, on=True))
    advance(engine)
    roll = engine.execute(
        RollPosition(
            command_id=command_id(),
            actor="t",
            issued_at=0,
            position_id=condor.position_id,
            to_expiry=later,
        )
    )
    closing = engine.execute(close(engine, condor.position_id))

    assert on.accepted and "1 working order(s) cancelled" in on.message
    assert engine.orders[working.order_id].state == "cancelled"
    assert (roll.accepted, roll.code) == (False, "KILL_SWITCH_ON")
    assert closing.accepted


def test_pause_and_resume_an_agent(engine):
    paused = engine.execute(
        PauseAgent(command_id=command_id(), actor="t", issued_at=0, agent="technical")
    )
    state = {a.name: a.state for a in engine.agent_statuses()}["technical"]
    resumed = engine.execute(
        ResumeAgent(command_id=command_id(), actor="t", issued_at=0, agent="technical")
    )

    assert paused.accepted and state == "PAUSED"
    assert resumed.accepted and "technical" not in engine.paused


@pytest.mark.parametrize(
    ("quantity", "code"),
    [
        (0, "QUANTITY_BELOW_MINIMUM"),
        (-3, "QUANTITY_BELOW_MINIMUM"),
        (1.5, "QUANTITY_INVALID"),
        (10**9, "QUANTITY_EXCEEDS_MAXIMUM"),
        (50, "QUANTITY_EXCEEDS_POSITION"),
    ],
)
def test_bad_quantities_are_refused_with_a_code_and_no_order(engine, quantity, code):
    position = first(engine, "iron condor")
    orders_before = len(engine.orders)

    result = engine.execute(close(engine, position.position_id, quantity=quantity))

    assert (result.accepted, result.code) == (False, code)
    assert len(engine.orders) == orders_before


def test_unknown_ids_get_not_found_codes(engine):
    missing = engine.execute(close(engine, "NOPE-1"))
    agent = engine.execute(
        PauseAgent(command_id=command_id(), actor="t", issued_at=0, agent="ghost")
    )

    assert missing.code == "POSITION_NOT_FOUND"
    assert agent.code == "AGENT_NOT_FOUND" and "technical" in agent.message


def test_fat_finger_limit_far_through_the_market_is_refused(engine):
    # Buying back a short put: paying ten times the mid can only be a slip of the finger.
    position = first(engine, "short put")
    mid = _mid(engine, position)

    through = engine.execute(close(engine, position.position_id, limit=round(10 * mid, 2)))
    passive = engine.execute(close(engine, position.position_id, limit=round(mid / 10, 2)))

    assert (through.accepted, through.code) == (False, "LIMIT_THROUGH_MARKET")
    assert "through the natural price" in through.message
    assert passive.accepted, "a limit below the market is merely patient"


def _mid(engine, position) -> float:
    preview = close_preview(engine, position.position_id)
    assert preview.mid is not None and preview.mid > 0
    return preview.mid


GREEKS = ("delta", "gamma", "theta", "vega", "rho", "dollar_delta", "dollar_gamma")


@pytest.mark.parametrize(("position_id", "quantity"), [("NVDA-5", None), ("SPY-1", 1)])
def test_close_preview_gives_the_books_greeks_before_and_after_and_the_change(
    engine, position_id, quantity
):
    # The valuation behind the Greeks pane is the independent reference: book and position.
    valuation = engine.revalue()
    book = valuation.summary.greeks
    own = valuation.views[position_id].greeks
    units = engine.book.positions[position_id].units
    share = (quantity or units) / units

    preview = close_preview(engine, position_id, quantity)

    for name in GREEKS:
        moved = -share * getattr(own, name)
        assert getattr(preview.greeks_change, name) == pytest.approx(moved, abs=1e-6), name
        assert getattr(preview.portfolio_greeks_before, name) == pytest.approx(
            getattr(book, name), abs=1e-6
        ), name
        assert getattr(preview.portfolio_greeks_after, name) == pytest.approx(
            getattr(book, name) + moved, abs=1e-6
        ), name
    assert preview.portfolio_greeks_after.delta != pytest.approx(0.0, abs=1.0), (
        "the book keeps its other positions' delta after this close"
    )
