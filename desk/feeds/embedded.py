"""Provides the embedded feed: the engine runs inside the app's own event loop.

No server, no network: the desk works on a laptop or over SSH as is. The engine ticks
as a task on the same asyncio loop as Textual, so a tick and a repaint never race.

Building the engine (numpy, scipy, the market, recovery) takes longer than drawing the
desk, so the app first shows ``preview()`` (the book from the journal alone, no imports
of either) and the engine is built on a worker thread while the screen stays live.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from engine.config import EngineConfig
from engine.feed import EngineFeed, FeedFatal
from engine.records import (
    AnyCommand,
    AnyEvent,
    ClosePreview,
    CommandResult,
    PositionView,
    ProposalPreview,
    RollCandidate,
    Snapshot,
)

if TYPE_CHECKING:
    from engine.engine import Engine

log = logging.getLogger(__name__)


class EmbeddedFeed:
    """An engine built from config and run in this process; ``running=False`` freezes it."""

    kind = "embedded"

    def __init__(
        self, config: EngineConfig, *, running: bool = True, engine: Engine | None = None
    ) -> None:
        self.config = config
        self.running = running
        self.engine = engine
        self._feed: EngineFeed | None = None
        self._task: asyncio.Task[None] | None = None
        self._previewed = False
        self._stop = asyncio.Event()

    def open(self) -> Engine:
        """Build and recover the engine (journal, broker, demo book) if not done yet."""
        if self.engine is None:
            from engine.runner import build_engine, start

            engine = build_engine(self.config, mode="embedded")
            start(engine)
            self.engine = engine
        self._feed = EngineFeed(self.engine)
        return self.engine

    def preview(self) -> tuple[PositionView, ...]:
        """The book as the journal knows it, before the engine is built (no prices)."""
        if self.engine is not None:
            return ()
        from engine.bootview import preview_positions
        from engine.paths import journal_path

        views = preview_positions(journal_path(self.config))
        self._previewed = bool(views)
        return views

    @property
    def source(self) -> str:
        return self.engine.market.name if self.engine else self.config.market.source

    async def attach(self) -> Snapshot:
        if self._feed is None:
            from engine.journal import JournalError
            from engine.runner import ConfigurationError

            try:
                if self._previewed:
                    # Built on a thread: the desk keeps drawing the preview (and answering
                    # keys) meanwhile.
                    await asyncio.to_thread(self.open)
                else:
                    # Nothing to show until the engine exists (a new journal): building
                    # in this thread is quicker than sharing the interpreter with the UI.
                    self.open()
            except ConfigurationError as exc:
                raise FeedFatal(str(exc), 2) from None
            except JournalError as exc:
                raise FeedFatal(str(exc), 3) from None
        assert self._feed is not None and self.engine is not None
        snapshot = await self._feed.attach()
        if self.running and self._task is None:
            from engine.runner import run

            self._task = asyncio.create_task(run(self.engine, stop=self._stop), name="engine")
        return snapshot

    def events(self) -> AsyncIterator[AnyEvent]:
        assert self._feed is not None
        return self._feed.events()

    async def send(self, command: AnyCommand) -> CommandResult:
        assert self._feed is not None
        return await self._feed.send(command)

    async def close_preview(
        self, position_id: str, quantity: int | None = None, limit: float | None = None
    ) -> ClosePreview:
        assert self._feed is not None
        return await self._feed.close_preview(position_id, quantity, limit)

    async def roll_candidates(self, position_id: str) -> tuple[RollCandidate, ...]:
        assert self._feed is not None
        return await self._feed.roll_candidates(position_id)

    async def proposal_preview(self, proposal_id: str) -> ProposalPreview:
        assert self._feed is not None
        return await self._feed.proposal_preview(proposal_id)

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, timeout=2.0)
        if self._feed is not None:
            await self._feed.close()
        if self.engine is not None:
            self.engine.shutdown()
