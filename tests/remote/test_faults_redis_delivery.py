"""FAULTS rows 4-9, 37: a command reaches the engine once, or the trader is told it did not.

Each test drives a real redis-server and a real engine, a subprocess wherever the fault is
a crash (SIGKILL at a named crash point, SIGSTOP for a frozen host, SIGKILL of a client),
and proves from the engine's journal and the paper broker's ledger afterwards that no
command was executed twice and none that a trader was told about was lost.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from engine.records import PauseAgent
from engine.remote.protocol import GROUP, Keys
from tests.delay_proxy import DelayProxy
from tests.remote.conftest import remote_engine, wait_for
from tests.remote.harness import (
    EngineProcess,
    alert_codes,
    close,
    journal_results,
    ledger_refs,
    orders_by_command,
    outcome,
    parse,
    pending,
    poll,
    results_on_stream,
    run_client,
    signed,
    start_client,
    sync_client,
    xadd,
)

NAME = "fault"
pytestmark = pytest.mark.timeout(90)


async def test_row4_a_retried_xadd_after_a_lost_reply_makes_one_order(redis_server, tmp_path):
    """redis-py retries a command whose reply was lost: the XADD lands twice, one order."""
    async with remote_engine(redis_server, tmp_path) as remote:
        stream = Keys("test").commands("alice").encode()
        state = {"armed": False, "dropped": 0}

        def lose_the_xadd_reply(direction: str, chunk: bytes) -> bytes | None:
            # Let the XADD through, then drop its reply and cut the link, as a flaky
            # network would: the client cannot know whether the command arrived.
            if direction == "up" and b"XADD" in chunk and stream in chunk and not state["dropped"]:
                state["armed"] = True
            elif direction == "down" and state["armed"]:
                state["armed"] = False
                state["dropped"] += 1
                proxy.sever()
                return None
            return chunk

        proxy = DelayProxy(redis_server.port, delay=0.0, tamper=lose_the_xadd_reply)
        async with proxy:
            feed = remote.feed("alice", url=f"redis://127.0.0.1:{proxy.port}/0")
            # Redis.from_url (our connect()) gives connections no retries in redis-py 8;
            # a client built with redis.asyncio.Redis(...) gets this policy by default.
            feed.client.set_retry(Retry(ExponentialWithJitterBackoff(base=0.01, cap=1), retries=10))
            position = remote.engine.book.open_positions()[0].position_id
            result = await asyncio.wait_for(feed.send(close("retry-1", position)), 15)
            await feed.close()

        engine = remote.engine
        await wait_for(lambda: engine.counters["commands_duplicate_delivered"] == 1, timeout=10)
        client = remote.bridge.client
        assert state["dropped"] == 1
        assert await client.xlen(Keys("test").commands("alice")) == 2  # redis-py did retry
        assert result.accepted, result.message
        assert [o.order_id for o in engine.orders.values() if o.command_id == "retry-1"] == [
            result.order_id
        ]
        assert engine.broker.ledger.order_by_ref("retry-1") is not None
        assert engine.counters["commands_duplicate"] == 1


async def test_row5_the_same_entry_twice_is_answered_with_the_first_result(redis_server, tmp_path):
    """A double key-press (or PEL redelivery) of one command: one order, second is 'duplicate'."""
    async with remote_engine(redis_server, tmp_path) as remote:
        client = sync_client(redis_server.url)
        position = remote.engine.book.open_positions()[0].position_id
        entry = signed(close("twice-1", position))
        xadd(client, "test", "alice", entry)
        xadd(client, "test", "alice", entry)
        engine = remote.engine
        await wait_for(lambda: engine.counters["commands_duplicate_delivered"] == 1)
        await wait_for(lambda: pending(client, "test", "alice") == 0)

        answers = [
            r
            for r in results_on_stream(client, "test")
            if r.command_id == "twice-1"  # both answers, in order
        ]
        assert [a.duplicate for a in answers] == [False, True]
        assert answers[0].accepted and answers[1].order_id == answers[0].order_id
        assert len([o for o in engine.orders.values() if o.command_id == "twice-1"]) == 1
        client.close()


async def test_row5_a_command_that_ran_is_never_answered_rate_limited_when_redelivered(
    redis_server, tmp_path
):
    """A backlog redelivered after a crash can exceed the rate: a command that already ran
    must keep its first answer, and only commands never run are refused RATE_LIMITED."""
    async with remote_engine(redis_server, tmp_path, rate_limit_per_s=1.0) as remote:
        client = sync_client(redis_server.url)
        engine = remote.engine
        position = engine.book.open_positions()[0].position_id
        ran = signed(close("ran-1", position))
        xadd(client, "test", "alice", ran)
        await wait_for(lambda: "ran-1" in engine.results)
        # One pipeline, so the bucket (1 token/s) has nothing left for the second one.
        pipe = client.pipeline(transaction=False)
        for entry in (signed(close("new-1", position)), signed(close("new-2", position)), ran):
            pipe.xadd(Keys("test").commands("alice"), entry)
        pipe.execute()
        await wait_for(lambda: pending(client, "test", "alice") == 0)
        await wait_for(lambda: engine.counters["commands_duplicate_delivered"] == 1)

        answers = {r.command_id: r for r in results_on_stream(client, "test")}  # the latest
        assert answers["ran-1"].accepted and answers["ran-1"].duplicate, answers["ran-1"]
        assert engine.counters["commands_refused_rate_limited"] >= 1
        limited = [c for c in ("new-1", "new-2") if answers[c].code == "RATE_LIMITED"]
        assert limited, answers
        # A refusal it never acted on is not kept as the id's outcome: a resend must run.
        assert all(client.get(Keys("test").outcome(c)) is None for c in limited)
        assert len([o for o in engine.orders.values() if o.command_id == "ran-1"]) == 1
        client.close()


def test_row5_engine_killed_after_acting_before_xack_answers_once_after_restart(
    persistent_redis, tmp_path
):
    """SIGKILL after the order went to the broker but before XACK: the restart re-reads its
    own pending entry, finds the result in its journal, answers it, and orders nothing."""
    client = sync_client(persistent_redis.url)
    with EngineProcess(tmp_path / "engine", persistent_redis.url, name=NAME) as engine:
        engine.start(crash_at="after_submit")
        xadd(client, NAME, "alice", signed(close("c-ack", "SPY-1")))
        assert engine.wait_exit(20) == -9  # died at the crash point
        assert pending(client, NAME, "alice") == 1  # delivered, never acknowledged
        assert outcome(client, NAME, "c-ack") is None  # and never answered

        engine.start(crash_at="")
        poll(lambda: pending(client, NAME, "alice") == 0, 20, "the PEL to drain")
        answer = poll(lambda: outcome(client, NAME, "c-ack"), 10, "the outcome")
        assert engine.stop() == 0

    assert answer.accepted and answer.duplicate  # the journal's answer, not a new one
    assert len(orders_by_command(engine.journal)["c-ack"]) == 1
    assert ledger_refs(engine.ledger)["c-ack"] == 1
    client.close()


def test_row7_engine_dies_holding_unacked_commands_each_runs_once(persistent_redis, tmp_path):
    """Killed between reading a batch and finishing it: the restart reads its own PEL first."""
    client = sync_client(persistent_redis.url)
    ids = ["c-1", "c-2", "c-3"]
    with EngineProcess(tmp_path / "engine", persistent_redis.url, name=NAME) as engine:
        # The second command dies after its journal record, before any order: c-2 and c-3
        # (if it came in the same batch) are pending, c-1 is done.
        engine.start(crash_at="after_command_journal:2")
        engine.pause()  # so that all three arrive in the engine's next batch or two
        for command_id, position in zip(ids, ("SPY-1", "QQQ-2", "IWM-3"), strict=True):
            xadd(client, NAME, "alice", signed(close(command_id, position)))
        engine.resume()
        assert engine.wait_exit(20) == -9
        held = pending(client, NAME, "alice")
        assert held >= 1

        engine.start(crash_at="")
        poll(lambda: pending(client, NAME, "alice") == 0, 20, "the PEL to drain")
        answers = poll(
            lambda: (
                all(outcome(client, NAME, i) for i in ids)
                and {i: outcome(client, NAME, i) for i in ids}
            ),
            10,
            "every outcome",
        )
        assert engine.stop() == 0

    assert all(a.accepted for a in answers.values()), answers
    results = journal_results(engine.journal)
    orders = orders_by_command(engine.journal)
    refs = ledger_refs(engine.ledger)
    for command_id in ids:
        assert command_id in results
        assert len(orders[command_id]) == 1, command_id
        assert refs[command_id] == 1, command_id
    client.close()


async def test_row7_entries_left_by_a_dead_consumer_are_claimed(redis_server, tmp_path):
    """Another consumer read an entry and died: XAUTOCLAIM hands it to the engine."""
    client = sync_client(redis_server.url)
    keys = Keys("test")
    client.xgroup_create(keys.commands("alice"), GROUP, id="0", mkstream=True)
    xadd(client, "test", "alice", signed(close("ghost-1", "SPY-1")))
    client.xreadgroup(GROUP, "ghost", {keys.commands("alice"): ">"})
    # The engine claims entries idle for a second: wait until this one is.
    poll(
        lambda: (
            client.xpending_range(keys.commands("alice"), GROUP, "-", "+", 1)[0][
                "time_since_delivered"
            ]
            > 1100
        ),
        5,
        "the ghost's entry to idle",
    )
    async with remote_engine(redis_server, tmp_path) as remote:
        await wait_for(lambda: outcome(client, "test", "ghost-1") is not None)
        await wait_for(lambda: pending(client, "test", "alice") == 0)
        answer = outcome(client, "test", "ghost-1")
        assert answer is not None and answer.accepted
        assert len([o for o in remote.engine.orders.values() if o.command_id == "ghost-1"]) == 1
    client.close()


async def test_row7_a_dead_consumers_whole_backlog_is_claimed_not_one_batch(redis_server, tmp_path):
    """XAUTOCLAIM hands back at most a batch (500) and a cursor: all 600 must be taken."""
    client = sync_client(redis_server.url)
    keys = Keys("test")
    client.xgroup_create(keys.commands("alice"), GROUP, id="0", mkstream=True)
    ids = [f"ghost-{i}" for i in range(600)]
    pipe = client.pipeline(transaction=False)
    for command_id in ids:
        pause = PauseAgent(
            command_id=command_id, actor="alice", issued_at=time.time_ns(), agent="technical"
        )
        pipe.xadd(keys.commands("alice"), signed(pause))
    pipe.execute()
    client.xreadgroup(GROUP, "ghost", {keys.commands("alice"): ">"})
    poll(
        lambda: (
            client.xpending_range(keys.commands("alice"), GROUP, "-", "+", 1)[0][
                "time_since_delivered"
            ]
            > 1100
        ),
        5,
        "the ghost's entries to idle",
    )
    async with remote_engine(redis_server, tmp_path, rate_limit_per_s=10_000.0) as remote:
        await wait_for(lambda: pending(client, "test", "alice") == 0, timeout=20)
        answered = {r.command_id for r in results_on_stream(client, "test")}
        assert set(ids) <= answered, sorted(set(ids) - answered)[:5]
        assert all(remote.engine.results[c].accepted for c in ids)
    client.close()


async def test_row8_a_command_older_than_its_ttl_is_refused_never_run(redis_server, tmp_path):
    client = sync_client(redis_server.url)
    command = close("old-1", "SPY-1")
    xadd(client, "test", "alice", signed(command))
    # The engine is down for longer than the TTL (1 s) plus a second.
    poll(lambda: time.time_ns() - command.issued_at > 2e9, 5, "the command to age")
    async with remote_engine(redis_server, tmp_path, command_ttl_s=1.0) as remote:
        await wait_for(lambda: outcome(client, "test", "old-1") is not None)
        answer = outcome(client, "test", "old-1")
        assert answer is not None and not answer.accepted and answer.code == "EXPIRED"
        assert not [o for o in remote.engine.orders.values() if o.command_id == "old-1"]
        assert "old-1" not in remote.engine.commands  # never even journaled as a command
        assert any(a.code == "EXPIRED" for a in remote.engine.alerts)  # audited
    client.close()


def test_row6_two_traders_close_one_position_at_once_one_fills(persistent_redis, tmp_path):
    """Alice and Bob press Close on the same position within a millisecond."""
    url = persistent_redis.url
    client = sync_client(url)
    positions = Keys(NAME).topic("positions")
    with EngineProcess(tmp_path / "engine", url, name=NAME) as engine:
        engine.start()
        go = tmp_path / "go"
        procs = [
            start_client(
                url,
                NAME,
                trader,
                [
                    {
                        "type": "close_position",
                        "command_id": f"{trader}-close",
                        "position_id": "SPY-1",
                    }
                ],
                options=("--go", str(go)),
            )
            for trader in ("alice", "bob")
        ]
        for proc in procs:  # both connected and waiting, however long each took to start
            assert proc.stdout is not None
            assert proc.stdout.readline().split()[:1] == [b"READY"]
        go.touch()
        outputs = []
        for proc in procs:
            out, _ = proc.communicate(timeout=30)
            outputs.append(out.decode())
        acks = {k: v for out in outputs for k, v in parse(out, "ACK").items()}
        assert set(acks) == {"alice-close", "bob-close"}, outputs
        poll(lambda: not client.hexists(positions, "SPY-1"), 30, "SPY-1 to be closed")
        assert engine.stop() == 0

    codes = sorted((v[0], v[1]) for v in acks.values())
    # The second is refused as closing or, if the first already filled, closed (row 6
    # allows both); what may never happen is two orders or a flipped position.
    assert codes[1] == ("1", "OK"), acks
    assert codes[0] in {("0", "POSITION_CLOSING"), ("0", "POSITION_CLOSED")}, acks
    refs = ledger_refs(engine.ledger)
    assert refs["alice-close"] + refs["bob-close"] == 1  # one order reached the broker
    from engine.broker.ledger import Ledger

    ledger = Ledger(engine.ledger)
    try:
        legs = {
            leg.instrument.key
            for execution in ledger.executions()
            if execution.position_id == "SPY-1"
            for leg in execution.legs
        }
        held = ledger.positions()
    finally:
        ledger.close()
    assert legs and not (legs & set(held))  # flat: closed, never flipped
    client.close()


def test_row37_client_killed_after_xadd_looks_the_outcome_up_later(persistent_redis, tmp_path):
    """The link drops after the XADD, before the answer: a new desk finds the outcome."""
    url = persistent_redis.url
    client = sync_client(url)
    stream = Keys(NAME).commands("alice")
    with EngineProcess(tmp_path / "engine", url, name=NAME) as engine:
        engine.start()
        engine.pause()  # the answer cannot come before the client is gone
        first = start_client(
            url,
            NAME,
            "alice",
            [{"type": "close_position", "command_id": "ssh-1", "position_id": "SPY-1"}],
            options=("--reply-timeout", "30"),
        )
        try:
            poll(lambda: client.xlen(stream) == 1, 20, "the XADD")
        finally:
            first.kill()
            first.wait(timeout=10)
        engine.resume()
        poll(lambda: outcome(client, NAME, "ssh-1"), 20, "the engine to answer")
        later = run_client(url, NAME, "alice", [], options=("--outcome", "ssh-1"))
        assert engine.stop() == 0

    assert parse(later, "OUTCOME")["ssh-1"] == ["1", "OK"], later
    assert len(orders_by_command(engine.journal)["ssh-1"]) == 1
    assert ledger_refs(engine.ledger)["ssh-1"] == 1
    client.close()


async def test_row9_commands_trimmed_before_the_engine_read_them_are_never_done(
    persistent_redis, tmp_path
):
    """50 commands wait while the engine is frozen; the stream is trimmed to its last 5:
    the desks of the 45 lost ones get "NOT confirmed", never a result, and the engine
    says once, in its log and as a journaled alert, that commands were lost unread."""
    from desk.feeds.redis import RedisFeed
    from engine.records import PauseAgent
    from engine.remote.config import RedisConfig
    from tests.remote.harness import until

    url = persistent_redis.url
    client = sync_client(url)
    stream = Keys(NAME).commands("alice")
    with EngineProcess(tmp_path / "engine", url, name=NAME) as engine:
        engine.start()
        engine.pause()
        feed = RedisFeed(RedisConfig(url=url, trader="alice", reply_timeout_s=8.0), NAME)
        commands = [
            PauseAgent(
                command_id=f"trim-{i:02d}",
                actor="alice",
                issued_at=time.time_ns(),
                agent="technical",
            )
            for i in range(50)
        ]
        sends = asyncio.gather(*(feed.send(c) for c in commands), return_exceptions=True)
        await until(lambda: client.xlen(stream) == 50, 10, "50 commands in the stream")
        client.xtrim(stream, maxlen=5, approximate=False)
        engine.resume()
        answers = await asyncio.wait_for(sends, 20)
        assert engine.stop() == 0
        await feed.close()

    done = {
        c.command_id: a
        for c, a in zip(commands, answers, strict=True)
        if not isinstance(a, BaseException)
    }
    unconfirmed = [
        c.command_id
        for c, a in zip(commands, answers, strict=True)
        if isinstance(a, TimeoutError) and "NOT confirmed" in str(a)
    ]
    results = journal_results(engine.journal)
    assert len(done) + len(unconfirmed) == 50, answers
    assert 5 <= len(done) <= 6  # the 5 left, and one the frozen engine may have had in hand
    assert set(results) >= set(done) and not set(results) & set(unconfirmed)
    for command_id in unconfirmed:
        assert outcome(client, NAME, command_id) is None  # nothing says it was done
    assert alert_codes(engine.journal)["COMMAND_GAP"] == 1
    assert f"{50 - len(done)} command(s) from alice were trimmed from Redis" in engine.log()
    client.close()


async def test_row9_commands_the_engine_already_read_may_be_trimmed_without_a_gap(
    persistent_redis, tmp_path
):
    """Trimming entries the engine has answered and acknowledged loses nothing: no alarm."""
    from engine.records import PauseAgent

    def pause_command(command_id: str) -> PauseAgent:
        return PauseAgent(
            command_id=command_id, actor="alice", issued_at=time.time_ns(), agent="technical"
        )

    url = persistent_redis.url
    client = sync_client(url)
    stream = Keys(NAME).commands("alice")
    with EngineProcess(tmp_path / "engine", url, name=NAME) as engine:
        engine.start()
        for i in range(3):
            xadd(client, NAME, "alice", signed(pause_command(f"read-{i}")))
        poll(lambda: outcome(client, NAME, "read-2"), 20, "the engine to answer")
        client.xtrim(stream, maxlen=0, approximate=False)
        xadd(client, NAME, "alice", signed(pause_command("after-trim")))
        poll(lambda: outcome(client, NAME, "after-trim"), 20, "the engine to answer")
        assert engine.stop() == 0
    assert alert_codes(engine.journal)["COMMAND_GAP"] == 0
    client.close()
