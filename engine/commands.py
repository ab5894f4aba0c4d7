"""Provides command handling: validate, journal, act once, answer with a reason.

A command is journaled before anything else, answered at most once per ``command_id``
(a duplicate gets the first answer back, marked ``duplicate``), and every refusal carries
a code a program can test and a sentence a trader can read.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import msgspec

from engine import codec, orders
from engine.faults import crash_point
from engine.orders import Refusal
from engine.records import (
    AnyCommand,
    ApproveProposal,
    CancelOrder,
    ClosePosition,
    CommandResult,
    Order,
    PauseAgent,
    Proposal,
    RejectProposal,
    ResumeAgent,
    RollPosition,
    SetKillSwitch,
)

if TYPE_CHECKING:
    from engine.engine import Engine

log = logging.getLogger(__name__)


def recordable(engine: Engine, command: AnyCommand) -> AnyCommand:
    """The command as the journal will read it back, or a Refusal saying why it cannot be.

    A command built in process is not checked against the schema: a fractional or 65-bit
    quantity, say, would be journaled and then refuse to decode at the next start. A whole
    float quantity (2.0) is taken as the integer it is.
    """
    quantity = getattr(command, "quantity", None)
    if isinstance(quantity, float) and math.isfinite(quantity) and quantity.is_integer():
        command = msgspec.structs.replace(command, quantity=int(quantity))
    try:
        codec.decode(codec.encode(command), AnyCommand, label="command")
    except (codec.DecodeError, OverflowError, TypeError) as exc:
        if quantity is not None:
            orders.check_quantity(engine, quantity, None)  # the precise code, when it is that
        raise Refusal("INVALID_COMMAND", f"the command does not fit the schema: {exc}") from None
    return command


class CommandHandler:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def execute(self, command: AnyCommand) -> CommandResult:
        engine = self.engine
        prior = engine.results.get(command.command_id)
        if prior is not None:
            engine.counters["commands_duplicate"] += 1
            return msgspec.structs.replace(prior, duplicate=True)
        if not isinstance(command.command_id, str) or not command.command_id:
            return self._answer(
                command, False, "INVALID_COMMAND", "a command needs a command_id", journal=False
            )
        if command.command_id not in engine.commands:
            try:
                command = recordable(engine, command)
            except Refusal as refusal:
                # Never act on, or journal, a command the journal could not read back.
                return self._answer(command, False, refusal.code, refusal.message)
            engine.journal.append("command", command.command_id, command, engine.now())
            engine.commands[command.command_id] = command
            crash_point("after_command_journal")
        try:
            return self._dispatch(command)
        except Refusal as refusal:
            return self._answer(command, False, refusal.code, refusal.message)
        except Exception as exc:
            # A bug must not take the engine down or leave a trader without an answer.
            log.exception("command %s failed", command.command_id)
            engine.counters["command_errors"] += 1
            return self._answer(
                command, False, "INTERNAL_ERROR", f"the engine could not act on this command: {exc}"
            )

    def _answer(
        self,
        command: AnyCommand,
        accepted: bool,
        code: str,
        message: str,
        *,
        order_id: int | None = None,
        net_price: float | None = None,
        journal: bool = True,
    ) -> CommandResult:
        result = CommandResult(
            command_id=command.command_id,
            accepted=accepted,
            code=code,
            message=message,
            ts=self.engine.now(),
            order_id=order_id,
            net_price=net_price,
        )
        if not journal:
            self.engine.counters["commands_rejected"] += 1
            return result
        return self.engine.record_result(result)

    def _dispatch(self, command: AnyCommand) -> CommandResult:
        match command:
            case ClosePosition():
                return self._place(command, orders.close_order(self.engine, command))
            case RollPosition():
                return self._place(command, orders.roll_order(self.engine, command))
            case ApproveProposal():
                return self._approve(command)
            case RejectProposal():
                return self._reject(command)
            case PauseAgent() | ResumeAgent():
                return self._pause(command)
            case SetKillSwitch():
                return self._kill_switch(command)
            case CancelOrder():
                return self._cancel(command)
        raise Refusal("INVALID_COMMAND", f"unknown command type {type(command).__name__}")

    def _place(self, command: AnyCommand, order: Order) -> CommandResult:
        engine = self.engine
        engine.record_order(order)
        crash_point("after_order_journal")
        result = self._answer(
            command,
            True,
            "OK",
            orders.describe(engine, order),
            order_id=order.order_id,
            net_price=order.working_price,
        )
        engine.submit(order)
        return result

    def _approve(self, command: ApproveProposal) -> CommandResult:
        engine = self.engine
        proposal = self._pending_proposal(command.proposal_id)
        order = orders.open_order(engine, command, proposal)
        engine.record_proposal(
            msgspec.structs.replace(proposal, status="approved", ts=engine.now())
        )
        return self._place(command, order)

    def _pending_proposal(self, proposal_id: str) -> Proposal:
        proposal = self.engine.proposals.get(proposal_id)
        if proposal is None:
            raise Refusal("PROPOSAL_NOT_FOUND", f"no proposal {proposal_id}")
        if proposal.status != "pending":
            raise Refusal(
                "PROPOSAL_NOT_PENDING", f"proposal {proposal_id} is already {proposal.status}"
            )
        return proposal

    def _reject(self, command: RejectProposal) -> CommandResult:
        engine = self.engine
        proposal = self._pending_proposal(command.proposal_id)
        reason = command.reason or f"rejected by {command.actor}"
        engine.record_proposal(
            msgspec.structs.replace(proposal, status="rejected", reason=reason, ts=engine.now())
        )
        return self._answer(command, True, "OK", f"proposal {proposal.proposal_id} rejected")

    def _pause(self, command: PauseAgent | ResumeAgent) -> CommandResult:
        engine = self.engine
        names = {agent.name for agent in engine.agents}
        if command.agent not in names:
            known = ", ".join(sorted(names)) or "none"
            raise Refusal("AGENT_NOT_FOUND", f"no agent {command.agent!r} (agents: {known})")
        pause = isinstance(command, PauseAgent)
        if (command.agent in engine.paused) == pause:
            word = "paused" if pause else "running"
            return self._answer(command, True, "OK", f"agent {command.agent} was already {word}")
        engine.set_paused(command.agent, pause, command.actor)
        word = "paused" if pause else "resumed"
        return self._answer(command, True, "OK", f"agent {command.agent} {word}")

    def _kill_switch(self, command: SetKillSwitch) -> CommandResult:
        engine = self.engine
        if command.on == engine.kill_switch:
            state = "on" if command.on else "off"
            return self._answer(command, True, "OK", f"kill switch was already {state}")
        engine.set_kill_switch(command.on, command.reason, command.actor)
        if not command.on:
            engine.alert(
                "warning", "risk", "KILL_SWITCH_OFF", f"kill switch released by {command.actor}"
            )
            return self._answer(command, True, "OK", "kill switch OFF: trading allowed again")
        cancelled = 0
        for order in list(engine.orders.values()):
            if order.state in ("new", "working", "partially_filled", "unknown"):
                engine.broker.cancel(order.order_id)
                cancelled += 1
        engine.alert(
            "critical",
            "risk",
            "KILL_SWITCH_ON",
            f"kill switch pulled by {command.actor}"
            + (f": {command.reason}" if command.reason else ""),
        )
        return self._answer(
            command,
            True,
            "OK",
            f"kill switch ON: {cancelled} working order(s) cancelled; "
            "orders that open or add risk are refused, closing is allowed",
        )

    def _cancel(self, command: CancelOrder) -> CommandResult:
        engine = self.engine
        order = engine.orders.get(command.order_id)
        if order is None:
            raise Refusal("ORDER_NOT_FOUND", f"no order {command.order_id}")
        if order.state not in ("new", "working", "partially_filled", "unknown"):
            raise Refusal("ORDER_NOT_OPEN", f"order {command.order_id} is already {order.state}")
        engine.broker.cancel(order.order_id)
        return self._answer(
            command, True, "OK", f"cancel sent for order {order.order_id}", order_id=order.order_id
        )

    def check_unacknowledged(self, now: int) -> None:
        """Orders the broker has not acknowledged: look them up by ref, never resend."""
        engine = self.engine
        cfg = engine.config.broker
        timeout = int(cfg.ack_timeout_s * 1e9)
        interval = int(cfg.lookup_interval_s * 1e9)
        for order_id, (since, attempts) in list(engine.lookups.items()):
            order = engine.orders.get(order_id)
            if order is None or order.state not in ("new", "unknown"):
                engine.lookups.pop(order_id, None)
                continue
            if now - since < (timeout if attempts == 0 else interval):
                continue
            if order.state == "new":
                engine.record_order(
                    msgspec.structs.replace(
                        order, state="unknown", reason="not acknowledged – checking", updated_at=now
                    )
                )
            found = engine.broker.find_order(order.command_id)
            if found is not None:
                engine.lookups.pop(order_id, None)
                state = "working" if found.state == "new" else found.state
                engine.on_order_status(
                    msgspec.structs.replace(
                        found, state=state, reason="found at the broker by its reference"
                    )
                )
                from engine.recovery import pull_executions

                pull_executions(engine)
                continue
            if attempts + 1 >= cfg.lookup_attempts:
                engine.lookups.pop(order_id, None)
                engine.record_order(
                    msgspec.structs.replace(
                        engine.orders[order_id],
                        state="rejected",
                        code="NOT_ACKNOWLEDGED",
                        reason=f"the broker never acknowledged it ({attempts + 1} look-ups)",
                        updated_at=now,
                    )
                )
                engine.alert(
                    "warning",
                    "broker",
                    "NOT_ACKNOWLEDGED",
                    f"order {order_id} was never acknowledged by the broker",
                )
            else:
                engine.lookups[order_id] = (now, attempts + 1)
