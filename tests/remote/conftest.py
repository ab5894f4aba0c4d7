"""Remote fixtures: a real redis-server per test, an engine publishing to it, signed traders."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from desk.feeds.redis import RedisFeed
from engine.engine import Engine
from engine.remote.bridge import RedisBridge
from engine.remote.config import RedisConfig
from tests.engine.conftest import engine_config, open_engine
from tests.redis_server import RedisServer, persistent_redis, redis_server  # noqa: F401

ALICE_KEY = "a1" * 16
BOB_KEY = "b2" * 16


@pytest.fixture(autouse=True)
def signing_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESK_KEY_ALICE", ALICE_KEY)
    monkeypatch.setenv("DESK_KEY_BOB", BOB_KEY)
    monkeypatch.setenv("DESK_SIGNING_KEY", ALICE_KEY)


@dataclass
class Remote:
    engine: Engine
    bridge: RedisBridge
    stop: asyncio.Event
    task: asyncio.Task[None]
    config: RedisConfig

    def feed(self, trader: str = "alice", **changes: object) -> RedisFeed:
        import msgspec

        config = msgspec.structs.replace(self.config, trader=trader, **changes)
        return RedisFeed(config, self.engine.config.name)


async def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def remote_engine(
    server: RedisServer, tmp_path: Path, **redis: object
) -> AsyncIterator[Remote]:
    settings = {"url": server.url, "traders": ["alice", "bob"], "heartbeat_ttl_s": 1.0, **redis}
    config = engine_config(tmp_path, redis=settings, name="test")
    engine = open_engine(config)
    stop = asyncio.Event()
    bridge = RedisBridge(engine, config.redis)
    task = asyncio.create_task(bridge.run(stop))
    try:
        await wait_for(lambda: bridge.up)
        yield Remote(engine, bridge, stop, task, config.redis)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=5)
        engine.shutdown()
