"""Provides recovery: rebuild the engine from its journal, then reconcile with the broker.

The journal is the engine's memory; the broker's record is the world's. After a crash
the two can differ in known ways (an execution the engine never journaled, an order it
journaled but never sent, a command it never answered), and each has one safe repair.
Anything else, a position that differs for no known reason, halts trading or is adopted,
as configured, and is said out loud.
"""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict
from typing import TYPE_CHECKING

import msgspec

from engine.journal import (
    AgentControlled,
    KillSwitchChanged,
    PositionChanged,
    Reconciled,
    SessionStarted,
)
from engine.orders import Refusal, recheck
from engine.portfolio import Book
from engine.records import (
    Alert,
    CommandResult,
    Fill,
    Instrument,
    LegFill,
    Order,
    Proposal,
    Signal,
)

if TYPE_CHECKING:
    from engine.engine import Engine

log = logging.getLogger(__name__)
_OPEN = ("new", "working", "partially_filled", "unknown")


def rebuild(engine: Engine) -> int:
    """Fold the journal into the engine's state; return the number of records read."""
    journal = engine.journal
    count = journal.verify()
    if journal.dropped_tail is not None:
        tail = journal.dropped_tail
        log.warning("journal: torn last record %s %s dropped", tail.kind, tail.key)
    initial = journal.get_meta("initial_cash")
    if initial is None:
        journal.set_meta("initial_cash", engine.config.demo.initial_cash)
        initial = engine.config.demo.initial_cash
    engine.book = book = Book(float(initial))
    alert_number = 0
    mismatches = 0
    for entry in journal.entries():
        record = entry.record
        match entry.kind:
            case "command":
                engine.commands[entry.key] = record
            case "result":
                assert isinstance(record, CommandResult)
                engine.results[entry.key] = record
            case "order":
                assert isinstance(record, Order)
                engine.orders[record.order_id] = record
            case "fill":
                assert isinstance(record, Fill)
                book.apply_fill(record)
                engine.fills.append(record)
            case "position":
                assert isinstance(record, PositionChanged)
                position = book.positions.get(record.position_id)
                legs = {k: leg.quantity for k, leg in position.legs.items()} if position else {}
                if legs != record.legs or book.cash_cents != record.cash_cents:
                    mismatches += 1
            case "alert":
                assert isinstance(record, Alert)
                engine.alerts.append(record)
                alert_number = max(alert_number, _number(record.alert_id))
            case "kill_switch":
                assert isinstance(record, KillSwitchChanged)
                engine.kill_switch = record.on
            case "agent":
                assert isinstance(record, AgentControlled)
                (engine.paused.add if record.paused else engine.paused.discard)(record.agent)
            case "signal":
                assert isinstance(record, Signal)
                engine.signals[record.signal_id] = record
                engine.signals.move_to_end(record.signal_id)
            case "proposal":
                assert isinstance(record, Proposal)
                engine.proposals[record.proposal_id] = record
            case "session":
                assert isinstance(record, SessionStarted)
                book.forget_closed_before(record.ts)
                book.start_session(record.values)
                engine.sessions.append(record)
    while len(engine.signals) > 500:
        engine.signals.popitem(last=False)
    if mismatches:
        # The fold disagrees with what was journaled at the time: a bug, not a crash.
        engine.counters["journal_fold_mismatches"] += mismatches
        log.error("journal: %d position records disagree with the rebuilt book", mismatches)
    engine.alert_ids = itertools.count(alert_number + 1)
    return count


def _number(alert_id: str) -> int:
    digits = alert_id.lstrip("A")
    return int(digits) if digits.isdigit() else 0


def pull_executions(engine: Engine) -> list[Fill]:
    """Journal every broker execution the engine has not seen, deduplicated by id."""
    from engine.engine import fill_from

    recovered = []
    for execution in engine.broker.executions():
        if execution.exec_id in engine.book.fill_ids:
            continue
        if execution.order_id not in engine.orders:
            # Every order the engine sends is journaled first: this one is someone else's
            # (a trade placed at the broker by hand). It is no crash gap to repair quietly;
            # check_positions finds the difference it makes and halts or adopts by policy.
            continue
        fill = fill_from(execution)
        engine.apply_fill(fill)
        recovered.append(fill)
    return recovered


def reconcile_broker(engine: Engine, *, reason: str) -> None:
    """Bring the engine in line with the broker: fills, then orders, then answers."""
    recovered = pull_executions(engine)
    if recovered:
        engine.alert(
            "warning",
            "recovery",
            "FILLS_RECOVERED",
            f"{reason}: {len(recovered)} fill(s) recovered from the broker's executions",
        )
    for order in [o for o in engine.orders.values() if o.state in _OPEN]:
        status = engine.broker.find_order(order.command_id)
        if status is not None:
            state = "working" if status.state == "new" else status.state
            if state != order.state:
                engine.record_order(
                    msgspec.structs.replace(
                        order,
                        state=state,
                        code=status.code,
                        reason=status.reason,
                        updated_at=engine.now(),
                    )
                )
            continue
        if order.state == "new":
            _send_unsent(engine, order, "at restart" if reason == "start-up" else f"when {reason}")
        else:
            engine.lookups[order.order_id] = (engine.now(), 1)
    for command_id, command in list(engine.commands.items()):
        if command_id in engine.results:
            continue
        placed = next((o for o in engine.orders.values() if o.command_id == command_id), None)
        if placed is None:
            engine.execute(command)
        elif placed.state == "rejected" and not placed.filled_quantity:
            # Its first answer never went out, and the order came to nothing: say so.
            engine.record_result(
                CommandResult(
                    command_id=command_id,
                    accepted=False,
                    code=placed.code or "ORDER_REJECTED",
                    message=f"order {placed.order_id} rejected: {placed.reason}",
                    ts=engine.now(),
                    order_id=placed.order_id,
                )
            )
        else:
            engine.record_result(
                CommandResult(
                    command_id=command_id,
                    accepted=True,
                    code="OK",
                    message=f"order {placed.order_id} placed (answer recovered after a restart)",
                    ts=engine.now(),
                    order_id=placed.order_id,
                )
            )


def _send_unsent(engine: Engine, order: Order, when: str) -> None:
    """An order journaled but never sent (a crash between the two) goes out only if it
    passes the pre-trade checks as they stand now; one that fails is rejected, saying why,
    rather than sent on a stale decision or left open for ever."""
    try:
        recheck(engine, order)
    except Refusal as refusal:
        reason = f"not sent {when}: {refusal.message}"
        engine.record_order(
            msgspec.structs.replace(
                order,
                state="rejected",
                code=refusal.code,
                reason=reason,
                updated_at=engine.now(),
            )
        )
        engine.alert("warning", "recovery", "ORDER_NOT_SENT", f"order {order.order_id} {reason}")
        return
    log.warning("order %s was journaled but never sent: sending it now", order.order_id)
    engine.submit(order)


def check_positions(engine: Engine) -> None:
    """At start: the broker's positions must equal the journal's, or we say so and act."""
    reported = engine.broker.positions()
    policy = engine.config.broker.reconcile
    if reported is None:
        engine.halt_reason = "the broker did not report its positions"
        engine.alert(
            "critical",
            "recovery",
            "POSITIONS_UNKNOWN",
            "the broker did not report positions: trading halted until it does",
        )
        return
    ours: dict[str, int] = defaultdict(int)
    instruments = {}
    for position in engine.book.open_positions():
        for key, leg in position.legs.items():
            ours[key] += leg.quantity
            instruments[key] = leg.instrument
    keys = {k for k in set(ours) | set(reported) if ours.get(k, 0) != reported.get(k, 0)}
    if not keys:
        return
    mismatches = {k: (ours.get(k, 0), reported.get(k, 0)) for k in sorted(keys)}
    listing = ", ".join(f"{k.strip()}: journal {a}, broker {b}" for k, (a, b) in mismatches.items())
    now = engine.now()
    if policy == "halt":
        engine.halt_reason = f"positions differ from the broker ({listing})"
        engine.journal.append(
            "reconciled",
            str(now),
            Reconciled(adopted_fills=(), mismatches=mismatches, action="halt", ts=now),
            now,
        )
        engine.alert(
            "critical",
            "recovery",
            "POSITION_MISMATCH",
            f"positions differ from the broker, trading halted: {listing}. Correct the "
            'broker, or restart with broker.reconcile = "adopt" to take its positions',
        )
        return
    adopted = []
    for key, (journal_qty, broker_qty) in mismatches.items():
        instrument = instruments.get(key) or _instrument_from_broker(engine, key)
        if instrument is None:
            engine.halt_reason = f"cannot adopt unknown instrument {key.strip()}"
            engine.alert("critical", "recovery", "POSITION_MISMATCH", engine.halt_reason)
            return
        fill = Fill(
            fill_id=f"R{now}.{key.replace(' ', '')}",
            order_id=0,
            command_id="reconciliation",
            position_id=f"RECON-{key.replace(' ', '')}",
            intent="adjust",
            quantity=abs(broker_qty - journal_qty),
            net_price=0.0,
            legs=(LegFill(instrument=instrument, quantity=broker_qty - journal_qty, price=0.0),),
            commission=0.0,
            ts=now,
            source="reconciliation",
        )
        engine.apply_fill(fill)
        adopted.append(fill.fill_id)
    engine.journal.append(
        "reconciled",
        str(now),
        Reconciled(adopted_fills=tuple(adopted), mismatches=mismatches, action="adopt", ts=now),
        now,
    )
    engine.alert(
        "warning",
        "recovery",
        "POSITIONS_ADOPTED",
        f"adopted the broker's positions at zero cost: {listing}",
    )


def _instrument_from_broker(engine: Engine, key: str) -> Instrument | None:
    for execution in engine.broker.executions():
        for leg in execution.legs:
            if leg.instrument.key == key:
                return leg.instrument
    return None
