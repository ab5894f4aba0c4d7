"""The remote desk sees what the engine has and sends commands that act exactly once."""

from __future__ import annotations

import asyncio

from desk.state import DeskState
from engine.records import ClosePosition
from tests.engine.conftest import advance
from tests.remote.conftest import remote_engine, wait_for


async def drain(feed, state: DeskState, until_seq: int, timeout: float = 5.0) -> None:
    events = feed.events()

    async def pump() -> None:
        while state.seq < until_seq:
            state.apply(await anext(events))

    await asyncio.wait_for(pump(), timeout)


async def test_attach_gives_the_engines_book_and_events_continue_without_gap(
    redis_server, tmp_path
):
    async with remote_engine(redis_server, tmp_path) as remote:
        feed = remote.feed()
        snapshot = await feed.attach()
        state = DeskState()
        state.load(snapshot)

        # Rows in the embedded desk's order, although a Redis hash has none.
        assert list(state.positions) == [v.position_id for v in remote.engine.position_views()]
        advance(remote.engine, 5)
        await drain(feed, state, remote.engine.bus.seq)

        engine_views = {v.position_id: v.unrealized_pnl for v in remote.engine.position_views()}
        assert {k: v.unrealized_pnl for k, v in state.positions.items()} == engine_views
        await feed.close()


async def test_a_signed_close_is_executed_once_and_answered(redis_server, tmp_path):
    async with remote_engine(redis_server, tmp_path) as remote:
        feed = remote.feed()
        await feed.attach()
        position = next(iter(remote.engine.book.open_positions()))
        command = ClosePosition(
            command_id="remote-1", actor="alice", issued_at=_now(), position_id=position.position_id
        )

        first = await feed.send(command)
        again = await feed.send(command)

        assert first.accepted, first.message
        assert again.command_id == first.command_id and again.order_id == first.order_id
        closes = [o for o in remote.engine.orders.values() if o.command_id == "remote-1"]
        assert len(closes) == 1
        await feed.close()


async def test_a_trader_the_engine_does_not_serve_is_told_at_once_and_nothing_is_sent(
    redis_server, tmp_path
):
    import pytest

    from engine.feed import FeedError
    from engine.remote.protocol import Keys

    async with remote_engine(redis_server, tmp_path) as remote:
        feed = remote.feed("carol")
        await feed.attach()
        position = next(iter(remote.engine.book.open_positions()))
        command = ClosePosition(
            command_id="carol-1", actor="carol", issued_at=_now(), position_id=position.position_id
        )

        with pytest.raises(FeedError, match="takes commands from alice, bob, not from 'carol'"):
            await asyncio.wait_for(feed.send(command), 2)

        assert not await feed.client.exists(Keys("test").commands("carol"))
        await feed.close()


async def test_previews_and_roll_candidates_come_from_the_engine(redis_server, tmp_path):
    async with remote_engine(redis_server, tmp_path) as remote:
        feed = remote.feed()
        position = next(iter(remote.engine.book.open_positions()))

        preview = await feed.close_preview(position.position_id)
        candidates = await feed.roll_candidates(position.position_id)

        assert preview.position_id == position.position_id and preview.estimated_fill is not None
        assert candidates and all(c.position_id == position.position_id for c in candidates)
        await feed.close()


def _now() -> int:
    import time

    return time.time_ns()


async def test_engine_republishes_when_redis_comes_back(redis_server, tmp_path):
    async with remote_engine(redis_server, tmp_path) as remote:
        redis_server.kill()
        advance(remote.engine, 3)
        await wait_for(lambda: not remote.bridge.up, timeout=10)
        redis_server.start()
        await wait_for(lambda: remote.bridge.up, timeout=15)
        # Two heartbeats on: every loop has drawn a connection from the pool since.
        await asyncio.sleep(remote.config.heartbeat_ttl_s)
        # One restart is one outage and one republish (not a second from dead connections).
        assert remote.bridge.counters["redis_disconnects"] == 1, remote.bridge.counters
        assert remote.bridge.counters["redis_republished"] == 2, remote.bridge.counters

        # The REDIS_BACK alert follows the republished snapshot, so a desk attaching now
        # gets the snapshot and then the alert on the stream: follow it, as a desk does.
        feed = remote.feed()
        state = DeskState()
        state.load(await feed.attach())
        await drain(feed, state, remote.engine.bus.seq)
        assert state.seq == remote.engine.bus.seq
        assert list(state.positions) == [v.position_id for v in remote.engine.position_views()]
        assert any(a.code == "REDIS_BACK" for a in state.alerts), state.alerts
        await feed.close()
