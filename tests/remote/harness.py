"""Provides the fault tests' moving parts: engine and client subprocesses, and ways to look.

An engine runs as ``python -m desk.cli engine --redis URL --name N --journal J --speed 600``
with a small TOML file for what the flags do not cover (traders, TTLs, rate limit), so a
test can SIGKILL it, SIGSTOP it (a frozen host) or stop it with SIGTERM. The client is
``python -m tests.remote.client`` (see there). After the fact, tests read the engine's
journal and the paper broker's ledger straight from SQLite, the way a post-mortem would.
Every wait polls with a deadline; every process is killed on the way out, even on failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import redis
import tomli_w

from engine import codec
from engine.journal import KINDS
from engine.records import Alert, AnyCommand, ClosePosition, CommandResult, Order
from engine.remote.protocol import GROUP, Keys, command_entry, load_key
from tests.remote.conftest import ALICE_KEY, BOB_KEY

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
TRADER_KEYS = {"alice": ALICE_KEY, "bob": BOB_KEY}


def poll(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.02) -> Any:
    """Wait until ``condition()`` is truthy and return it; fail saying ``what`` if it is not."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def sync_client(url: str, **options: Any) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, **options)


def pending(client: redis.Redis, name: str, trader: str) -> int:
    """Entries delivered to the engine's consumer group but not acknowledged."""
    try:
        info: Any = client.xpending(Keys(name).commands(trader), GROUP)
    except redis.ResponseError:  # no stream or no group: nothing pending
        return 0
    return int(info["pending"])


def trader_env(trader: str) -> dict[str, str]:
    return {
        "DESK_KEY_ALICE": ALICE_KEY,
        "DESK_KEY_BOB": BOB_KEY,
        "DESK_SIGNING_KEY": TRADER_KEYS.get(trader, ALICE_KEY),
    }


class EngineProcess:
    """A headless engine in its own process, publishing to ``url`` as engine ``name``."""

    def __init__(
        self,
        directory: Path,
        url: str,
        *,
        name: str = "fault",
        crash_at: str = "",
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        **redis_settings: Any,
    ) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.name = name
        self.keys = Keys(name)
        self.journal = directory / f"{name}.journal.db"
        self.ledger = directory / f"{name}.paper-ledger.db"
        self.crash_at = crash_at
        self.extra_env = env or {}
        self.extra_args = args
        settings = {"traders": ["alice", "bob"], "heartbeat_ttl_s": 1.0, **redis_settings}
        self.config = directory / "desk.toml"
        self.config.write_text(
            tomli_w.dumps(
                {
                    "name": name,
                    "market": {"sim": {"seed": 7, "start_date": "2025-03-03"}},
                    "redis": settings,
                }
            )
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.directory / f"engine-{self.starts}.log"

    def log(self) -> str:
        return "\n".join(
            (self.directory / f"engine-{n}.log").read_text(errors="replace")[-3000:]
            for n in range(1, self.starts + 1)
        )

    def start(self, *, crash_at: str | None = None, ready: bool = True) -> EngineProcess:
        self.starts += 1
        env = {**os.environ, **trader_env("alice"), **self.extra_env, "PYTHONPATH": str(ROOT)}
        env.pop("DESK_CRASH_AT", None)
        point = self.crash_at if crash_at is None else crash_at
        if point:
            env["DESK_CRASH_AT"] = point
        args = [
            PYTHON, "-m", "desk.cli", "engine", "--config", str(self.config),
            "--redis", self.url, "--name", self.name, "--journal", str(self.journal),
            "--speed", "600", "--status-every", "60", *self.extra_args,
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        if ready:
            self.wait_ready()
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Ready once its heartbeat is in Redis (it has published and is reading commands)."""
        client = sync_client(self.url, **self.credentials())

        def beating() -> bool:
            if not self.alive():
                raise AssertionError(f"engine exited early:\n{self.log()}")
            with contextlib.suppress(redis.RedisError):
                return bool(client.exists(self.keys.heartbeat))
            return False

        try:
            poll(beating, timeout, "the engine's heartbeat")
        finally:
            client.close()

    def credentials(self) -> dict[str, str]:
        password = self.extra_env.get("DESK_REDIS_PASSWORD")
        return {"username": "engine", "password": password} if password else {}

    def wait_exit(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"engine still running after {timeout:g}s:\n{self.log()}"
            ) from None

    def pause(self) -> None:
        """SIGSTOP: a frozen engine (its heartbeat lapses, entries wait in Redis)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait: the engine shuts down cleanly and closes its journal."""
        assert self.process is not None
        if self.alive():
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
        return self.wait_exit(timeout)

    def __enter__(self) -> EngineProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def run_client(
    url: str,
    name: str,
    trader: str,
    commands: list[dict[str, Any]],
    *,
    options: tuple[str, ...] = (),
    prefix: tuple[str, ...] = (),
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
) -> str:
    """Run the client script to the end and return what it printed."""
    process = start_client(url, name, trader, commands, options=options, prefix=prefix, env=env)
    try:
        out, _ = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    return out.decode()


def start_client(
    url: str,
    name: str,
    trader: str,
    commands: list[dict[str, Any]],
    *,
    options: tuple[str, ...] = (),
    prefix: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    import json

    args = [
        *prefix, PYTHON, "-m", "tests.remote.client", "--url", url, "--name", name,
        "--trader", trader, *options, *(json.dumps(c) for c in commands),
    ]  # fmt: skip
    full_env = {**os.environ, **trader_env(trader), "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.Popen(
        args, cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def parse(output: str, tag: str) -> dict[str, list[str]]:
    """``TAG id rest…`` lines of the client's output, by command id."""
    found: dict[str, list[str]] = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == tag:
            found[parts[1]] = parts[2:]
    return found


# --- post-mortem: the engine's journal and the paper broker's ledger ------------------------


@contextlib.contextmanager
def _db(path: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(path, timeout=10)
    try:
        yield db
    finally:
        db.close()


def journal_records(path: Path, kind: str) -> list[tuple[str, Any]]:
    with _db(path) as db:
        rows = db.execute(
            "SELECT key, body FROM records WHERE kind = ? ORDER BY seq", (kind,)
        ).fetchall()
    return [(key, codec.decode(body, KINDS[kind])) for key, body in rows]


def results_by_command(path: Path) -> Counter[str]:
    """How many result records the journal holds for each command id."""
    return Counter(key for key, _ in journal_records(path, "result"))


def journal_results(path: Path) -> dict[str, CommandResult]:
    return dict(journal_records(path, "result"))


def orders_by_command(path: Path) -> dict[str, set[int]]:
    """Order ids the engine journaled for each command id (a duplicate shows as two)."""
    found: dict[str, set[int]] = {}
    for _, order in journal_records(path, "order"):
        assert isinstance(order, Order)
        found.setdefault(order.command_id, set()).add(order.order_id)
    return found


def alert_codes(path: Path) -> Counter[str]:
    codes: Counter[str] = Counter()
    for _, alert in journal_records(path, "alert"):
        assert isinstance(alert, Alert)
        codes[alert.code] += 1
    return codes


def ledger_refs(path: Path) -> Counter[str]:
    """Orders the paper broker received, by order ref (= command id)."""
    if not path.exists():
        return Counter()
    with _db(path) as db:
        return Counter(ref for (ref,) in db.execute("SELECT order_ref FROM orders"))


# --- commands as a client would send them -----------------------------------------------------


def close(command_id: str, position_id: str, trader: str = "alice", **fields: Any) -> ClosePosition:
    fields.setdefault("issued_at", time.time_ns())
    return ClosePosition(command_id=command_id, actor=trader, position_id=position_id, **fields)


def signed(command: AnyCommand, trader: str | None = None) -> dict[str, bytes]:
    """The stream entry a desk would XADD: the command and its HMAC with the trader's key."""
    trader = trader or command.actor
    return command_entry(command, trader, load_key(TRADER_KEYS[trader]))


def xadd(client: redis.Redis, name: str, trader: str, entry: dict[str, bytes]) -> bytes:
    return client.xadd(Keys(name).commands(trader), entry)  # type: ignore[arg-type,return-value]


def outcome(client: redis.Redis, name: str, command_id: str) -> CommandResult | None:
    raw: Any = client.get(Keys(name).outcome(command_id))
    return None if raw is None else codec.decode_result(raw)


def results_on_stream(client: redis.Redis, name: str) -> list[CommandResult]:
    entries: Any = client.xrange(Keys(name).results)
    return [codec.decode_result(fields[b"r"]) for _, fields in entries]


# --- an in-process desk that follows the engine the way the app does --------------------------


class Follower:
    """Keeps a DeskState in step with a RedisFeed, attaching again after any error or gap.

    It records when it lost the channel and the (time, seq) of everything it applied, so a
    test can tell how soon a fault was shown and how soon the desk was whole again.
    """

    def __init__(self, feed: Any, retry_s: float = 0.05) -> None:
        from desk.state import DeskState

        self.feed = feed
        self.state = DeskState()
        self.retry_s = retry_s
        self.errors: list[tuple[float, str]] = []
        self.gaps = 0
        self.seen: list[tuple[float, int]] = []
        self.task: asyncio.Task[None] | None = None

    def start(self) -> Follower:
        self.task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        from desk.state import DeskState, SequenceGap
        from engine.feed import FeedError

        while True:
            try:
                snapshot = await self.feed.attach()
                state = DeskState()
                state.load(snapshot)
                self.state = state
                self.seen.append((time.monotonic(), state.seq))
                async for event in self.feed.events():
                    if state.apply(event):
                        self.seen.append((time.monotonic(), state.seq))
            except SequenceGap as gap:
                self.gaps += 1
                self.errors.append((time.monotonic(), f"gap: {gap}"))
            except FeedError as exc:
                self.errors.append((time.monotonic(), str(exc)))
                # The app's reconnect back-off; not a wait for a condition.
                await asyncio.sleep(self.retry_s)

    def first_error_after(self, moment: float) -> float | None:
        return next((t for t, _ in self.errors if t >= moment), None)

    def first_seen(self, moment: float, seq: int) -> float | None:
        """When, at or after ``moment``, the desk first held everything up to ``seq``."""
        return next((t for t, s in self.seen if t >= moment and s >= seq), None)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self.task, 5)
        await self.feed.close()


async def until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Async poll with a deadline: the value of ``condition()`` once it is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(0.01)


async def keep_ticking(engine: Any, interval: float = 0.02) -> None:
    """Drive the in-process engine like its run loop would, until cancelled."""
    from tests.engine.conftest import advance

    while True:
        advance(engine)
        await asyncio.sleep(interval)


def same_book(state: Any, engine: Any) -> bool:
    """The desk's positions and portfolio are byte-for-byte the engine's own."""
    ours = {p.position_id: codec.encode(p) for p in engine.position_views()}
    theirs = {k: codec.encode(v) for k, v in state.positions.items()}
    assert engine.valuation is not None
    return (
        state.seq == engine.bus.seq
        and ours == theirs
        and state.portfolio is not None
        and codec.encode(state.portfolio) == codec.encode(engine.valuation.summary)
    )


def book_positions(engine: Any) -> dict[str, int]:
    """Net quantity per instrument in the engine's book, as the broker's ledger counts it."""
    totals: Counter[str] = Counter()
    for position in engine.book.open_positions():
        for key, leg in position.legs.items():
            totals[key] += leg.quantity
    return {k: v for k, v in totals.items() if v}
