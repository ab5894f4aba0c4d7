"""Ten desks attached to one engine at once all see exactly the engine's own state.

The desks attach one after another while the engine ticks (so each snapshot is taken at a
different sequence number), then follow the event stream. After the engine has ticked on
and stopped, every desk's DeskState - positions with their P&L, the portfolio with its
equity, the sequence number - is byte-for-byte what the engine itself holds.
"""

from __future__ import annotations

import asyncio

import pytest

from engine import codec
from tests.engine.conftest import advance
from tests.remote.conftest import remote_engine
from tests.remote.harness import Follower, same_book, until

pytestmark = pytest.mark.timeout(120)
DESKS = 10
TICKS = 60


async def test_ten_desks_attached_at_once_see_identical_state(redis_server, tmp_path):
    async with remote_engine(redis_server, tmp_path) as remote:
        engine = remote.engine
        desks: list[Follower] = []
        attached_at: list[int] = []
        try:
            for _ in range(DESKS):
                desk = Follower(remote.feed("alice")).start()
                desks.append(desk)
                advance(engine)  # the next desk attaches to a later state
                await until(lambda d=desk: d.state.seq, 10, "a desk to attach")
                attached_at.append(desk.seen[0][1])
            for _ in range(TICKS):
                advance(engine)
                await asyncio.sleep(0.005)  # a tick's pause, so the bridge publishes between
            advance(engine)
            await until(
                lambda: all(same_book(d.state, engine) for d in desks), 15, "every desk in step"
            )
        finally:
            for desk in desks:
                await desk.stop()

        assert len(set(attached_at)) > 1  # they did attach at different moments
        assert all(not d.errors for d in desks)  # no gap, no reconnect: one clean stream
        views = {v.position_id: v for v in engine.position_views()}
        assert views and engine.valuation is not None
        for desk in desks:
            state = desk.state
            assert state.seq == engine.bus.seq
            assert {k: v.unrealized_pnl for k, v in state.positions.items()} == {
                k: v.unrealized_pnl for k, v in views.items()
            }
            assert state.portfolio is not None
            assert state.portfolio.equity == engine.valuation.summary.equity
            assert codec.encode(state.risk) == codec.encode(desks[0].state.risk)
