"""FAULTS rows 1-3, 10-12: Redis itself fails, and no command is lost, doubled or faked 'done'.

A real redis-server on a free port is SIGKILLed and restarted (with ``appendfsync always``
where the row says AOF, with Redis's defaults where it says so), left down, restored from
an older AOF, or starved of memory, under an in-process engine that keeps ticking and
in-process desks that keep following it. After each fault the tests hold the engine to:
every command id answered exactly once and ordered at most once, the book equal to the
paper broker's ledger, nothing left pending, and every desk whole again (same positions,
portfolio and sequence number as the engine) within two health-check intervals.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from desk.feeds.redis import RedisFeed
from engine.feed import FeedError
from engine.records import AnyCommand, ClosePosition, CommandResult, PauseAgent
from engine.remote.config import RedisConfig
from engine.remote.protocol import GROUP, Keys, read_frame
from tests.engine.conftest import advance
from tests.remote.conftest import Remote, remote_engine
from tests.remote.harness import (
    Follower,
    book_positions,
    close,
    keep_ticking,
    orders_by_command,
    outcome,
    pending,
    results_by_command,
    same_book,
    signed,
    sync_client,
    until,
    xadd,
)

pytestmark = pytest.mark.timeout(240)
RUNS = int(os.environ.get("DESK_REDIS_KILL_RUNS", "30"))


def health_check_s(feed: RedisFeed) -> float:
    """The feed's health-check interval: the yardstick for 'shown' and 'resynced'."""
    return float(feed.client.connection_pool.connection_kwargs["health_check_interval"])


async def send_until_answered(feed: RedisFeed, command: AnyCommand, timeout: float = 30.0):
    """What a desk does with an unconfirmed command: look it up, resend the same id."""
    deadline = time.monotonic() + timeout
    tries = 0
    while True:
        tries += 1
        try:
            return await feed.send(command), tries
        except (FeedError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)  # back-off between attempts, as the app's


@dataclass
class RunStats:
    commands: int = 0
    resends: int = 0
    shown_down_s: list[float] = field(default_factory=list)
    resync_s: list[float] = field(default_factory=list)


async def _kill_run(server, tmp_path, run: int, rng: random.Random, stats: RunStats) -> None:
    async with remote_engine(server, tmp_path / f"run{run}") as remote:
        engine = remote.engine
        ticking = asyncio.create_task(keep_ticking(engine))
        follower = Follower(remote.feed("alice")).start()
        feed = remote.feed("alice", reply_timeout_s=3.0)
        try:
            await until(lambda: follower.state.seq, 10, "the desk to attach")
            positions = [p for p in engine.book.open_positions()]
            rng.shuffle(positions)
            commands: list[AnyCommand] = []
            for position in positions[: rng.randint(3, 5)]:
                partial = position.units > 1 and rng.random() < 0.5
                commands.append(
                    close(
                        f"r{run}-{position.position_id}",
                        position.position_id,
                        quantity=1 if partial else None,
                    )
                )
            commands.append(
                PauseAgent(
                    command_id=f"r{run}-pause",
                    actor="alice",
                    issued_at=time.time_ns(),
                    agent="technical",
                )
            )
            # A double key-press of the first command rides along in the same burst.
            burst = [*commands, commands[0]]
            rng.shuffle(burst)
            moments: dict[str, float] = {}

            async def kill_and_restart() -> None:
                await asyncio.sleep(rng.uniform(0.0, 0.03))  # somewhere inside the burst
                server.kill()
                moments["kill"] = time.monotonic()
                await asyncio.sleep(rng.uniform(0.05, 0.4))  # the outage itself
                server.start()
                moments["up"] = time.monotonic()
                moments["seq"] = engine.bus.seq

            killer = asyncio.create_task(kill_and_restart())
            answers = await asyncio.wait_for(
                asyncio.gather(*(send_until_answered(feed, c) for c in burst)), 60
            )
            await asyncio.wait_for(killer, 10)
            ticking.cancel()
            advance(engine)  # one tick after the last command: position statuses settle

            client = sync_client(server.url)
            try:
                await until(
                    lambda: (
                        remote.bridge.up
                        and all(pending(client, "test", t) == 0 for t in ("alice", "bob"))
                    ),
                    20,
                    "the engine back on Redis with nothing pending",
                )
                stored = {c.command_id: outcome(client, "test", c.command_id) for c in commands}
            finally:
                client.close()
            await until(lambda: same_book(follower.state, engine), 15, "the desk to resync")

            # Every command answered, and answered with what the engine journaled.
            journaled = results_by_command(engine.journal.path)
            orders = orders_by_command(engine.journal.path)
            for (result, tries), command in zip(answers, burst, strict=True):
                cid = command.command_id
                first: CommandResult = engine.results[cid]
                assert journaled[cid] == 1, cid
                assert (result.accepted, result.code, result.order_id) == (
                    first.accepted,
                    first.code,
                    first.order_id,
                ), cid
                stats.resends += tries - 1
            for command in commands:
                cid = command.command_id
                assert stored[cid] is not None, f"no outcome key for {cid}"
                if isinstance(command, ClosePosition):
                    expected = 1 if engine.results[cid].accepted else 0
                    assert len(orders.get(cid, ())) == expected, cid
                    ledger = engine.broker.ledger.order_by_ref(cid)
                    assert (ledger is not None) == bool(expected), cid
            assert book_positions(engine) == engine.broker.ledger.positions()
            stats.commands += len(commands)

            shown = follower.first_error_after(moments["kill"])
            assert shown is not None  # the desk noticed the outage
            stats.shown_down_s.append(shown - moments["kill"])
            whole = follower.first_seen(moments["up"], int(moments["seq"]))
            assert whole is not None
            stats.resync_s.append(whole - moments["up"])
        finally:
            ticking.cancel()
            await follower.stop()
            await feed.close()


async def test_row1_redis_sigkilled_mid_burst_loses_and_doubles_nothing(persistent_redis, tmp_path):
    """30 runs: a burst of closes (one pressed twice) and a pause; Redis (AOF always) is
    SIGKILLed at a random moment inside the burst and restarted after a random outage."""
    rng = random.Random(20250303)
    stats = RunStats()
    began = time.monotonic()
    for run in range(RUNS):
        await _kill_run(persistent_redis, tmp_path, run, rng, stats)
    limit = 2 * health_check_s(RedisFeed(_config(persistent_redis.url), "test"))
    print(
        f"\nrow 1: {RUNS} runs in {time.monotonic() - began:.1f}s, {stats.commands} commands, "
        f"{stats.resends} resends; outage shown after max {max(stats.shown_down_s):.3f}s; "
        f"resynced after max {max(stats.resync_s):.2f}s (limit {limit:g}s)"
    )
    assert max(stats.shown_down_s) <= limit
    assert max(stats.resync_s) <= limit


def _config(url: str, **fields: Any) -> RedisConfig:
    return RedisConfig(url=url, trader="alice", **fields)


async def test_row1_a_long_outage_is_shown_and_the_engine_trades_through_it(
    persistent_redis, tmp_path
):
    """Redis down for three seconds: the desk says so at once, the engine keeps ticking and
    journaling, and the desk is whole again soon after Redis returns."""
    async with remote_engine(persistent_redis, tmp_path) as remote:
        engine = remote.engine
        follower = Follower(remote.feed("alice")).start()
        ticking = asyncio.create_task(keep_ticking(engine))
        try:
            await until(lambda: follower.state.seq, 10, "the desk to attach")
            limit = 2 * health_check_s(follower.feed)
            persistent_redis.kill()
            killed, ticks = time.monotonic(), engine.ticks
            await until(lambda: follower.first_error_after(killed), limit, "the outage shown")
            shown = follower.first_error_after(killed) - killed
            await until(lambda: engine.ticks >= ticks + 50, 10, "the engine to trade on")
            await until(lambda: not remote.bridge.up, 5, "the bridge to notice")
            persistent_redis.start()
            up, seq = time.monotonic(), engine.bus.seq
            await until(lambda: follower.first_seen(up, seq), limit, "the desk to resync")
            resync = follower.first_seen(up, seq) - up
            ticking.cancel()
            advance(engine)
            await until(lambda: same_book(follower.state, engine), limit, "the same book")
        finally:
            ticking.cancel()
            await follower.stop()
        print(f"\nrow 1 (3 s outage): shown after {shown:.3f}s, resynced after {resync:.2f}s")
        codes = [a.code for a in engine.alerts]
        assert "REDIS_DOWN" in codes and "REDIS_BACK" in codes


async def test_row2_redis_restarted_empty_engine_rebuilds_and_never_acts_on_the_unread(
    redis_server, tmp_path
):
    """Redis with its defaults (no AOF) loses the streams and groups on a restart."""
    engine_dir = tmp_path / "engine"
    async with remote_engine(redis_server, engine_dir) as remote:
        position = remote.engine.book.open_positions()[0].position_id
    # The engine is stopped; a desk presses Close; Redis dies before any engine read it.
    feed = RedisFeed(_config(redis_server.url, reply_timeout_s=1.0), "test")
    command = close("unread-1", position)
    with pytest.raises(TimeoutError, match="NOT confirmed"):
        await feed.send(command)
    redis_server.kill()
    redis_server.start()
    assert await feed.outcome("unread-1") is None  # "not acknowledged: resend?"

    async with remote_engine(redis_server, engine_dir) as remote:
        client = sync_client(redis_server.url)
        groups = client.xinfo_groups(Keys("test").commands("alice"))
        assert [g["name"] for g in groups] == [GROUP.encode()]  # recreated
        assert "unread-1" not in remote.engine.commands  # it never read it, so never acted
        assert await feed.outcome("unread-1") is None
        # The trader resends the same command: it runs once now.
        again = await asyncio.wait_for(feed.send(command), 10)
        assert again.accepted, again.message
        assert len([o for o in remote.engine.orders.values() if o.command_id == "unread-1"]) == 1
        client.close()
    await feed.close()


@pytest.mark.parametrize("traders", [("alice", "bob"), ()], ids=["trading", "read-only"])
async def test_row2_redis_restarted_empty_under_a_running_engine_desks_resync(
    redis_server, tmp_path, traders
):
    async with remote_engine(redis_server, tmp_path, traders=list(traders)) as remote:
        engine = remote.engine
        follower = Follower(remote.feed("alice")).start()
        try:
            await until(lambda: follower.state.seq, 10, "the desk to attach")
            republished = engine.counters["redis_republished"]
            redis_server.kill()
            redis_server.start()
            advance(engine, 3)
            await until(
                lambda: engine.counters["redis_republished"] > republished, 10, "a republish"
            )
            advance(engine)
            await until(lambda: same_book(follower.state, engine), 10, "the desk to resync")
            assert follower.errors  # it was told, and attached again
            fresh = RedisFeed(_config(redis_server.url), "test")
            snapshot = await fresh.attach()
            assert snapshot.seq == engine.bus.seq
            assert {p.position_id for p in snapshot.positions} == {
                v.position_id for v in engine.position_views()
            }
            await fresh.close()
            if traders:
                client = sync_client(redis_server.url)
                for trader in traders:
                    assert client.xinfo_groups(Keys("test").commands(trader))
                client.close()
                result = await asyncio.wait_for(
                    remote.feed("alice").send(close("after-1", snapshot.positions[0].position_id)),
                    10,
                )
                assert result.accepted, result.message
        finally:
            await follower.stop()


async def test_row2_streams_flushed_under_a_running_engine_nogroup_is_recovered(
    redis_server, tmp_path
):
    """FLUSHALL with the engine connected: its next read fails NOGROUP; it recreates the
    groups and republishes, and commands work again."""
    async with remote_engine(redis_server, tmp_path) as remote:
        engine = remote.engine
        follower = Follower(remote.feed("alice")).start()
        try:
            await until(lambda: follower.state.seq, 10, "the desk to attach")
            republished = engine.counters["redis_republished"]
            client = sync_client(redis_server.url)
            client.flushall()
            await until(
                lambda: engine.counters["redis_republished"] > republished, 10, "a republish"
            )
            assert client.xinfo_groups(Keys("test").commands("alice"))
            advance(engine)
            await until(lambda: same_book(follower.state, engine), 10, "the desk to resync")
            position = engine.book.open_positions()[0].position_id
            result = await asyncio.wait_for(remote.feed("alice").send(close("f-1", position)), 10)
            assert result.accepted, result.message
            client.close()
        finally:
            await follower.stop()


async def test_row3_close_pressed_while_redis_is_away_errors_at_once_and_expires(
    persistent_redis, tmp_path
):
    """Redis away ~6.5 s (the row's 10 s, scaled with a 6 s TTL): a press gets an error at
    once, never a silent success. Resent with its original id once Redis is back, the press
    older than the TTL is refused as expired; the one pressed just before Redis returned
    runs exactly once (the engine's reconnect back-off is at most 2 s, inside the TTL)."""
    ttl = 6.0
    async with remote_engine(persistent_redis, tmp_path, command_ttl_s=ttl) as remote:
        engine = remote.engine
        feed = remote.feed("alice")
        first, second = (p.position_id for p in engine.book.open_positions()[:2])
        persistent_redis.kill()
        early = close("away-early", first)
        pressed = time.monotonic()
        with pytest.raises(FeedError, match="NOT sent") as error:
            await asyncio.wait_for(feed.send(early), 10)
        shown = time.monotonic() - pressed
        await until(lambda: time.time_ns() - early.issued_at > (ttl + 0.5) * 1e9, 10, "the TTL")
        late = close("away-late", second)
        with pytest.raises(FeedError, match="NOT sent"):
            await asyncio.wait_for(feed.send(late), 10)
        persistent_redis.start()
        await until(lambda: remote.bridge.up, 10, "the engine back on Redis")

        expired = await asyncio.wait_for(feed.send(early), 10)
        ran = await asyncio.wait_for(feed.send(late), 10)
        print(f"\nrow 3: error shown {shown * 1000:.0f} ms after the press: {error.value}")
        assert shown < 1.0
        assert (expired.accepted, expired.code) == (False, "EXPIRED")
        assert ran.accepted, ran.message
        assert not [o for o in engine.orders.values() if o.command_id == "away-early"]
        assert len([o for o in engine.orders.values() if o.command_id == "away-late"]) == 1
        await feed.close()


async def test_row10_desk_cut_off_while_100_updates_pass_catches_up_contiguously(
    redis_server, tmp_path
):
    async with remote_engine(redis_server, tmp_path) as remote:
        await _cut_off_and_catch_up(remote, redis_server, updates=100, expect_gap=False)


async def test_row10_desk_cut_off_past_the_streams_length_sees_a_gap_and_resyncs(
    redis_server, tmp_path
):
    async with remote_engine(redis_server, tmp_path, stream_maxlen=100) as remote:
        await _cut_off_and_catch_up(remote, redis_server, updates=600, expect_gap=True)


async def _cut_off_and_catch_up(remote: Remote, server, *, updates: int, expect_gap: bool):
    from desk.state import DeskState, SequenceGap

    engine = remote.engine
    feed = remote.feed("alice")
    # Name the desk's connections so CLIENT KILL can find exactly them.
    feed.client.connection_pool.connection_kwargs["client_name"] = "tui"
    state = DeskState()
    state.load(await feed.attach())
    events = feed.events()

    async def drain() -> None:
        while state.seq < engine.bus.seq:
            state.apply(await anext(events))

    await asyncio.wait_for(drain(), 10)
    client = sync_client(server.url)
    killed = [c["id"] for c in client.client_list() if c.get("name") == "tui"]
    assert killed
    for client_id in killed:
        client.client_kill_filter(_id=client_id)
    start_seq = engine.bus.seq

    def trimmed_past_the_desk() -> bool:
        # Entries are frames of events (one per flush): the gap exists once the oldest frame
        # left in the stream starts after the event that the desk needs next.
        oldest = client.xrange(Keys("test").events, count=1)
        return bool(oldest) and read_frame(oldest[0][1])[0].seq > state.seq + 1

    while engine.bus.seq < start_seq + updates or (expect_gap and not trimmed_past_the_desk()):
        advance(engine)
        # Let the bridge publish as the ticks go by (a gap needs many flushes, so wait one).
        await asyncio.sleep(0.011 if expect_gap else 0)
    await until(
        lambda: (
            (client.get(Keys("test").cursor) or b"0").split()[0] == str(engine.bus.seq).encode()
        ),
        10,
        "the engine to publish everything",
    )

    reconnected = time.monotonic()
    gaps = 0
    applied: list[int] = []

    async def catch_up() -> None:
        nonlocal events, gaps
        while state.seq < engine.bus.seq:
            try:
                event = await anext(events)
            except FeedError:
                events = feed.events()  # the link was cut: read on from where we were
                continue
            try:
                if state.apply(event):
                    applied.append(event.seq)
            except SequenceGap:
                gaps += 1  # the desk shows a gap marker and attaches again
                state.load(await feed.attach())
                events = feed.events()

    await asyncio.wait_for(catch_up(), 2 * health_check_s(feed))
    took = time.monotonic() - reconnected
    assert same_book(state, engine)
    if expect_gap:
        assert gaps == 1
    else:
        assert gaps == 0 and applied == list(range(start_seq + 1, engine.bus.seq + 1))
    print(f"\nrow 10: {updates} updates, caught up in {took * 1000:.0f} ms, gaps {gaps}")
    client.close()
    await feed.close()


async def test_row11_redis_restored_from_an_older_aof_dedupes_and_resyncs(
    persistent_redis, tmp_path
):
    """Failover to a replica that missed writes, simulated by restoring an older AOF dir."""
    server = persistent_redis
    aof = server.directory / "appendonlydir"
    saved = tmp_path / "aof-t0"
    async with remote_engine(server, tmp_path / "engine") as remote:
        engine = remote.engine
        follower = Follower(remote.feed("alice")).start()
        feed = remote.feed("alice")
        client = sync_client(server.url)
        try:
            await until(lambda: follower.state.seq, 10, "the desk to attach")
            positions = [p.position_id for p in engine.book.open_positions()]
            early = [close(f"t0-{i}", positions[i], quantity=1) for i in range(3)]
            # No await between the XADDs and the copy: the engine cannot have acted yet, so
            # t0 holds these three as new (or delivered and pending) entries.
            for command in early:
                xadd(client, "test", "alice", signed(command))
            shutil.copytree(aof, saved)
            sent = [c.command_id for c in early]
            later: list[AnyCommand] = []
            for i in range(17):
                advance(engine)
                command = PauseAgent(
                    command_id=f"t1-{i}", actor="alice", issued_at=time.time_ns(), agent="technical"
                )
                assert (await asyncio.wait_for(feed.send(command), 10)).accepted
                sent.append(command.command_id)
                later.append(command)
            await until(lambda: all(c in engine.results for c in sent), 10, "20 answers")
            delivered = engine.counters["commands_duplicate_delivered"]

            server.kill()
            shutil.rmtree(aof)
            shutil.copytree(saved, aof)
            server.start()
            up, seq = time.monotonic(), engine.bus.seq
            await until(
                lambda: engine.counters["commands_duplicate_delivered"] >= delivered + 3,
                15,
                "the restored entries to be redelivered",
            )
            await until(lambda: pending(client, "test", "alice") == 0, 10, "an empty PEL")
            limit = 2 * health_check_s(feed)
            await until(lambda: follower.first_seen(up, seq), limit, "the desk to resync")
            advance(engine)
            await until(lambda: same_book(follower.state, engine), limit, "the same book")

            orders = orders_by_command(engine.journal.path)
            for command in early:
                assert len(orders[command.command_id]) == 1, command.command_id
            assert book_positions(engine) == engine.broker.ledger.positions()
            # The restored Redis forgot the later outcomes; asking again gives the first.
            assert outcome(client, "test", "t1-5") is None
            again = await asyncio.wait_for(feed.send(later[5]), 10)
            assert again.duplicate and again.accepted
        finally:
            client.close()
            await follower.stop()
            await feed.close()


async def test_row12_redis_out_of_memory_is_a_clear_error_and_nothing_half_written(
    redis_server, tmp_path
):
    async with remote_engine(redis_server, tmp_path) as remote:
        engine = remote.engine
        feed = remote.feed("alice")
        follower = Follower(remote.feed("alice")).start()
        client = sync_client(redis_server.url)
        try:
            await until(lambda: follower.state.seq, 10, "the desk to attach")
            commands_before = engine.journal.count("command")
            client.config_set("maxmemory", "1")  # noeviction is Redis's default policy
            position = engine.book.open_positions()[0].position_id
            with pytest.raises(FeedError) as error:
                await asyncio.wait_for(feed.send(close("oom-1", position)), 10)
            message = str(error.value)
            assert "out of memory" in message.lower() and "NOT sent" in message, message
            advance(engine, 5)  # the engine trades on; its publishing is refused
            await until(lambda: not remote.bridge.up, 10, "the bridge to notice")
            assert engine.journal.count("command") == commands_before
            assert "oom-1" not in engine.results

            client.config_set("maxmemory", "0")
            await until(lambda: remote.bridge.up, 15, "the bridge to recover")
            advance(engine)
            await until(lambda: same_book(follower.state, engine), 10, "the desk to resync")
            fresh = RedisFeed(_config(redis_server.url), "test")
            snapshot = await fresh.attach()
            assert snapshot.seq == engine.bus.seq  # the whole state, not a half-written one
            await fresh.close()
        finally:
            client.close()
            await follower.stop()
            await feed.close()
