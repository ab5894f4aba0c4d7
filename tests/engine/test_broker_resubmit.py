"""An order journaled but never sent is checked again before a restart sends it.

The crash is real: the crash driver rolls QQQ-2 and dies by SIGKILL right after the order
is journaled, before it reaches the broker. What changed before the restart decides what
happens to it: tighter risk limits in the engine, a broker that now refuses the size, the
kill switch on. An order that fails is journaled rejected with its reason, the command that
placed it is answered rejected, nothing reaches the broker, and nothing is left open.
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pytest

from engine.engine import Engine
from engine.journal import Journal
from engine.records import Order, SetKillSwitch
from engine.runner import build_engine, start
from tests.engine.conftest import advance, command_id, roll
from tests.engine.crash_driver import driver_config, run_script


def reopen(journal: Path, **sections: object) -> Engine:
    engine = build_engine(driver_config(journal, **sections))
    start(engine)
    return engine


@pytest.fixture(scope="module")
def crashed(tmp_path_factory) -> Path:
    """A journal whose last act was journaling a roll of QQQ-2 that was never sent."""
    journal = tmp_path_factory.mktemp("crashed") / "journal.db"
    reopen(journal).shutdown()
    steps = [{"op": "roll", "position": "QQQ-2", "offset": 2}, {"op": "ticks", "n": 4}]
    code, acks, errors = run_script(journal, steps, crash_at="after_order_journal")
    assert code == -signal.SIGKILL, errors
    assert acks == [], "the driver died before it could answer"
    return journal


def copy_of(crashed: Path, tmp_path: Path) -> Path:
    shutil.copytree(crashed.parent, tmp_path / "run")
    return tmp_path / "run" / crashed.name


def unsent_roll(journal: Path) -> Order:
    records = Journal(journal)
    try:
        [order] = [
            e.record
            for e in records.entries()
            if e.kind == "order" and isinstance(e.record, Order) and e.record.intent == "roll"
        ]
    finally:
        records.close()
    assert order.state == "new"
    return order


def assert_refused_and_closed(engine: Engine, order: Order, code: str, words: str) -> None:
    now = engine.orders[order.order_id]
    assert (now.state, now.code) == ("rejected", code)
    assert words in now.reason
    journaled = engine.journal.entries()
    last = [e.record for e in journaled if e.kind == "order" and e.key == str(order.order_id)][-1]
    assert (last.state, last.code) == ("rejected", code), "the rejection is journaled"
    answer = engine.results[order.command_id]
    assert (answer.accepted, answer.code, answer.order_id) == (False, code, order.order_id)
    assert engine.working_positions() == {}
    advance(engine, 10)
    assert engine.orders[order.order_id].state == "rejected", "it stays rejected"
    assert engine.working_positions() == {}


def test_tighter_risk_limits_at_restart_reject_the_unsent_order_without_sending_it(
    crashed, tmp_path
):
    journal = copy_of(crashed, tmp_path)
    order = unsent_roll(journal)
    assert order.quantity == 2

    engine = reopen(journal, risk={"max_order_quantity": 1})

    try:
        assert_refused_and_closed(engine, order, "QUANTITY_EXCEEDS_MAXIMUM", "not sent at restart")
        assert engine.broker.find_order(order.command_id) is None, "the broker never saw it"
        assert "ORDER_NOT_SENT" in [a.code for a in engine.alerts]
        legs = {k: leg.quantity for k, leg in engine.book.positions["QQQ-2"].legs.items()}
        assert sorted(legs.values()) == [-2, 2], "QQQ-2 is as it was"
    finally:
        engine.shutdown()


def test_a_broker_that_now_refuses_the_size_rejects_it_and_the_command_says_so(crashed, tmp_path):
    journal = copy_of(crashed, tmp_path)
    order = unsent_roll(journal)

    engine = reopen(journal, broker={"paper": {"max_quantity": 1}})

    try:
        assert_refused_and_closed(engine, order, "QUANTITY_EXCEEDS_MAXIMUM", "maximum 1")
        at_broker = engine.broker.find_order(order.command_id)
        assert at_broker is not None and at_broker.state == "rejected"
    finally:
        engine.shutdown()


def test_an_unsent_roll_is_rejected_at_restart_when_the_kill_switch_is_on(tmp_path):
    # A submit lost on its way to the broker, then the kill switch: the broker has nothing
    # to cancel, so the engine's order is still "new" when the engine stops.
    journal = tmp_path / "journal.db"
    engine = reopen(journal)
    engine.broker.drop_submits(1)
    placed = engine.execute(roll(engine, "QQQ-2"))
    assert placed.accepted, placed.message
    on = SetKillSwitch(command_id=command_id(), actor="t", issued_at=0, on=True)
    assert engine.execute(on).accepted
    order = engine.orders[placed.order_id]
    assert order.state == "new"
    engine.shutdown()

    engine = reopen(journal)

    try:
        now = engine.orders[order.order_id]
        assert (now.state, now.code) == ("rejected", "KILL_SWITCH_ON")
        assert "not sent at restart" in now.reason
        assert engine.broker.find_order(order.command_id) is None
        assert engine.working_positions() == {}
    finally:
        engine.shutdown()
