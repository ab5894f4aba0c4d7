"""Provides the embedded feed: the engine runs inside the app's own event loop.

No server, no network: the desk works on a laptop or over SSH as is. The engine ticks
as a task on the same asyncio loop as Textual, so a tick and a repaint never race.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from engine.config import EngineConfig
from engine.engine import Engine
from engine.feed import EngineFeed
from engine.records import (
    AnyCommand,
    AnyEvent,
    ClosePreview,
    CommandResult,
    RollCandidate,
    Snapshot,
)
from engine.runner import build_engine, run, start

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
        self._stop = asyncio.Event()

    def open(self) -> Engine:
        """Build and recover the engine (journal, broker, demo book) if not done yet."""
        if self.engine is None:
            self.engine = build_engine(self.config, mode="embedded")
            start(self.engine)
        self._feed = EngineFeed(self.engine)
        return self.engine

    @property
    def source(self) -> str:
        return self.engine.market.name if self.engine else self.config.market.source

    async def attach(self) -> Snapshot:
        if self._feed is None:
            self.open()
        assert self._feed is not None and self.engine is not None
        snapshot = await self._feed.attach()
        if self.running and self._task is None:
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

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, timeout=2.0)
        if self._feed is not None:
            await self._feed.close()
        if self.engine is not None:
            self.engine.shutdown()
