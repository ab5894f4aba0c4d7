"""Provides the Feed: how a desk talks to an engine, and the in-process implementation.

Importing it loads no numerical library, so an app can draw its first frame before the
engine's pricing is loaded.

``attach`` returns the full snapshot and, in the same loop turn, subscribes to the events
after it, so a client sees every event after the snapshot's ``seq`` exactly once. The
Redis feed (remote desk) implements the same protocol.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol

from engine.records import (
    AnyCommand,
    AnyEvent,
    ClosePreview,
    CommandResult,
    ProposalPreview,
    RollCandidate,
    Snapshot,
)

if TYPE_CHECKING:
    from engine.bus import Subscription
    from engine.engine import Engine


class FeedError(RuntimeError):
    """A feed request failed; the message is for the trader."""


class FeedFatal(FeedError):
    """The feed can never work as configured (a corrupt journal, a bad setting): the desk
    should stop with this message and exit code rather than retry."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Feed(Protocol):
    kind: str  # "embedded" or "remote"

    async def attach(self) -> Snapshot: ...

    def events(self) -> AsyncIterator[AnyEvent]: ...

    async def send(self, command: AnyCommand) -> CommandResult: ...

    async def close_preview(
        self, position_id: str, quantity: int | None = None, limit: float | None = None
    ) -> ClosePreview: ...

    async def roll_candidates(self, position_id: str) -> tuple[RollCandidate, ...]: ...

    async def proposal_preview(self, proposal_id: str) -> ProposalPreview: ...

    async def close(self) -> None: ...


class EngineFeed:
    """The engine in this process: no copies, no network, the same records."""

    kind = "embedded"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._subscription: Subscription | None = None

    async def attach(self) -> Snapshot:
        if self._subscription is not None:
            self._subscription.close()
        snapshot = self.engine.snapshot()
        self._subscription = self.engine.bus.subscribe()
        return snapshot

    async def events(self) -> AsyncIterator[AnyEvent]:
        if self._subscription is None:
            raise FeedError("attach before reading events")
        subscription = self._subscription
        while True:
            yield await subscription.queue.get()

    async def send(self, command: AnyCommand) -> CommandResult:
        return self.engine.execute(command)

    async def close_preview(
        self, position_id: str, quantity: int | None = None, limit: float | None = None
    ) -> ClosePreview:
        from engine.orders import Refusal
        from engine.previews import close_preview

        try:
            return close_preview(self.engine, position_id, quantity, limit)
        except Refusal as refusal:
            raise FeedError(refusal.message) from None

    async def roll_candidates(self, position_id: str) -> tuple[RollCandidate, ...]:
        from engine.orders import Refusal
        from engine.previews import roll_candidates

        try:
            return roll_candidates(self.engine, position_id)
        except Refusal as refusal:
            raise FeedError(refusal.message) from None

    async def proposal_preview(self, proposal_id: str) -> ProposalPreview:
        from engine.orders import Refusal
        from engine.previews import proposal_preview

        try:
            return proposal_preview(self.engine, proposal_id)
        except Refusal as refusal:
            raise FeedError(refusal.message) from None

    async def close(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None
