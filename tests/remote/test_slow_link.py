"""A remote desk on a slow link (300 ms round trip to Redis, through the delay proxy).

What a trader on a distant SSH session relies on: the desk attaches, follows the engine
without calling it DOWN (a slow link is not a dead engine), and a command is executed
once and answered in two round trips plus the engine's own time, far inside the reply
timeout. "Two round trips" is checked by counting what the desk wrote to the link while
it sent (each write a request the desk then waits on), not by a stopwatch.
"""

from __future__ import annotations

import asyncio
import time

from desk.state import DeskState
from tests.delay_proxy import DelayProxy
from tests.engine.conftest import advance
from tests.remote.conftest import remote_engine
from tests.remote.harness import close

RTT_S = 0.3


async def follow(feed, state: DeskState, until_seq: int, timeout: float) -> None:
    events = feed.events()

    async def pump() -> None:
        while state.seq < until_seq:
            state.apply(await anext(events))

    await asyncio.wait_for(pump(), timeout)


async def test_a_desk_300ms_away_attaches_follows_and_is_answered_once(redis_server, tmp_path):
    writes: list[bytes] = []

    def count(direction: str, chunk: bytes) -> bytes:
        if direction == "up":
            writes.append(chunk)
        return chunk

    async with remote_engine(redis_server, tmp_path) as remote:
        engine = remote.engine
        async with DelayProxy(redis_server.port, delay=RTT_S / 2, tamper=count) as proxy:
            feed = remote.feed("alice", url=f"redis://127.0.0.1:{proxy.port}/0")
            state = DeskState()
            state.load(await asyncio.wait_for(feed.attach(), 10))
            advance(engine, 5)
            # Longer than the heartbeat TTL (1 s here): the desk must keep following.
            await asyncio.sleep(1.5)
            advance(engine, 2)
            await follow(feed, state, engine.bus.seq, timeout=10)
            assert {k: v.unrealized_pnl for k, v in state.positions.items()} == {
                v.position_id: v.unrealized_pnl for v in engine.position_views()
            }

            position = engine.book.open_positions()[0].position_id
            writes.clear()
            began = time.monotonic()
            result = await asyncio.wait_for(feed.send(close("slow-1", position)), 15)
            took = time.monotonic() - began
            rtt_ms = RTT_S * 1000
            print(f"\nslow link: close answered in {took * 1000:.0f} ms, {rtt_ms:.0f} ms RTT")
            assert result.accepted, result.message
            assert len([o for o in engine.orders.values() if o.command_id == "slow-1"]) == 1
            # [GET outcome, XREVRANGE] then [XADD, XREAD BLOCK]: the answer comes back on
            # the second. Separate calls (the old path) made four round trips.
            assert len(writes) == 2, [w[:60] for w in writes]
            await feed.close()
