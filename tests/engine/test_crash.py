"""A SIGKILL at any moment loses no acknowledged command and duplicates no fill.

Each run starts the crash driver (``tests/engine/crash_driver.py``) as a real process on a
fresh journal and kills it: either with SIGKILL from here at a seeded random moment after
it reported READY, or by a named crash point (``DESK_CRASH_AT``) that makes it SIGKILL
itself at an exact place (after a command, order or fill is journaled, after a submit, or
between the broker's execution and the fill's journal record). Some runs crash a second
driver on the same journal before the check, so recovery itself is crashed into.

Then an engine is started on the same journal in this process and held to the broker's
own record (the paper broker's ledger, a separate SQLite file):

* every ACK the driver printed has a journaled result with the same verdict and order id;
* no command has more than one order, here or at the broker, and no fill id is seen twice;
* the journal's fills are exactly the broker's executions;
* the rebuilt book's net quantity per instrument equals the ledger's positions, and cash
  equals the initial cash minus every execution's cash flow and commission, to the cent;
* the restarted engine is not halted and can still close a position through the broker.
"""

from __future__ import annotations

import random
import select
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import NamedTuple

import pytest

from engine.engine import Engine
from engine.portfolio import cash_cents, dollars_to_cents
from engine.records import ClosePosition, CommandResult, Fill, Order, SetKillSwitch
from engine.runner import build_engine, start
from tests.engine.conftest import command_id, until
from tests.engine.crash_driver import ROOT, Ack, driver_config, driver_env, parse_acks

pytestmark = pytest.mark.slow

READY_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 90.0


class Run(NamedTuple):
    seed: int
    crash_at: str | None
    """A crash point ``name:N``; None kills from outside at a random moment."""
    again: bool = False
    """Crash a second driver on the same journal before checking."""


# Crash points are exact: the driver reads no wall clock, so ``name:N`` dies at the same
# place every time. The N are chosen so the point is reached in a couple of hundred ticks;
# after_broker_execution:3 dies while the demo book is being opened on the new journal.
RUNS = [
    Run(1, None),
    Run(2, None),
    Run(3, None, again=True),
    Run(4, None),
    Run(5, None),
    Run(6, None, again=True),
    Run(7, None),
    Run(8, None),
    Run(9, None),
    Run(10, None, again=True),
    Run(11, "after_command_journal:3"),
    Run(12, "after_command_journal:9"),
    Run(13, "after_order_journal:2"),
    Run(14, "after_order_journal:6"),
    Run(15, "after_submit:1"),
    Run(16, "after_submit:5"),
    Run(17, "after_broker_execution:3"),
    Run(18, "after_broker_execution:9"),
    Run(19, "after_broker_execution:12", again=True),
    Run(20, "after_fill_journal:9"),
    Run(21, "after_fill_journal:14"),
    Run(22, "after_order_journal:4", again=True),
]


def drive(journal: Path, seed: int, crash_at: str | None) -> list[Ack]:
    """Run the driver until it crashes itself or is killed; return its ACKs."""
    out = journal.parent / f"acks-{seed}.txt"
    with out.open("wb") as stdout:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.engine.crash_driver", str(journal), str(seed)],
            cwd=ROOT,
            env=driver_env(crash_at),
            stdout=stdout,
            stderr=subprocess.PIPE,
        )
        try:
            assert proc.stderr is not None
            ready, _, _ = select.select([proc.stderr], [], [], READY_TIMEOUT_S)
            first = proc.stderr.readline() if ready else b""
            if crash_at is None:
                assert first == b"READY\n", f"driver did not start: {first!r}"
                # The moment of death: anywhere in the first 1.5 s of trading.
                time.sleep(random.Random(seed).uniform(0.0, 1.5))
                proc.send_signal(signal.SIGKILL)
            code = proc.wait(timeout=RUN_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        errors = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
    assert code == -signal.SIGKILL, f"driver exited {code}, not by SIGKILL:\n{errors}"
    return parse_acks(out.read_bytes())


def reopen(journal: Path) -> Engine:
    engine = build_engine(driver_config(journal))
    start(engine)
    return engine


def assert_book_matches_broker(engine: Engine) -> None:
    ledger = engine.broker.ledger  # type: ignore[attr-defined]
    executions = ledger.executions()
    ours: dict[str, int] = defaultdict(int)
    for position in engine.book.open_positions():
        for key, leg in position.legs.items():
            if leg.quantity:
                ours[key] += leg.quantity
    assert dict(ours) == ledger.positions()

    fills = [e.record for e in engine.journal.entries() if e.kind == "fill"]
    assert all(isinstance(f, Fill) for f in fills)
    counted = Counter(f.fill_id for f in fills)
    assert max(counted.values()) == 1, "a fill was journaled twice"
    assert set(counted) == {x.exec_id for x in executions}

    flows = sum(
        sum(cash_cents(leg.price, leg.quantity, leg.instrument.multiplier) for leg in x.legs)
        + dollars_to_cents(x.commission)
        for x in executions
    )
    assert engine.book.cash_cents == engine.book.initial_cash_cents - flows


def assert_acks_kept(engine: Engine, acks: list[Ack]) -> None:
    unanswered = set(engine.commands) - set(engine.results)
    assert not unanswered, f"journaled commands left without an answer: {sorted(unanswered)}"
    for ack in acks:
        result = engine.journal.find("result", ack.command_id)
        assert isinstance(result, CommandResult), f"ACKed {ack.command_id} has no journaled result"
        assert (result.accepted, result.order_id) == (ack.accepted, ack.order_id), ack


def assert_one_order_per_command(engine: Engine) -> None:
    ledger = engine.broker.ledger  # type: ignore[attr-defined]
    by_command: dict[str, set[int]] = defaultdict(set)
    for entry in engine.journal.entries():
        if entry.kind == "order":
            assert isinstance(entry.record, Order)
            by_command[entry.record.command_id].add(entry.record.order_id)
    for cid, order_ids in by_command.items():
        assert len(order_ids) == 1, f"command {cid} has orders {sorted(order_ids)}"
        at_broker = ledger.order_by_ref(cid)
        if at_broker is not None:
            assert at_broker[0].order_id in order_ids, f"{cid}: broker has another order"
    for cid, result in engine.results.items():
        if result.order_id is not None:
            assert by_command[cid] == {result.order_id}
    for execution in ledger.executions():
        order = engine.orders.get(execution.order_id)
        assert order is not None, f"the broker executed order {execution.order_id} we never sent"
        assert execution.order_ref == order.command_id


def assert_can_still_trade(engine: Engine) -> None:
    assert engine.halt_reason == ""
    if engine.kill_switch:
        off = SetKillSwitch(command_id=command_id(), actor="test", issued_at=0, on=False)
        assert engine.execute(off).accepted
    until(engine, lambda: not engine.working_positions(), ticks=400)
    position = sorted(engine.book.open_positions(), key=lambda p: p.position_id)[0]
    result = engine.execute(
        ClosePosition(
            command_id=command_id(), actor="test", issued_at=0, position_id=position.position_id
        )
    )
    assert result.accepted, result.message
    until(engine, lambda: engine.orders[result.order_id].state == "filled", ticks=400)
    assert engine.book.positions[position.position_id].closed_at is not None


@pytest.mark.parametrize("run", RUNS, ids=lambda r: f"{r.seed}-{r.crash_at or 'kill'}")
def test_sigkill_loses_no_acknowledged_command_and_duplicates_no_fill(tmp_path, run):
    # Arrange + Act: crash the driver (twice for some runs) on one journal.
    journal = tmp_path / "journal.db"
    acks = drive(journal, run.seed, run.crash_at)
    if run.again:
        acks += drive(journal, run.seed + 1000, None)

    # Assert: the restarted engine agrees with every ACK and with the broker's record.
    engine = reopen(journal)
    try:
        assert engine.counters["journal_fold_mismatches"] == 0
        assert_acks_kept(engine, acks)
        assert_one_order_per_command(engine)
        assert_book_matches_broker(engine)
        assert_can_still_trade(engine)
        assert_book_matches_broker(engine)
    finally:
        engine.shutdown()
