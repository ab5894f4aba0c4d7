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

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from engine import codec
from engine.records import AnyEvent, CommandResult, ResyncRequired
from engine.remote.config import RedisConfig
from engine.remote.gaps import CommandIntake, Gap, GroupsMissing
from engine.remote.protocol import (
    FRAME_EVENTS,
    GROUP,
    Keys,
    Refused,
    frame_entry,
    read_command_entry,
    trader_keys,
)
from engine.remote.queries import answer_query
from engine.remote.state_keys import StateWrites, write_snapshot

if TYPE_CHECKING:
    from engine.engine import Engine

log = logging.getLogger(__name__)
OUTCOME_TTL_S = 86_400
_BACKOFF_CAP_S = 2.0
# Refusals raised after the signature and the actor were checked: their command id is proven.
SIGNED_REFUSALS = frozenset({"EXPIRED", "CLOCK_SKEW"})


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
        # Capped at 2 s: a command pressed while Redis was away must reach the engine well
        # inside its time-to-live once Redis is back, and a retry every 2 s costs nothing.
        while not stop.is_set():
            try:
                await self._connect()
                backoff = 0.2
                await self._serve(stop)
            except (RedisError, OSError) as exc:
                self._down(exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, _BACKOFF_CAP_S)
            except Exception as exc:
                # A bug here must not silently end publishing and command reading for the
                # rest of the session: say so, and start the bridge over.
                log.exception("the Redis bridge failed")
                self.counters["redis_bridge_errors"] += 1
                self._down(exc)
                self.engine.alert(
                    "critical", "redis", "REDIS_BRIDGE_ERROR", f"the Redis bridge failed: {exc!r}"
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, _BACKOFF_CAP_S)
        await self._close()

    async def _serve(self, stop: asyncio.Event) -> None:
        """Run the loops of one connection until ``stop`` or until one of them fails.

        Cancelling a loop is not enough to end it: a cancellation can be swallowed (by
        asyncio.wait_for on Python 3.11, or inside a redis-py call), and a loop that lives
        on would keep the heartbeat beating while nobody reads commands. So every loop also
        watches ``session``, and we never wait for one for ever.
        """
        session = asyncio.Event()
        stopping = asyncio.create_task(stop.wait())
        loops = [
            asyncio.create_task(self._publish_loop(session)),
            asyncio.create_task(self._heartbeat_loop(session)),
            asyncio.create_task(self._command_loop(session)),
            asyncio.create_task(self._query_loop(session)),
        ]
        try:
            await asyncio.wait([*loops, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            session.set()
            self._wake.set()  # the publish loop may be waiting for events
            for task in [*loops, stopping]:
                task.cancel()
            await asyncio.wait([*loops, stopping], timeout=5.0)
        # Collect every failure (so none is reported as never retrieved); raise the first.
        failures = [task.exception() for task in loops if task.done() and not task.cancelled()]
        failure = next((f for f in failures if f is not None), None)
        if failure is not None:
            raise failure

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
        # Connections pooled before an outage died with the old server: drop them, or the
        # first loop to draw one fails ("connection closed by server") and the restart
        # reads as a second outage, with a second republish and every desk resyncing.
        await self.client.connection_pool.disconnect()
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
                # ENTRIESREAD 0 makes Redis count exactly what the group is handed, so
                # commands trimmed unread can be counted (engine.remote.gaps).
                await self.client.xgroup_create(
                    self.keys.commands(trader), GROUP, id="0", mkstream=True, entries_read=0
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
        resync = ResyncRequired(
            seq=snapshot.seq, ts=snapshot.ts, reason=f"engine republished its state ({reason})"
        )
        pipe.xadd(
            self.keys.events,
            frame_entry([resync]),
            id=marker,
            maxlen=self.config.stream_maxlen,
            approximate=True,
        )
        pipe.set(self.keys.cursor, f"{snapshot.seq} {marker}")
        pipe.set(self.keys.traders, ",".join(self.traders))
        await pipe.execute()
        self.pending = [e for e in self.pending if e.seq > snapshot.seq]
        self.counters["redis_republished"] += 1

    # --- publishing -----------------------------------------------------------------------

    async def _publish_loop(self, session: asyncio.Event) -> None:
        while not session.is_set():
            await self._wake.wait()
            self._wake.clear()
            if session.is_set():
                return
            # No pause to gather a batch: events that arrive while a flush is on the wire
            # make the next one, so batches grow with load and an idle engine's event
            # reaches the desks in one round trip.
            await self.flush()

    async def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        pipe = self.client.pipeline(transaction=True)
        writes = StateWrites()
        for start in range(0, len(batch), FRAME_EVENTS):
            frame = batch[start : start + FRAME_EVENTS]
            pipe.xadd(
                self.keys.events,
                frame_entry(frame),
                id=f"{self.epoch}-{frame[-1].seq}",
                maxlen=self.config.stream_maxlen,
                approximate=True,
            )
            for event in frame:
                writes.add(event)
        writes.queue(pipe, self.keys)
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

    async def _heartbeat_loop(self, session: asyncio.Event) -> None:
        ttl_ms = int(self.config.heartbeat_ttl_s * 1000)
        while not session.is_set():
            # The stamp and the TTL it was set with: a desk takes the beat's age (TTL less
            # what remains) off its clock comparison, so a true clock reads as true.
            await self.client.set(self.keys.heartbeat, f"{time.time_ns()} {ttl_ms}", px=ttl_ms)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(session.wait(), timeout=self.config.heartbeat_ttl_s / 3)

    # --- commands -------------------------------------------------------------------------

    async def _command_loop(self, session: asyncio.Event) -> None:
        if not self.traders:
            await session.wait()
            return
        streams = {self.keys.commands(t): t for t in self.traders}
        # Our own pending entries first (a crash between execute and XACK), then any
        # left by another consumer that died, then new ones.
        replies = await self.client.xreadgroup(GROUP, self.consumer, dict.fromkeys(streams, "0"))
        await self._handle(replies, streams)
        for stream in streams:
            await self._claim_abandoned(stream, streams)
        intake = CommandIntake(GROUP, self.consumer, list(streams), self.keys.trimmed_unread)
        while not session.is_set():
            try:
                replies, gaps = await intake.take(self.client)
            except GroupsMissing:
                log.warning("command groups vanished (Redis restarted without them): recreating")
                await self._ensure_groups()
                await self.republish("Redis lost its streams")
                continue
            for gap in gaps:
                self._report_gap(streams[gap.stream], gap)
            if replies:
                await self._handle(replies, streams)
            else:
                await intake.wait(self.client, block_ms=200)

    async def _claim_abandoned(self, stream: str, streams: dict[str, str]) -> None:
        """Take over what a dead consumer left pending, all of it: XAUTOCLAIM hands back a
        batch and a cursor, and stopping after one batch would leave the rest until the
        next reconnect."""
        cursor: Any = "0-0"
        while True:
            reply: Any = await self.client.xautoclaim(
                stream, GROUP, self.consumer, 1000, cursor, count=500
            )
            cursor, claimed = reply[0], reply[1]
            if claimed:
                await self._handle([[stream.encode(), claimed]], streams)
            if cursor in (b"0-0", "0-0"):
                return

    def _report_gap(self, trader: str, gap: Gap) -> None:
        self.counters["commands_trimmed_unread"] += gap.lost
        message = (
            f"{gap.lost} command(s) from {trader} were trimmed from Redis before the engine "
            f"read them (after entry {gap.last_delivered}): they were not executed"
        )
        log.warning("%s", message)
        self.engine.alert("warning", "remote", "COMMAND_GAP", message)

    async def _handle(self, replies: Any, streams: dict[str, str]) -> None:
        """Act on a batch of entries, then answer and acknowledge them in one transaction.

        Each command's result is journaled as it executes, so the answers and the XACKs
        that follow in one round trip keep the rule: acknowledged only once answered. A
        flood thus costs one Redis round trip per batch, not two per command, and the
        heartbeat and the ticks keep their pace.
        """
        for stream_name, entries in replies or []:
            stream = stream_name.decode() if isinstance(stream_name, bytes) else stream_name
            trader = streams[stream]
            answers: list[tuple[CommandResult, bool]] = []
            done: list[bytes] = []
            for entry_id, fields in entries:
                done.append(entry_id)
                if fields is None:
                    # Delivered, then trimmed before we acted: nothing to run, but it must
                    # leave the PEL, or it comes back on every start.
                    self.counters["commands_trimmed_pending"] += 1
                    self.engine.alert(
                        "warning",
                        "remote",
                        "COMMAND_LOST",
                        f"command entry {entry_id.decode()} from {trader} was trimmed from "
                        "Redis before the engine read it: it was not executed",
                    )
                    continue
                try:
                    answers.append(self._execute(trader, entry_id, fields))
                except Exception as exc:  # one bad entry must never stop the bridge
                    log.exception("command entry %s from %s", entry_id.decode(), trader)
                    self.counters["command_entry_errors"] += 1
                    answers.append(
                        (
                            CommandResult(
                                command_id=f"entry-{entry_id.decode()}",
                                accepted=False,
                                code="INTERNAL_ERROR",
                                message=f"the engine could not read this command: {exc}",
                                ts=self.engine.now(),
                            ),
                            False,
                        )
                    )
            if done:
                await self._answer(stream, answers, done)

    def _execute(
        self, trader: str, entry_id: bytes, fields: dict[bytes, bytes]
    ) -> tuple[CommandResult, bool]:
        """The answer to one entry, and whether its command id is proven (signed)."""
        engine = self.engine
        cfg = self.config
        # Every entry takes a token, but what it is decides the answer: a refused entry keeps
        # its own code, and a command that ran keeps its first answer even in a flood.
        within_rate = self.buckets[trader].take()
        try:
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
            signed = refused.code in SIGNED_REFUSALS
            prior = engine.results.get(refused.command_id or "") if signed else None
            if prior is not None:
                # A signed command the engine already answered, delivered again too late
                # (a replay, a restored Redis): it gets its first answer, not "expired".
                return self._duplicate(trader, entry_id, prior), True
            if within_rate:
                # Past the rate only counted: a flood of junk must not flood the journal.
                engine.alert(
                    "warning",
                    "remote",
                    refused.code,
                    f"command from {trader} refused: {refused.message}",
                )
            result = CommandResult(
                command_id=refused.command_id or f"entry-{entry_id.decode()}",
                accepted=False,
                code=refused.code,
                message=refused.message,
                ts=engine.now(),
            )
            return result, signed
        # A command that ran, delivered again in a flood (a backlog redelivered after a
        # crash), gets its first answer, never "refused".
        if not within_rate and command.command_id not in engine.results:
            self.counters["commands_refused_rate_limited"] += 1
            limited = CommandResult(
                command_id=command.command_id,
                accepted=False,
                code="RATE_LIMITED",
                message=f"more than {cfg.rate_limit_per_s:g} commands/s from {trader}",
                ts=engine.now(),
            )
            # Not kept as the outcome: it never ran, and a resend of the same id must run
            # rather than find this answer waiting under its id.
            return limited, False
        result = engine.execute(command)
        if result.duplicate:
            self._duplicate(trader, entry_id, result)
        return result, True

    def _duplicate(self, trader: str, entry_id: bytes, prior: CommandResult) -> CommandResult:
        """Count and audit a command delivered again; answer with its first result."""
        self.counters["commands_duplicate_delivered"] += 1
        self.engine.alert(
            "info",
            "remote",
            "DUPLICATE_COMMAND",
            f"command {prior.command_id} from {trader} delivered again (entry "
            f"{entry_id.decode()}): answered with its first result, nothing executed",
        )
        return msgspec.structs.replace(prior, duplicate=True)

    async def _answer(
        self, stream: str, answers: list[tuple[CommandResult, bool]], done: list[bytes]
    ) -> None:
        """Publish the answers, then acknowledge the entries. An answer is kept by command
        id only if that id is proven (signed), so an unsigned or forged entry cannot
        overwrite another command's outcome."""
        pipe = self.client.pipeline(transaction=True)
        for result, store_outcome in answers:
            payload = codec.encode(result)
            pipe.xadd(
                self.keys.results,
                {"r": payload},
                maxlen=self.config.stream_maxlen,
                approximate=True,
            )
            if store_outcome:
                pipe.set(self.keys.outcome(result.command_id), payload, ex=OUTCOME_TTL_S)
        pipe.xack(stream, GROUP, *done)
        await pipe.execute()

    # --- queries (previews for dialogs) ---------------------------------------------------

    async def _query_loop(self, session: asyncio.Event) -> None:
        if not self.traders:
            await session.wait()
            return
        # "$" would miss a query sent between our connect and this loop's first read (a
        # dialog opened as the engine came up waits in vain). Start a window back on
        # Redis's own clock instead: a desk still waiting for such a query gets its answer,
        # and one that gave up finds only an expired reply key.
        seconds, micros = await self.client.time()
        window_ms = int(self.config.reply_timeout_s * 1000)
        since_ms = int(seconds) * 1000 + int(micros) // 1000 - window_ms
        cursors: dict[Any, Any] = {self.keys.queries(t): f"{since_ms}-0" for t in self.traders}
        while not session.is_set():
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
