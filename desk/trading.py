"""Provides the trading keys of the desk: what is selected, and close, roll, approve,
reject, pause and the kill switch, each sending one command with a fixed id.

A mixin of DeskApp (it uses the app's state, feed and panes); kept apart so that what a
key sends, and when it may, reads in one place.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from textual import work
from textual.markup import escape

from desk.feeds import FeedError
from desk.screens.close import CloseDialog
from desk.screens.confirm import ConfirmModal
from desk.screens.roll import RollDialog
from engine.records import (
    ApproveProposal,
    CommandResult,
    PauseAgent,
    RejectProposal,
    ResumeAgent,
    SetKillSwitch,
)
from widgets.agent_status import AgentStatusPane
from widgets.positions_grid import PositionsGrid
from widgets.proposals import ProposalsPane


class TradingKeys:
    """Selection, key availability and the commands the trading keys send."""

    state: Any
    feed: Any
    actor: str
    _sent: set[str]
    _busy: bool

    # --- selection ------------------------------------------------------------------------

    def selected_position(self) -> Any:
        key = self.query_one(PositionsGrid).selected_key
        if key is None:
            return None
        return self.state.positions.get(key.split("/")[0])

    def selected_proposal(self) -> Any:
        key = self.query_one(ProposalsPane).selected_key
        proposal = self.state.proposals.get(key.split("/")[0]) if key else None
        return proposal if proposal is not None and proposal.status == "pending" else None

    def selected_agent(self) -> str | None:
        key = self.query_one(AgentStatusPane).selected_key
        return key.split("/")[0] if key else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("close_position", "roll_position"):
            position = self.selected_position()
            return True if position is not None and position.status == "open" else None
        if action in ("approve_proposal", "reject_proposal"):
            return True if self.selected_proposal() is not None else None
        if action == "pause_agent":
            return True if self.selected_agent() is not None else None
        return True

    # --- actions --------------------------------------------------------------------------

    def _command_id(self) -> str:
        command_id = uuid.uuid4().hex[:16]
        self._sent.add(command_id)
        return command_id

    def _done(self, result: CommandResult | None) -> None:
        if result is None:
            return
        self._sent.add(result.command_id)
        self.notify(
            result.message,
            title="done" if result.accepted else f"refused: {result.code}",
            severity="information" if result.accepted else "error",
            timeout=6,
        )

    def action_close_position(self) -> None:
        position = self.selected_position()
        if position is not None and not self._modal_open():
            self.push_screen(CloseDialog(self.feed, position, self.actor), self._after_dialog)

    def action_roll_position(self) -> None:
        position = self.selected_position()
        if position is not None and not self._modal_open():
            self.push_screen(RollDialog(self.feed, position, self.actor), self._after_dialog)

    def _after_dialog(self, result: CommandResult | None) -> None:
        if result is not None:
            self._sent.add(result.command_id)
            self._done(result)

    def _modal_open(self) -> bool:
        return len(self.screen_stack) > 1

    def action_approve_proposal(self) -> None:
        proposal = self.selected_proposal()
        if proposal is None or self._modal_open():
            return
        limit = (
            ""
            if proposal.limit is None
            else f" at {abs(proposal.limit):.2f} {'credit' if proposal.limit < 0 else 'debit'}"
        )
        body = (
            f"{proposal.symbol} {proposal.strategy} ×{proposal.quantity}{limit}\n"
            f"max profit {proposal.max_profit or 0:,.0f} · max loss {proposal.max_loss or 0:,.0f}\n"
            f"{proposal.rationale}"
        )
        command_id = self._command_id()

        def answered(yes: bool | None) -> None:
            if yes:
                self.send_command(
                    ApproveProposal(
                        command_id=command_id,
                        actor=self.actor,
                        issued_at=time.time_ns(),
                        proposal_id=proposal.proposal_id,
                    )
                )

        self.push_screen(
            ConfirmModal(
                f"Approve {proposal.proposal_id}?", escape(body), confirm="Approve", danger=False
            ),
            answered,
        )

    def action_reject_proposal(self) -> None:
        proposal = self.selected_proposal()
        if proposal is not None:
            self.send_command(
                RejectProposal(
                    command_id=self._command_id(),
                    actor=self.actor,
                    issued_at=time.time_ns(),
                    proposal_id=proposal.proposal_id,
                )
            )

    def action_pause_agent(self) -> None:
        agent = self.selected_agent()
        if agent is None:
            return
        status = self.state.agents.get(agent)
        kind = ResumeAgent if status is not None and status.state == "PAUSED" else PauseAgent
        self.send_command(
            kind(
                command_id=self._command_id(),
                actor=self.actor,
                issued_at=time.time_ns(),
                agent=agent,
            )
        )

    def action_kill_switch(self) -> None:
        if self._modal_open():
            return
        on = not (self.state.status.kill_switch if self.state.status else False)
        working = len(self.state.working_orders())
        if on:
            title = "Pull the kill switch?"
            body = (
                f"Cancels {working} working order(s) and refuses every order that opens "
                "or adds risk. Closing stays allowed. Positions are not flattened."
            )
        else:
            title = "Release the kill switch?"
            body = "New orders, including ones that add risk, will be allowed again."
        command_id = self._command_id()

        def answered(yes: bool | None) -> None:
            if yes:
                self.send_command(
                    SetKillSwitch(
                        command_id=command_id, actor=self.actor, issued_at=time.time_ns(), on=on
                    )
                )

        self.push_screen(ConfirmModal(title, body, confirm="Pull" if on else "Release"), answered)

    @work(group="commands", exit_on_error=False)
    async def send_command(self, command: Any) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            result = await self.feed.send(command)
        except (FeedError, ConnectionError, OSError, TimeoutError) as exc:
            self.notify(
                f"not confirmed: {exc} (command {command.command_id})",
                title="no answer from the engine",
                severity="error",
                timeout=10,
            )
            return
        finally:
            self._busy = False
        self._done(result)
