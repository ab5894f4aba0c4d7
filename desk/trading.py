"""Provides the trading keys of the desk: what is selected, and close, roll, approve,
reject, pause and the kill switch, each sending one command with a fixed id.

A mixin of DeskApp (it uses the app's state, feed and panes); kept apart so that what a
key sends, and when it may, reads in one place. A key acts only on the selection of the
pane that has focus and is on screen: a pane behind a tab or a zoom is not a selection
the trader can see. A key that cannot act is dimmed in the footer, and pressed anyway it
says in words what to do.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from textual import events, work
from textual.widget import Widget

from desk import actions
from desk.feeds import FeedError
from desk.screens.approve import approve_body
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

# A second press of the same command key on the same target within this many seconds is a
# held or bounced key, not a second intent (a deliberate pause-then-resume takes longer).
REPEAT_WINDOW_S = 0.5
# A key's own arrival time stands for the press only this long; a later action (a click) is
# timed when it runs. Longer than any stall of the event loop a held key could span.
KEY_TIME_VALID_S = 2.0
# The same "cannot do that here" hint is not stacked again by a held key.
HINT_REPEAT_S = 2.0
EXPLAINED = frozenset(
    {"close_position", "roll_position", "approve_proposal", "reject_proposal", "pause_agent"}
)


class TradingKeys:
    """Selection, key availability and the commands the trading keys send."""

    state: Any
    feed: Any
    actor: str
    config: Any
    _sent: set[str]
    _in_flight: set[str]
    _pressed: dict[str, float]
    _key_time: float | None
    _last_hint: tuple[str, float]

    # --- selection ------------------------------------------------------------------------

    def _in_view(self, pane: Widget) -> bool:
        """The pane has the desk's focus and is drawn: not behind a tab, a zoom or a dialog."""
        desk = self.screen_stack[0]
        if self.screen is not desk or desk.focused is not pane:
            return False
        if not all(node.display for node in pane.ancestors_with_self if isinstance(node, Widget)):
            return False
        zoomed = desk.maximized
        return zoomed is None or zoomed is pane or zoomed in pane.ancestors

    def _under_cursor(self, pane: type[Widget]) -> str | None:
        widget = self.query_one(pane)
        key = widget.selected_key if self._in_view(widget) else None  # type: ignore[attr-defined]
        return key.split("/")[0] if key else None  # a leg row stands for its parent

    def selected_position(self) -> Any:
        key = self._under_cursor(PositionsGrid)
        return None if key is None else self.state.positions.get(key)

    def selected_proposal(self) -> Any:
        key = self._under_cursor(ProposalsPane)
        proposal = self.state.proposals.get(key) if key else None
        return proposal if proposal is not None and proposal.status == "pending" else None

    def selected_agent(self) -> str | None:
        return self._under_cursor(AgentStatusPane)

    def why_not(self, action: str) -> str | None:
        """Why a trading key cannot act now, in words that say what to do; None if it can."""
        if action in ("close_position", "roll_position"):
            verb = "closed" if action == "close_position" else "rolled"
            key = self._under_cursor(PositionsGrid)
            if key is None:
                return self._go_to("positions", "position")
            position = self.state.positions.get(key)
            if position is None or position.status != "open":
                status = "gone" if position is None else position.status
                return f"{key} is {status}: only an open position can be {verb}"
            return None
        if action in ("approve_proposal", "reject_proposal"):
            verb = "approved" if action == "approve_proposal" else "rejected"
            key = self._under_cursor(ProposalsPane)
            if key is None:
                return self._go_to("proposals", "proposal")
            proposal = self.state.proposals.get(key)
            if proposal is None or proposal.status != "pending":
                status = "gone" if proposal is None else proposal.status
                return f"proposal {key} is {status}: only a pending proposal can be {verb}"
            return None
        if action == "pause_agent":
            if self.selected_agent() is None:
                return self._go_to("agents", "agent")
            return None
        return None

    def _go_to(self, pane_id: str, noun: str) -> str:
        number, title = next((n, t) for n, p, t, _ in self.PANES if p == pane_id)
        if self._in_view(self.query_one(f"#{pane_id}")):
            return f"no {noun} to act on: the {title} pane is empty"
        key = actions.key_for(f"jump-{number}", dict(self.config.ui.keys))
        article = "an" if noun[0] in "aeiou" else "a"
        return f"select {article} {noun} first: press {key} for {title}"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in EXPLAINED:
            return True if self.why_not(action) is None else None
        return super().check_action(action, parameters)  # type: ignore[misc,no-any-return]

    async def run_action(
        self, action: Any, default_namespace: Any = None, namespaces: Any = None
    ) -> bool:
        """A dimmed trading key, pressed anyway, says why instead of doing nothing."""
        if isinstance(action, str) and default_namespace in (None, self):
            name = action.removeprefix("app.")
            reason = self.why_not(name) if name in EXPLAINED else None
            if reason is not None:
                self._hint(reason)
                return True
        return await super().run_action(action, default_namespace, namespaces)  # type: ignore[misc,no-any-return]

    def _hint(self, text: str) -> None:
        now = time.monotonic()
        if self._last_hint[0] == text and now - self._last_hint[1] < HINT_REPEAT_S:
            return
        self._last_hint = (text, now)
        self.notify(text, title="nothing sent", severity="warning", timeout=4)

    # --- one command per intent -----------------------------------------------------------

    def _on_key(self, event: events.Key) -> None:
        # Textual calls each class's _on_key in turn: this one only notes the time, and
        # App's, next, checks the bindings and runs the action for this very key.
        # The key is stamped when the terminal delivered it: a held key's repeats stay
        # 30 ms apart even when a busy loop handles them late, in one burst.
        self._key_time = event.time

    def _press_time(self) -> float:
        now = time.monotonic()
        key_time = self._key_time
        return key_time if key_time is not None and now - key_time < KEY_TIME_VALID_S else now

    def _first_press(self, target: str, what: str, *, confirmed: bool = False) -> bool:
        """False, saying so, for a repeat on ``target`` (a held or doubled key) or while the
        engine has not yet answered the last command on it.

        ``confirmed``: the trader answered a dialog for it, which a held key cannot do twice
        (and a doubled answer resends the dialog's one command id), so only the wait for
        the engine's answer applies: pulling the kill switch and releasing it at once,
        each confirmed, is two intents however quick."""
        now = self._press_time()
        last = self._pressed.get(target)
        self._pressed[target] = now  # a held key stays ignored until it is let go
        if target in self._in_flight:
            self._hint(f"still waiting for the engine's answer on {what}: nothing more sent")
            return False
        if not confirmed and last is not None and now - last < REPEAT_WINDOW_S:
            self._hint(f"repeated key ignored: one command was sent for {what}")
            return False
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
        command_id = self._command_id()  # fixed now: a doubled "y" resends the same command
        self._approve_with_preview(proposal, command_id)

    @work(exclusive=True, group="approve-preview", exit_on_error=False)
    async def _approve_with_preview(self, proposal: Any, command_id: str) -> None:
        """Ask the engine what the order would do, then confirm: the modal shows its price
        and the book's Greeks before and after, or says why it cannot."""
        preview, problem = None, ""
        try:
            preview = await self.feed.proposal_preview(proposal.proposal_id)
        except (FeedError, TimeoutError) as exc:
            problem = str(exc)
        if self._modal_open():
            return  # another dialog opened while the engine answered
        target = f"proposal {proposal.proposal_id}"

        def answered(yes: bool | None) -> None:
            if yes and self._first_press(target, target, confirmed=True):
                self.send_command(
                    ApproveProposal(
                        command_id=command_id,
                        actor=self.actor,
                        issued_at=time.time_ns(),
                        proposal_id=proposal.proposal_id,
                    ),
                    target,
                )

        self.push_screen(
            ConfirmModal(
                f"Approve {proposal.symbol} {proposal.strategy} ({proposal.proposal_id})?",
                approve_body(proposal, preview, problem),
                confirm="Approve and send",
                danger=False,
            ),
            answered,
        )

    def action_reject_proposal(self) -> None:
        proposal = self.selected_proposal()
        if proposal is None:
            return
        target = f"proposal {proposal.proposal_id}"
        if self._first_press(target, target):
            self.send_command(
                RejectProposal(
                    command_id=self._command_id(),
                    actor=self.actor,
                    issued_at=time.time_ns(),
                    proposal_id=proposal.proposal_id,
                ),
                target,
            )

    def action_pause_agent(self) -> None:
        agent = self.selected_agent()
        if agent is None:
            return
        target = f"agent {agent}"
        if not self._first_press(target, target):
            return
        status = self.state.agents.get(agent)
        kind = ResumeAgent if status is not None and status.state == "PAUSED" else PauseAgent
        self.send_command(
            kind(
                command_id=self._command_id(),
                actor=self.actor,
                issued_at=time.time_ns(),
                agent=agent,
            ),
            target,
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
            if yes and self._first_press("kill switch", "the kill switch", confirmed=True):
                self.send_command(
                    SetKillSwitch(
                        command_id=command_id, actor=self.actor, issued_at=time.time_ns(), on=on
                    ),
                    "kill switch",
                )

        self.push_screen(ConfirmModal(title, body, confirm="Pull" if on else "Release"), answered)

    @work(group="commands", exit_on_error=False)
    async def send_command(self, command: Any, target: str) -> None:
        self._in_flight.add(target)
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
            self._in_flight.discard(target)
        self._done(result)

    # Provided by DeskApp and App.
    PANES: Any
    screen: Any
    screen_stack: Any
    query_one: Any
    notify: Any
    push_screen: Any
