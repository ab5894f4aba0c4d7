"""Provides the RedisBridge: a headless engine's state, events, heartbeat and commands.

Events are collected from the engine's bus and written with their state-key effects in
one MULTI/EXEC per flush, with stream ids of our own making (``epoch-seq``) so the
cursor can be written in the same transaction. Commands are read through a consumer
group, checked (signature, age, rate), executed once through the engine (which
deduplicates by id through its journal), answered on the results stream, and only then
acknowledged. While Redis is away the engine trades and journals as ever; when Redis is
back the bridge republishes the full state under a new epoch, recreating the consumer
groups if Redis lost them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from engine import codec
from engine.records import AnyEvent, CommandResult, ResyncRequired
from engine.remote.config import RedisConfig
from engine.remote.protocol import GROUP, Keys, Refused, read_command_entry, trader_keys
from engine.remote.queries import answer_query
from engine.remote.state_keys import apply_event, write_snapshot

if TYPE_CHECKING:
    from engine.engine import Engine

log = logging.getLogger(__name__)
OUTCOME_TTL_S = 86_400
_FLUSH_INTERVAL_S = 0.01


def connect(config: RedisConfig, *, username: str | None = None) -> aioredis.Redis:
    """A client for ``config.url``: password from the environment, TLS for rediss://."""
    import os

    options: dict[str, Any] = {"health_check_interval": 5, "socket_connect_timeout": 2}
    password = os.environ.get(config.password_env) if config.password_env else None
    if password:
        options["password"] = password
    user = username if username is not None else config.username
    if user:
        options["username"] = user
    if config.url.startswith("rediss://") and config.ca_file:
        options["ssl_ca_certs"] = config.ca_file
    return aioredis.Redis.from_url(config.url, **options)


class TokenBucket:
    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class RedisBridge:
    def __init__(self, engine: Engine, config: RedisConfig) -> None:
        self.engine = engine
        self.config = config
        self.keys = Keys(engine.config.name)
        self.client = connect(config)
        self.consumer = engine.config.name
        self.traders = config.traders
        self.trader_keys = trader_keys(config.traders, config.keys_dir)
        self.buckets = {t: TokenBucket(config.rate_limit_per_s) for t in config.traders}
        self.pending: list[AnyEvent] = []
        self.collecting = False
        self.up = False
        self.epoch = 0
        self.counters = engine.counters
        self._wake = asyncio.Event()
        engine.bus.listeners.append(self._on_event)
        for trader in config.traders:
            if trader not in self.trader_keys:
                log.warning("no signing key for trader %s: their commands will be refused", trader)

    def _on_event(self, event: AnyEvent) -> None:
        if self.collecting:
            self.pending.append(event)
            self._wake.set()

    # --- lifecycle ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Keep publishing and consuming until ``stop``; survive Redis going away."""
        backoff = 0.2
        while not stop.is_set():
            try:
                await self._connect()
                backoff = 0.2
                tasks = [
                    asyncio.create_task(self._publish_loop(stop)),
                    asyncio.create_task(self._heartbeat_loop(stop)),
                    asyncio.create_task(self._command_loop(stop)),
                    asyncio.create_task(self._query_loop(stop)),
                ]
                done, running = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in running:
                    task.cancel()
                for task in running:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
                for finished in done:
                    failure = None if finished.cancelled() else finished.exception()
                    if failure is not None:
                        raise failure
            except (RedisError, OSError) as exc:
                self._down(exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, 5.0)
        await self._close()

    async def _close(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self.client.delete(self.keys.heartbeat)
        with contextlib.suppress(RedisError, OSError):
            await self.client.aclose()

    def _down(self, exc: BaseException) -> None:
        if self.up:
            self.up = False
            self.counters["redis_disconnects"] += 1
            self.engine.alert(
                "critical",
                "redis",
                "REDIS_DOWN",  # journaled, not published
                f"Redis unreachable ({exc}): trading and journaling go on; "
                "the state is republished when it is back",
            )
        self.collecting = False
        self.pending.clear()

    async def _connect(self) -> None:
        await self.client.ping()
        await self._ensure_groups()
        await self.republish("connected")
        if not self.up:
            self.up = True
            if self.counters.get("redis_disconnects"):
                self.engine.alert("info", "redis", "REDIS_BACK", "Redis is back: state republished")

    async def _ensure_groups(self) -> None:
        for trader in self.traders:
            try:
                await self.client.xgroup_create(
                    self.keys.commands(trader), GROUP, id="0", mkstream=True
                )
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def republish(self, reason: str) -> None:
        """Write the full state under a new epoch, and mark the stream for resync."""
        # Collect from the snapshot's own turn of the loop on: nothing after it is lost.
        self.pending.clear()
        self.collecting = True
        snapshot = self.engine.snapshot()
        last: Any = await self.client.xrevrange(self.keys.events, count=1)
        last_ms = int(bytes(last[0][0]).split(b"-")[0]) if last else 0
        self.epoch = max(time.time_ns() // 1_000_000, last_ms + 1)
        marker = f"{self.epoch}-{snapshot.seq}"
        pipe = self.client.pipeline(transaction=True)
        write_snapshot(pipe, self.keys, snapshot)
        pipe.xadd(
            self.keys.events,
            {
                "e": codec.encode(
                    ResyncRequired(
                        seq=snapshot.seq,
                        ts=snapshot.ts,
                        reason=f"engine republished its state ({reason})",
                    )
                )
            },
            id=marker,
            maxlen=self.config.stream_maxlen,
            approximate=True,
        )
        pipe.set(self.keys.cursor, f"{snapshot.seq} {marker}")
        await pipe.execute()
        self.pending = [e for e in self.pending if e.seq > snapshot.seq]
        self.counters["redis_republished"] += 1

    # --- publishing -----------------------------------------------------------------------

    async def _publish_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._wake.wait()
            self._wake.clear()
            await self.flush()
            await asyncio.sleep(_FLUSH_INTERVAL_S)

    async def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        pipe = self.client.pipeline(transaction=True)
        for event in batch:
            pipe.xadd(
                self.keys.events,
                {"e": codec.encode(event)},
                id=f"{self.epoch}-{event.seq}",
                maxlen=self.config.stream_maxlen,
                approximate=True,
            )
            apply_event(pipe, self.keys, event)
        last = batch[-1]
        pipe.set(self.keys.cursor, f"{last.seq} {self.epoch}-{last.seq}")
        try:
            await pipe.execute()
        except ResponseError as exc:
            log.error("publish refused by Redis (%s): republishing", exc)
            self.counters["redis_publish_errors"] += 1
            await self.republish(str(exc))
            return
        self.counters["events_published"] += len(batch)

    async def _heartbeat_loop(self, stop: asyncio.Event) -> None:
        ttl_ms = int(self.config.heartbeat_ttl_s * 1000)
        while not stop.is_set():
            await self.client.set(self.keys.heartbeat, str(time.time_ns()), px=ttl_ms)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.config.heartbeat_ttl_s / 3)

    # --- commands -------------------------------------------------------------------------

    async def _command_loop(self, stop: asyncio.Event) -> None:
        if not self.traders:
            await stop.wait()
            return
        streams = {self.keys.commands(t): t for t in self.traders}
        # Our own pending entries first (a crash between execute and XACK), then any
        # left by another consumer that died, then new ones.
        replies = await self.client.xreadgroup(GROUP, self.consumer, dict.fromkeys(streams, "0"))
        await self._handle(replies, streams)
        for stream in streams:
            claimed = await self.client.xautoclaim(
                stream, GROUP, self.consumer, 1000, "0-0", count=500
            )
            await self._handle([[stream.encode(), claimed[1]]], streams)
        while not stop.is_set():
            try:
                replies = await self.client.xreadgroup(
                    GROUP, self.consumer, dict.fromkeys(streams, ">"), count=100, block=200
                )
            except ResponseError as exc:
                if "NOGROUP" in str(exc):
                    log.warning(
                        "command groups vanished (Redis restarted without them): recreating"
                    )
                    await self._ensure_groups()
                    await self.republish("Redis lost its streams")
                    continue
                raise
            await self._handle(replies or [], streams)

    async def _handle(self, replies: Any, streams: dict[str, str]) -> None:
        for stream_name, entries in replies or []:
            stream = stream_name.decode() if isinstance(stream_name, bytes) else stream_name
            trader = streams[stream]
            for entry_id, fields in entries:
                if fields is None:
                    continue  # trimmed away before we read it
                result = self._execute(trader, entry_id, fields)
                await self._answer(result)
                await self.client.xack(stream, GROUP, entry_id)

    def _execute(self, trader: str, entry_id: bytes, fields: dict[bytes, bytes]) -> CommandResult:
        engine = self.engine
        cfg = self.config
        try:
            if not self.buckets[trader].take():
                raise Refused(
                    "RATE_LIMITED",
                    f"more than {cfg.rate_limit_per_s:g} commands/s from {trader}",
                    _safe_id(fields),
                )
            command = read_command_entry(
                fields,
                trader,
                self.trader_keys.get(trader),
                now_ns=time.time_ns(),
                ttl_ns=int(cfg.command_ttl_s * 1e9),
                skew_ns=int(cfg.clock_skew_s * 1e9),
            )
        except Refused as refused:
            self.counters[f"commands_refused_{refused.code.lower()}"] += 1
            if refused.code != "RATE_LIMITED":
                engine.alert(
                    "warning",
                    "remote",
                    refused.code,
                    f"command from {trader} refused: {refused.message}",
                )
            return CommandResult(
                command_id=refused.command_id or f"entry-{entry_id.decode()}",
                accepted=False,
                code=refused.code,
                message=refused.message,
                ts=engine.now(),
            )
        result = engine.execute(command)
        if result.duplicate:
            self.counters["commands_duplicate_delivered"] += 1
        return result

    async def _answer(self, result: CommandResult) -> None:
        payload = codec.encode(result)
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(
            self.keys.results, {"r": payload}, maxlen=self.config.stream_maxlen, approximate=True
        )
        pipe.set(self.keys.outcome(result.command_id), payload, ex=OUTCOME_TTL_S)
        await pipe.execute()

    # --- queries (previews for dialogs) ---------------------------------------------------

    async def _query_loop(self, stop: asyncio.Event) -> None:
        if not self.traders:
            await stop.wait()
            return
        cursors: dict[Any, Any] = {self.keys.queries(t): "$" for t in self.traders}
        while not stop.is_set():
            replies: Any = await self.client.xread(cursors, count=50, block=200)
            for stream_name, entries in replies or []:
                stream = stream_name.decode()
                for entry_id, fields in entries:
                    cursors[stream] = entry_id
                    reply_to, payload = answer_query(self.engine, fields)
                    if reply_to:
                        pipe = self.client.pipeline(transaction=True)
                        pipe.rpush(self.keys.reply(reply_to), payload)
                        pipe.expire(self.keys.reply(reply_to), 30)
                        await pipe.execute()


def _safe_id(fields: dict[bytes, bytes]) -> str | None:
    from engine.remote.protocol import _peek_id

    payload = fields.get(b"c")
    return _peek_id(payload) if isinstance(payload, bytes) else None
