"""FAULTS rows 15-17, 33: who may talk to the engine, and which commands it will believe.

Rows 15-16 load the ACL file that ``acl_file()`` writes into a real redis-server and run a
real engine as the ``engine`` user: without a password Redis answers NOAUTH; a viewer, or
a trader reaching past their own stream, gets NOPERM (and Redis logs it). Rows 17 and 33
send entries a trader's desk would never send - replayed, altered, forged, unsigned, or
stamped by a clock 90 s off - and prove that each is refused with its code, audited in the
engine's journal, and orders nothing.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis

from desk.feeds.redis import RedisFeed
from engine.feed import FeedError
from engine.records import PauseAgent
from engine.remote.acl import acl_file
from engine.remote.config import RedisConfig
from engine.remote.protocol import GROUP, Keys, command_entry, load_key
from tests.redis_server import RedisServer
from tests.remote.conftest import BOB_KEY, remote_engine, wait_for
from tests.remote.harness import (
    EngineProcess,
    alert_codes,
    close,
    outcome,
    parse,
    run_client,
    signed,
    sync_client,
    until,
    xadd,
)

pytestmark = pytest.mark.timeout(120)
NAME = "fault"


@pytest.fixture
def acl_redis(tmp_path: Path):
    """A redis-server with the desk's ACL file (plus an admin, to read ACL LOG)."""
    passwords: dict[str, str] = {}
    text = acl_file(NAME, ("alice", "bob"), passwords)
    passwords["admin"] = "admin-password-for-tests"
    path = tmp_path / "users.acl"
    path.write_text(text + f"user admin on >{passwords['admin']} ~* &* +@all\n")
    server = RedisServer(tmp_path / "redis-acl", aclfile=path).start()
    try:
        yield server, passwords
    finally:
        server.kill()


def as_user(server: RedisServer, passwords: dict[str, str], user: str) -> redis.Redis:
    return sync_client(server.url, username=user, password=passwords[user])


def test_row15_a_client_without_credentials_gets_noauth_and_writes_nothing(acl_redis):
    server, passwords = acl_redis
    cli = shutil.which("redis-cli")
    if cli is not None:
        done = subprocess.run(
            [cli, "-p", str(server.port), "XADD", Keys(NAME).commands("alice"), "*", "c", "x"],
            capture_output=True,
            timeout=10,
        )
        assert b"NOAUTH" in done.stdout + done.stderr
    anonymous = sync_client(server.url)
    with pytest.raises(redis.AuthenticationError, match=r"(?i)auth"):
        anonymous.xadd(Keys(NAME).commands("alice"), {"c": b"x"})
    admin = as_user(server, passwords, "admin")
    assert admin.exists(Keys(NAME).commands("alice")) == 0  # nothing reached the stream
    admin.close()


async def test_row15_a_desk_without_credentials_is_told_it_needs_them(acl_redis):
    server, _ = acl_redis
    feed = RedisFeed(RedisConfig(url=server.url, trader="alice"), NAME)
    with pytest.raises(FeedError, match=r"(?i)auth"):
        await asyncio.wait_for(feed.attach(), 10)
    await feed.close()


def test_row16_viewer_and_traders_get_noperm_past_their_rights_and_it_is_logged(acl_redis):
    server, passwords = acl_redis
    keys = Keys(NAME)
    admin = as_user(server, passwords, "admin")
    admin.xgroup_create(keys.commands("alice"), GROUP, id="0", mkstream=True)
    admin.xgroup_create(keys.commands("bob"), GROUP, id="0", mkstream=True)
    viewer = as_user(server, passwords, "viewer")
    alice = as_user(server, passwords, "alice")
    entry = signed(close("v-1", "SPY-1"))

    denied = {
        "viewer XADD": lambda: viewer.xadd(keys.commands("alice"), entry),
        "viewer XREADGROUP": lambda: viewer.xreadgroup(
            GROUP, "viewer", {keys.commands("alice"): ">"}
        ),
        "viewer reads alice's commands": lambda: viewer.xrange(keys.commands("alice")),
        "alice XADD to bob's stream": lambda: alice.xadd(keys.commands("bob"), entry),
        "alice reads bob's commands": lambda: alice.xrange(keys.commands("bob")),
        "alice XREADGROUP": lambda: alice.xreadgroup(GROUP, "alice", {keys.commands("bob"): ">"}),
    }
    for what, attempt in denied.items():
        with pytest.raises(redis.exceptions.NoPermissionError):
            attempt()
            pytest.fail(f"{what} was allowed")
    # What they may do: read the state and events; alice writes her own stream.
    viewer.xrange(keys.events)
    viewer.get(keys.heartbeat)
    alice.xadd(keys.commands("alice"), entry)

    log = admin.acl_log()
    logged = {(e["username"], e["object"]) for e in log}
    assert ("viewer", "xadd") in logged or ("viewer", keys.commands("alice")) in logged, log
    assert any(e["username"] == "alice" for e in log), log
    assert admin.xlen(keys.commands("bob")) == 0
    for client in (admin, viewer, alice):
        client.close()


def test_row16_the_engine_user_runs_the_bridge_and_a_trader_is_answered(acl_redis, tmp_path):
    server, passwords = acl_redis
    env = {"DESK_REDIS_PASSWORD": passwords["engine"]}
    # As the README sets it up: the traders named on the command line, not in desk.toml.
    engine = EngineProcess(
        tmp_path / "engine",
        server.url,
        name=NAME,
        env=env,
        args=("--traders", "alice,bob"),
        username="engine",
        traders=[],
    )
    with engine:
        engine.start()
        out = run_client(
            server.url,
            NAME,
            "alice",
            [{"type": "close_position", "command_id": "acl-1", "position_id": "SPY-1"}],
            options=("--username", "alice"),
            env={"DESK_REDIS_PASSWORD": passwords["alice"]},
        )
        viewer = run_client(
            server.url,
            NAME,
            "viewer",
            [],
            options=("--username", "viewer", "--skew", "--outcome", "acl-1"),
            env={"DESK_REDIS_PASSWORD": passwords["viewer"]},
        )
        assert engine.stop() == 0
    assert parse(out, "ACK")["acl-1"][:2] == ["1", "OK"], out + engine.log()
    assert parse(viewer, "OUTCOME")["acl-1"] == ["1", "OK"], viewer  # a viewer can attach
    assert "NOPERM" not in engine.log() and "NOAUTH" not in engine.log()


async def test_row17_replayed_altered_forged_and_unsigned_entries_order_nothing(
    redis_server, tmp_path
):
    async with remote_engine(redis_server, tmp_path, command_ttl_s=2.0) as remote:
        engine = remote.engine
        client = sync_client(redis_server.url)
        feed = remote.feed("alice")
        position = engine.book.open_positions()[0].position_id
        first = await asyncio.wait_for(feed.send(close("real-1", position)), 10)
        assert first.accepted
        captured = client.xrange(Keys("test").commands("alice"))[-1][1]
        orders = len(engine.orders)

        async def deliver(trader: str, fields: dict[bytes, bytes], code: str) -> None:
            alerts = sum(1 for a in engine.alerts if a.code == code)
            xadd(client, "test", trader, fields)
            await wait_for(lambda: sum(1 for a in engine.alerts if a.code == code) > alerts)

        # A replay of the captured entry: answered as a duplicate, and audited.
        await deliver("alice", captured, "DUPLICATE_COMMAND")
        # …and again after its TTL: still its first answer, not "expired".
        await until(lambda: _aged(captured, 2.5), 5, "the TTL to pass")
        await deliver("alice", captured, "DUPLICATE_COMMAND")
        # One byte changed (another position): the signature no longer matches.
        altered = dict(captured)
        altered[b"c"] = captured[b"c"].replace(position.encode(), _flip(position).encode())
        await deliver("alice", altered, "BAD_SIGNATURE")
        # Bob signs a command as alice with his own key, on his own stream.
        forged = close("forged-1", position, trader="alice")
        bob_key = load_key(BOB_KEY)
        await deliver("bob", command_entry(forged, "bob", bob_key), "FORGED")
        # …or puts it on alice's stream: her key does not verify it.
        await deliver("alice", command_entry(forged, "bob", bob_key), "BAD_SIGNATURE")
        # No signature at all, and one that reuses alice's command id to overwrite her
        # outcome: refused, and her outcome stands.
        await deliver(
            "bob", command_entry(close("unsigned-1", position, "bob"), "bob", None), "UNSIGNED"
        )
        stolen = close("real-1", position, trader="bob")
        await deliver("bob", command_entry(stolen, "bob", None), "UNSIGNED")
        # The same id with new content, properly signed ("reused nonce"): first answer.
        reused = PauseAgent(
            command_id="real-1", actor="alice", issued_at=time.time_ns(), agent="technical"
        )
        await deliver("alice", signed(reused), "DUPLICATE_COMMAND")

        assert len(engine.orders) == orders  # nothing new was ordered
        assert engine.paused == set()
        kept = outcome(client, "test", "real-1")
        assert kept is not None and kept.accepted and kept.order_id == first.order_id
        journaled = alert_codes(engine.journal.path)
        for code, count in (
            ("DUPLICATE_COMMAND", 3),
            ("BAD_SIGNATURE", 2),
            ("FORGED", 1),
            ("UNSIGNED", 2),
        ):
            assert journaled[code] == count, (code, journaled)
        client.close()
        await feed.close()


def _aged(fields: dict[bytes, bytes], seconds: float) -> bool:
    from engine import codec

    command = codec.decode_command(fields[b"c"])
    return time.time_ns() - command.issued_at > seconds * 1e9


def _flip(text: str) -> str:
    """The same string with its last character changed: one byte differs."""
    return text[:-1] + chr(ord(text[-1]) ^ 1)


@pytest.mark.parametrize(
    ("offset_s", "code"),
    [(90.0, "CLOCK_SKEW"), (-90.0, "EXPIRED"), (3.0, "OK"), (-3.0, "OK")],
)
async def test_row33_commands_are_judged_by_the_engines_clock(
    redis_server, tmp_path, offset_s, code
):
    """A desk clock off by ±90 s (issued_at shifted): refused; within 5 s: accepted."""
    async with remote_engine(redis_server, tmp_path) as remote:
        feed = remote.feed("alice")
        command = PauseAgent(
            command_id=f"skew{offset_s:+.0f}",
            actor="alice",
            issued_at=time.time_ns() + int(offset_s * 1e9),
            agent="technical",
        )
        result = await asyncio.wait_for(feed.send(command), 10)
        assert result.code == code, result.message
        assert result.accepted == (code == "OK")
        if code != "OK":
            assert any(a.code == code for a in remote.engine.alerts)  # audited
            assert remote.engine.paused == set()
        await feed.close()


@pytest.mark.skipif(shutil.which("faketime") is None, reason="faketime is not installed")
def test_row33_a_client_under_faketime_is_refused_and_sees_its_skew(redis_server, tmp_path):
    """The real thing: the client process runs under ``faketime`` ±90 s."""
    url = redis_server.url
    with EngineProcess(tmp_path / "engine", url, name=NAME) as engine:
        engine.start()
        runs = {}
        for shift, position in (("+90s", "SPY-1"), ("-90s", "QQQ-2"), ("+2s", "IWM-3")):
            runs[shift] = run_client(
                url,
                NAME,
                "alice",
                [{"type": "close_position", "command_id": f"ft{shift}", "position_id": position}],
                options=("--skew",),
                prefix=("faketime", "-f", shift),
            )
        assert engine.stop() == 0

    expected = {
        "+90s": ("0", "CLOCK_SKEW", 90),
        "-90s": ("0", "EXPIRED", -90),
        "+2s": ("1", "OK", 2),
    }
    for shift, (accepted, code, skew) in expected.items():
        out = runs[shift]
        assert parse(out, "ACK")[f"ft{shift}"][:2] == [accepted, code], out
        seen = float(out.split("SKEW", 1)[1].split()[0])
        # The beat's age is taken off, so the measure is this close (it was up to a beat off).
        assert abs(seen - skew) < 0.5, out  # the desk can show how far off its clock is
    codes = alert_codes(engine.journal)
    assert codes["CLOCK_SKEW"] == 1 and codes["EXPIRED"] == 1
