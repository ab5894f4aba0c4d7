"""Recovery faults (FAULTS.md rows 21-24): crashes and damage between the journal and the broker.

* 21: killed between the broker's execution and the fill's journal record, the engine
  rebuilds the fill from the broker's executions on restart, once, deduplicated by id.
* 22: a broker whose positions differ from the journal at start (its ledger edited while
  the engine was down), or that reports none: trading halts with a message naming each
  instrument under ``reconcile = "halt"``; under ``"adopt"`` the broker's positions are
  taken with an explicit reconciliation fill. Never assumed flat.
* 23: killed in the middle of a roll (a journaled combo order: close the old legs, open
  the new), the restarted engine ends with exactly one close of the old legs and one open
  of the new ones; it never closes twice.
* 24: ``desk engine`` on a journal with a corrupt record in the middle exits 3 naming the
  record; on one whose last transaction was torn by a crash it drops it and starts.

Crashes are real: the crash driver runs in its own process and dies by SIGKILL at a named
crash point (``DESK_CRASH_AT``); the restart happens in this process on the same files.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from engine import codec
from engine.broker.base import BrokerOrder, Execution
from engine.broker.ledger import Ledger
from engine.engine import Engine
from engine.journal import Journal, Reconciled
from engine.records import ClosePosition, Fill, Leg, LegFill, Option, PauseAgent
from engine.runner import build_engine, ledger_path, start
from tests.engine.conftest import advance, close, until
from tests.engine.crash_driver import ROOT, driver_config, run_script

KILLED = -signal.SIGKILL


def reopen(journal: Path, **sections: object) -> Engine:
    engine = build_engine(driver_config(journal, **sections))
    start(engine)
    return engine


def fresh_journal(tmp_path: Path) -> Path:
    """A journal with the demo book opened and shut down cleanly, as after a normal day."""
    journal = tmp_path / "journal.db"
    reopen(journal).shutdown()
    return journal


def net_positions(engine: Engine) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for position in engine.book.open_positions():
        for key, leg in position.legs.items():
            if leg.quantity:
                totals[key] += leg.quantity
    return dict(totals)


def journaled_fills(engine: Engine) -> list[Fill]:
    return [e.record for e in engine.journal.entries() if e.kind == "fill"]


# --- 21: crash between the broker's execution and the fill's journal record ----------------


def test_a_fill_lost_in_a_crash_is_rebuilt_once_from_the_brokers_executions(tmp_path):
    # Arrange: a clean journal; a driver that closes IWM-3 and dies as its fill comes back.
    journal = fresh_journal(tmp_path)
    steps = [{"op": "close", "position": "IWM-3"}, {"op": "ticks", "n": 40}]

    # Act
    code, acks, errors = run_script(journal, steps, crash_at="after_broker_execution")

    # Assert: the broker executed it; the journal never heard. Then a restart mends that.
    assert code == KILLED, errors
    [ack] = acks
    ledger = Ledger(ledger_path(driver_config(journal)))
    [execution] = [x for x in ledger.executions() if x.order_id == ack.order_id]
    ledger.close()
    before = Journal(journal)
    assert before.find("fill", execution.exec_id) is None, "the crash came before the journal"
    before.close()
    engine = reopen(journal)
    fills = [f for f in journaled_fills(engine) if f.order_id == ack.order_id]
    assert [f.fill_id for f in fills] == [execution.exec_id]
    assert "FILLS_RECOVERED" in [a.code for a in engine.alerts]
    assert engine.orders[ack.order_id].state == "filled"
    assert engine.book.positions["IWM-3"].closed_at is not None
    assert net_positions(engine) == engine.broker.positions()
    engine.shutdown()

    # A second restart finds nothing new, and a late duplicate delivery changes nothing.
    engine = reopen(journal)
    count = len(journaled_fills(engine))
    cash = engine.book.cash_cents
    engine.on_execution(execution)
    assert len(journaled_fills(engine)) == count
    assert engine.book.cash_cents == cash
    assert engine.counters["duplicate_executions"] == 1
    assert [a.code for a in engine.alerts].count("FILLS_RECOVERED") == 1
    engine.shutdown()


# --- 22: the broker's positions differ from the journal at start ---------------------------


def short_put(journal: Path) -> Option:
    engine = reopen(journal)
    found = next(
        leg.instrument
        for leg in engine.book.positions["SPY-1"].open_legs
        if leg.quantity < 0 and isinstance(leg.instrument, Option)
    )
    engine.shutdown()
    assert isinstance(found, Option)
    return found


def more_in_a_known_execution(ledger: Ledger, put: Option) -> None:
    """The broker's record of SPY-1's opening fill says 5 short puts where we journaled 3."""
    [opening] = [x for x in ledger.executions() if x.position_id == "SPY-1"]
    legs = tuple(
        msgspec.structs.replace(leg, quantity=-5) if leg.instrument == put else leg
        for leg in opening.legs
    )
    edited = msgspec.structs.replace(opening, legs=legs)
    ledger._db.execute(
        "UPDATE executions SET body = ? WHERE exec_id = ?",
        (codec.encode(edited), opening.exec_id),
    )


def a_trade_placed_at_the_broker_by_hand(ledger: Ledger, put: Option) -> None:
    """Two more short puts sold at the broker, by someone, on an order the engine never sent."""
    order = BrokerOrder(
        order_id=900,
        order_ref="placed-at-the-broker-by-hand",
        position_id="",
        intent="open",
        legs=(Leg(instrument=put, ratio=-1),),
        quantity=2,
        limit=None,
        ts=0,
    )
    ledger.add_order(order, "filled")
    ledger.record_execution(
        Execution(
            exec_id="MANUAL.1",
            order_id=900,
            order_ref=order.order_ref,
            position_id="",
            intent="open",
            quantity=2,
            net_price=-5.0,
            legs=(LegFill(instrument=put, quantity=-2, price=5.0),),
            commission=1.3,
            ts=0,
        ),
        "filled",
    )


EDITS = [more_in_a_known_execution, a_trade_placed_at_the_broker_by_hand]


def edit_ledger_offline(journal: Path, edit: Callable[[Ledger, Option], None]) -> str:
    """Change the broker's ledger while the engine is down; return the instrument's key."""
    put = short_put(journal)
    ledger = Ledger(ledger_path(driver_config(journal)))
    edit(ledger, put)
    ledger.close()
    return put.key


@pytest.mark.parametrize("edit", EDITS, ids=lambda f: f.__name__)
def test_positions_that_differ_at_start_halt_trading_naming_the_instrument(tmp_path, edit):
    journal = fresh_journal(tmp_path)
    key = edit_ledger_offline(journal, edit)

    engine = reopen(journal, broker={"reconcile": "halt"})
    refused = engine.execute(close("AAPL-4"))

    assert engine.halt_reason.startswith("positions differ from the broker")
    assert f"{key.strip()}: journal -3, broker -5" in engine.halt_reason
    assert engine.status().trading_halted == engine.halt_reason
    alert = engine.alerts[-1]
    assert (alert.level, alert.code) == ("critical", "POSITION_MISMATCH")
    assert 'restart with broker.reconcile = "adopt"' in alert.message  # the way out
    assert (refused.accepted, refused.code) == (False, "TRADING_HALTED")
    assert refused.order_id is None
    reconciled = [e.record for e in engine.journal.entries() if e.kind == "reconciled"]
    assert [(r.action, r.mismatches) for r in reconciled] == [("halt", {key: (-3, -5)})]
    # Nothing was taken into the book behind the trader's back.
    assert net_positions(engine)[key] == -3
    assert "MANUAL.1" not in engine.book.fill_ids and "" not in engine.book.positions
    engine.shutdown()


@pytest.mark.parametrize("edit", EDITS, ids=lambda f: f.__name__)
def test_positions_that_differ_at_start_are_adopted_with_a_reconciliation_fill(tmp_path, edit):
    journal = fresh_journal(tmp_path)
    key = edit_ledger_offline(journal, edit)

    engine = reopen(journal, broker={"reconcile": "adopt"})

    assert engine.halt_reason == ""
    [fill] = [f for f in journaled_fills(engine) if f.source == "reconciliation"]
    assert [(leg.instrument.key, leg.quantity) for leg in fill.legs] == [(key, -2)]
    record = next(e.record for e in engine.journal.entries() if e.kind == "reconciled")
    assert isinstance(record, Reconciled) and record.action == "adopt"
    assert record.adopted_fills == (fill.fill_id,)
    assert (
        engine.alerts[-1].code == "POSITIONS_ADOPTED" and key.strip() in engine.alerts[-1].message
    )
    assert net_positions(engine) == engine.broker.positions()
    assert engine.execute(close("AAPL-4")).accepted
    engine.shutdown()

    # Adopted once: the next start agrees with the broker and adopts nothing more.
    engine = reopen(journal, broker={"reconcile": "adopt"})
    assert len([f for f in journaled_fills(engine) if f.source == "reconciliation"]) == 1
    assert engine.halt_reason == ""
    engine.shutdown()


def test_a_broker_that_reports_no_positions_halts_trading_rather_than_assume_flat(tmp_path):
    journal = fresh_journal(tmp_path)
    engine = build_engine(driver_config(journal))
    engine.broker.withhold_positions()

    start(engine)
    refused = engine.execute(close("AAPL-4"))

    assert engine.halt_reason == "the broker did not report its positions"
    assert "POSITIONS_UNKNOWN" in [a.code for a in engine.alerts]
    assert (refused.accepted, refused.code) == (False, "TRADING_HALTED")
    assert len(engine.book.open_positions()) == 7, "the journal's book stays as it was"
    engine.shutdown()
    engine = reopen(journal)
    assert engine.halt_reason == "", "a start with the report back trades again"
    engine.shutdown()


# --- 23: crash in the middle of a roll ------------------------------------------------------


@pytest.mark.parametrize(
    "crash_at",
    [
        "after_command_journal",
        "after_order_journal",
        "after_submit",
        "after_roll_submit",
        "after_broker_execution",
        "after_fill_journal",
    ],
)
def test_a_roll_cut_by_a_crash_closes_the_old_legs_once_and_opens_the_new_once(tmp_path, crash_at):
    # Arrange: the bear call spread QQQ-2 (2 units), rolled out three expiries.
    journal = fresh_journal(tmp_path)
    engine = reopen(journal)
    old = {key: leg.quantity for key, leg in engine.book.positions["QQQ-2"].legs.items()}
    old_expiry = engine.book.positions["QQQ-2"].expiry
    engine.shutdown()
    steps = [{"op": "roll", "position": "QQQ-2", "offset": 2}, {"op": "ticks", "n": 40}]

    # Act: die at the crash point, then restart and let any open order finish.
    code, _, errors = run_script(journal, steps, crash_at=crash_at)
    engine = reopen(journal)
    until(engine, lambda: not engine.working_positions())

    # Assert
    assert code == KILLED, errors
    [order] = [o for o in engine.orders.values() if o.intent == "roll"]
    assert order.state == "filled", order
    answer = engine.results[order.command_id]
    assert answer.accepted and answer.order_id == order.order_id
    at_broker = [x for x in engine.broker.executions() if x.position_id == "QQQ-2"]
    assert [x.intent for x in at_broker] == ["open", "roll"], "one open, one roll, nothing else"
    for key, quantity in old.items():
        moved = sum(leg.quantity for x in at_broker for leg in x.legs if leg.instrument.key == key)
        assert moved == 0, f"{key}: opened {quantity}, {moved:+d} held after the roll"
    position = engine.book.positions["QQQ-2"]
    assert position.closed_at is None and position.expiry > old_expiry
    assert sorted(leg.quantity for leg in position.open_legs) == sorted(old.values())
    assert position.shape.name == "bear call spread"
    assert net_positions(engine) == engine.broker.positions()
    engine.shutdown()


# --- 24: a damaged journal at the engine level ------------------------------------------------


def desk_engine(tmp_path: Path, journal: Path) -> subprocess.CompletedProcess[str]:
    """Run ``desk engine`` for half a second on ``journal`` with the tests' market."""
    config = tmp_path / "desk.toml"
    config.write_text(
        f'[journal]\npath = "{journal}"\n\n[market.sim]\nseed = 7\nstart_date = "2025-03-03"\n',
        encoding="utf-8",
    )
    return subprocess.run(
        [sys.executable, "-m", "desk.cli", "engine", "--config", str(config), "--duration", "0.5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def flip_byte_in(path: Path, needle: bytes) -> None:
    data = bytearray(path.read_bytes())
    at = data.index(needle)
    data[at + 2] ^= 0x20
    path.write_bytes(bytes(data))


def test_desk_engine_refuses_a_journal_corrupt_in_the_middle_with_exit_3_naming_the_record(
    tmp_path,
):
    # Arrange: a command in the middle of a day's records, then a byte of it flipped.
    journal = tmp_path / "journal.db"
    engine = reopen(journal)
    advance(engine, 5)
    middle = ClosePosition(
        command_id="cmd-middle", actor="trader-middle-x", issued_at=0, position_id="AAPL-4"
    )
    assert engine.execute(middle).accepted
    advance(engine, 10)
    engine.shutdown()
    flip_byte_in(journal, b"trader-middle-x")

    # Act
    proc = desk_engine(tmp_path, journal)

    # Assert
    assert proc.returncode == 3, proc.stderr
    assert "(command cmd-middle) fails its checksum; refusing to start" in proc.stderr
    assert "restore it from a backup" in proc.stderr


@pytest.mark.parametrize("cut", [1, 13, 64])
def test_desk_engine_starts_on_a_journal_whose_last_transaction_was_torn(tmp_path, cut):
    # Arrange: a driver killed mid-run leaves a live WAL; its tail is cut short.
    journal = fresh_journal(tmp_path)
    steps = [
        {"op": "close", "position": "IWM-3"},
        {"op": "ticks", "n": 10},
        {"op": "close", "position": "AAPL-4"},
        {"op": "ticks", "n": 10},
    ]
    code, _, errors = run_script(journal, steps, crash_at="after_fill_journal:2")
    assert code == KILLED, errors
    wal = journal.with_name(journal.name + "-wal")
    wal.write_bytes(wal.read_bytes()[:-cut])

    # Act
    proc = desk_engine(tmp_path, journal)

    # Assert: it starts, recovers from the broker what the cut lost, and stops cleanly.
    assert proc.returncode == 0, proc.stderr
    assert "started: existing journal" in proc.stderr
    engine = reopen(journal)
    assert engine.halt_reason == ""
    assert net_positions(engine) == engine.broker.positions()
    engine.shutdown()


def test_desk_engine_drops_a_last_record_that_fails_its_checksum_and_starts(tmp_path):
    journal = tmp_path / "journal.db"
    engine = reopen(journal)
    advance(engine, 3)
    engine.journal.append(
        "command",
        "cmd-tail",
        PauseAgent(command_id="cmd-tail", actor="trader-tail-x", issued_at=0, agent="technical"),
        engine.now(),
    )
    engine.shutdown()
    flip_byte_in(journal, b"trader-tail-x")

    proc = desk_engine(tmp_path, journal)

    assert proc.returncode == 0, proc.stderr
    assert "dropping a torn last record" in proc.stderr
    assert "cmd-tail" in proc.stderr
