"""Shared desk fixtures: one factory that builds every DeskApp the desk tests drive.

The app runs on an EmbeddedFeed with ``running=False``: the seeded engine (seed 7, first
session 2025-03-03) does not tick by itself, so a test steps it by hand with
``step(app, pilot, n)`` and the screen is the same on every run.

A test module that sets ``feed_kind`` to "remote" (parametrize it indirectly) gets the
same engine publishing through a RedisBridge to a real redis-server, and a desk attached
with a RedisFeed: the same keys, the same assertions, the other transport.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from desk.app import DeskApp
from desk.config import DeskConfig, load_config
from desk.feeds.embedded import EmbeddedFeed
from engine.engine import Engine
from tests.engine.conftest import advance

ROOT = Path(__file__).resolve().parents[2]
PINNED: dict[str, Any] = {"market.sim.seed": 7, "market.sim.start_date": "2025-03-03"}
ATTACH_TIMEOUT_S = 15.0


def desk_config(journal_dir: Path, overrides: dict[str, Any] | None = None) -> DeskConfig:
    """The shipped desk.toml (equal to the built-in defaults) on a temp journal, seed pinned.

    The file is named explicitly so that neither a ./desk.toml edit nor a user's
    ~/.config/desk/desk.toml can change what a test sees. ``overrides`` are dotted keys.
    """
    dotted = {**PINNED, "journal.path": str(journal_dir / "desk.journal.db")}
    dotted.update(overrides or {})
    return load_config(ROOT / "desk.toml", dotted)


TRADER_KEY = "7e" * 16


@pytest.fixture
def feed_kind(request: pytest.FixtureRequest) -> str:
    """ "embedded" unless a test module parametrizes it (indirectly) with "remote"."""
    return str(getattr(request, "param", "embedded"))


@pytest.fixture
async def app_factory(
    tmp_path: Path, feed_kind: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[..., DeskApp]]:
    """``app_factory(running=False, **{"ui.theme": "desk-light", ...})`` → a DeskApp.

    Keyword arguments other than ``running`` are dotted config keys. Each call gets its
    own journal directory, so two apps in one test never share a journal.
    """
    feeds: list[EmbeddedFeed] = []
    remotes: list[tuple[Any, asyncio.Event, asyncio.Task[None]]] = []
    server = None
    if feed_kind == "remote":
        from tests.redis_server import RedisServer

        server = RedisServer(tmp_path / "redis").start()
        monkeypatch.setenv("DESK_KEY_TESTER", TRADER_KEY)
        monkeypatch.setenv("DESK_SIGNING_KEY", TRADER_KEY)

    def make(*, running: bool = False, **overrides: Any) -> DeskApp:
        where = tmp_path / f"desk-{len(feeds)}"
        where.mkdir()
        if server is not None:
            overrides = {
                "redis.url": server.url,
                "redis.traders": ["tester"],
                "redis.trader": "tester",
                "name": f"t{len(feeds)}",
                **overrides,
            }
        config = desk_config(where, overrides)
        feed = EmbeddedFeed(config, running=running)
        feed.open()  # build and recover now: a test (or freeze) can reach the engine at once
        feeds.append(feed)
        if server is None:
            return DeskApp(config, feed, actor="tester")
        from desk.feeds.redis import RedisFeed
        from engine.remote.bridge import RedisBridge

        assert feed.engine is not None
        stop = asyncio.Event()
        bridge = RedisBridge(feed.engine, config.redis)
        remotes.append((bridge, stop, asyncio.get_running_loop().create_task(bridge.run(stop))))
        app = DeskApp(config, RedisFeed(config.redis, config.name), actor="tester")
        app.engine_for_tests = feed.engine  # type: ignore[attr-defined]
        return app

    yield make
    for _, stop, task in remotes:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=5)
    for feed in feeds:
        # A test that failed before its app unmounted leaves the journal open.
        if feed.engine is not None and not feed.engine.stopped:
            feed.engine.shutdown()
    if server is not None:
        server.kill()


def engine_of(app: DeskApp) -> Engine:
    engine = getattr(app, "engine_for_tests", None) or getattr(app.feed, "engine", None)
    assert engine is not None
    return engine


async def step(app: DeskApp, pilot: Any, ticks: int = 1) -> None:
    """Tick the stopped engine ``ticks`` times, then wait until the app has the events
    (at once when embedded; after the bridge and Redis when remote)."""
    engine = engine_of(app)
    advance(engine, ticks)
    await pilot.pause()
    for _ in range(500):
        if app.state.seq >= engine.bus.seq:
            break
        await pilot.pause(0.01)
    await pilot.pause()


def freeze(app: DeskApp) -> DeskApp:
    """Take the wall clock off the screen; the engine's own clock is already simulated.

    Two things on screen read the wall clock: the desk's staleness watch (a feed quiet
    for ``ui.stale_after_s`` wall seconds turns LIVE into STALE, which a stopped engine
    does on a slow run) and each agent's measured cycle time (``perf_counter``, shown in
    the Agents pane). Call before the app runs.
    """
    app.state.clock = lambda: 0.0
    for agent in engine_of(app).agents:
        if agent.last_cycle_ms is not None:
            agent.last_cycle_ms = 1.0
    return app


async def wait_attached(app: DeskApp, timeout: float = ATTACH_TIMEOUT_S) -> None:
    """Until the first snapshot is loaded (``app.attached``), bounded."""
    await asyncio.wait_for(app.attached.wait(), timeout)


def screen_text(app: DeskApp) -> str:
    """The app's current frame as plain text, one line per terminal row."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)
