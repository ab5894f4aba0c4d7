"""Provides the remote feed: a desk attached to a headless engine through Redis.

Attach reads every state key and the cursor in one transaction and then follows the event
stream from the cursor, so nothing is missed or seen twice; a gap (trimmed stream, an
engine that republished) makes the app attach again. A command is signed, added to this
trader's stream, and answered only by the engine's result: on the results stream, or by
the outcome key if the answer came while we were away. No answer in time is an error the
trader sees ("not confirmed"), never a silent success.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import NoPermissionError, OutOfMemoryError, RedisError

from engine import codec
from engine.feed import FeedError
from engine.records import (
    AnyCommand,
    AnyEvent,
    ClosePreview,
    CommandResult,
    ProposalPreview,
    RollCandidate,
    Snapshot,
)
from engine.remote.bridge import connect
from engine.remote.config import RedisConfig
from engine.remote.protocol import Keys, command_entry, key_from_env_or_file, read_frame
from engine.remote.queries import Query, QueryReply, query_entry
from engine.remote.state_keys import read_pipeline, snapshot_from


class RedisFeed:
    kind = "remote"

    def __init__(self, config: RedisConfig, name: str) -> None:
        self.config = config
        self.keys = Keys(name)
        self.name = name
        self.trader = config.trader or getpass.getuser()
        self.signing_key = key_from_env_or_file(config.signing_key_env, config.signing_key_file)
        self.client = connect(config)
        # Two quick retries on a broken connection: after Redis restarts, every pooled
        # connection is dead and the first command on each would fail although Redis is
        # back. An outage still shows within ~0.1 s, and a repeated XADD is harmless: the
        # engine answers each command id once.
        self.client.set_retry(Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=2))
        self.last_id = "0-0"
        self.clock_skew_s: float | None = None
        self.counters: dict[str, int] = {}
        self.served: set[str] | None = None  # traders the engine takes commands from

    @property
    def source(self) -> str:
        return f"redis {self.name}"

    async def _call(self, what: str, coro: Any) -> Any:
        try:
            return await coro
        except NoPermissionError as exc:
            raise FeedError(f"Redis user may not {what}: {exc}") from None
        except (RedisError, OSError) as exc:
            raise FeedError(f"Redis at {self.config.url}: {exc}") from None

    async def _heartbeat(self) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.get(self.keys.heartbeat)
        pipe.pttl(self.keys.heartbeat)
        beat, left_ms = await self._call("read the heartbeat", pipe.execute())
        if beat is None:
            raise FeedError(f"engine {self.name!r} is not running (no heartbeat in Redis)")
        now_ns = time.time_ns()
        stamp, _, ttl = beat.decode().partition(" ")
        # The beat was stamped (TTL - PTTL) ago by Redis's count, whatever either clock says.
        age_ms = max(int(ttl) - int(left_ms), 0) if ttl and int(left_ms) > 0 else 0
        self.clock_skew_s = (now_ns - int(stamp)) / 1e9 - age_ms / 1000

    async def attach(self) -> Snapshot:
        await self._heartbeat()
        pipe = self.client.pipeline(transaction=True)
        read_pipeline(pipe, self.keys)
        replies = await self._call("read the state", pipe.execute())
        try:
            snapshot, stream_id = snapshot_from(replies)
        except LookupError as exc:
            raise FeedError(str(exc)) from None
        except codec.SchemaVersionError as exc:
            raise FeedError(f"cannot read engine {self.name!r}: {exc}") from None
        except codec.DecodeError as exc:
            raise FeedError(
                f"engine {self.name!r} published state this desk cannot read: {exc}"
            ) from None
        self.last_id = stream_id
        served = await self._call("read the traders", self.client.get(self.keys.traders))
        self.served = None if served is None else set(served.decode().split(",")) - {""}
        return snapshot

    async def events(self) -> AsyncIterator[AnyEvent]:
        quiet_since = time.monotonic()
        while True:
            replies = await self._call(
                "read events",
                self.client.xread({self.keys.events: self.last_id}, count=500, block=500),
            )
            if not replies:
                if time.monotonic() - quiet_since > self.config.heartbeat_ttl_s:
                    await self._heartbeat()
                    quiet_since = time.monotonic()
                continue
            quiet_since = time.monotonic()
            for _, entries in replies:
                for entry_id, fields in entries:
                    self.last_id = entry_id.decode()
                    try:
                        events = read_frame(fields)
                    except codec.DecodeError as exc:
                        self.counters["events_unreadable"] = (
                            self.counters.get("events_unreadable", 0) + 1
                        )
                        raise FeedError(f"unreadable event {self.last_id}: {exc}") from None
                    for event in events:
                        yield event

    async def send(self, command: AnyCommand) -> CommandResult:
        """Send once, wait for the engine's answer; a timeout is an error, never 'done'.

        A FeedError says whether the command was certainly not sent ("NOT sent") or may
        have reached the engine ("NOT confirmed": look it up, or resend the same id).
        """
        if command.actor != self.trader:
            raise FeedError(f"this desk signs as {self.trader!r}, not {command.actor!r}")
        if self.served is not None and self.trader not in self.served:
            # Sent anyway it would sit unread until it timed out "NOT confirmed".
            serves = ", ".join(sorted(self.served)) or "nobody (read-only)"
            raise FeedError(
                f"NOT sent: engine {self.name!r} takes commands from {serves}, not from "
                f"{self.trader!r} (the engine's --traders or redis.traders names them)"
            )
        cid = command.command_id
        # Two round trips to an answer, not four: over a 300 ms SSH-and-Redis link each one
        # is felt. First the outcome (a resend of an answered id) and the results cursor...
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.get(self.keys.outcome(cid))
            pipe.xrevrange(self.keys.results, count=1)
            known, last = await self._call("read results", pipe.execute())
        except FeedError as exc:
            raise FeedError(f"{exc}: command {cid} NOT sent") from None
        if known is not None:
            return codec.decode_result(known)
        cursor = last[0][0].decode() if last else "0-0"
        entry: Any = command_entry(command, self.trader, self.signing_key)
        # ...then the command and the first wait for its answer, which Redis runs in order:
        # the XREAD blocks on this connection until the engine's answer or 0.5 s.
        pipe = self.client.pipeline(transaction=False)
        # Bounded like every stream: a backlog past it is lost and surfaces as
        # "not confirmed" (FAULTS row 9), never as a stream that grows for ever.
        pipe.xadd(
            self.keys.commands(self.trader),
            entry,
            maxlen=self.config.stream_maxlen,
            approximate=True,
        )
        pipe.xread({self.keys.results: cursor}, count=100, block=_first_wait_ms(self.config))
        deadline = time.monotonic() + self.config.reply_timeout_s
        try:
            added, first = await pipe.execute(raise_on_error=False)
        except (RedisError, OSError) as exc:
            raise FeedError(
                f"lost Redis at {self.config.url} while sending ({exc}): command {cid} is "
                "NOT confirmed and may have reached the engine; look it up before sending again"
            ) from None
        if isinstance(added, BaseException):
            raise _refused(added, self.name, cid) from None
        if not isinstance(first, BaseException):
            result, cursor = _answer_in(first, cid, cursor)
            if result is not None:
                return result
        try:
            while (left := deadline - time.monotonic()) > 0:
                replies = await self._call(
                    "read results",
                    self.client.xread(
                        {self.keys.results: cursor},
                        count=100,
                        block=max(int(min(left, 0.5) * 1000), 1),
                    ),
                )
                result, cursor = _answer_in(replies, cid, cursor)
                if result is not None:
                    return result
                known = await self._call("read results", self.client.get(self.keys.outcome(cid)))
                if known is not None:
                    return codec.decode_result(known)
        except FeedError as exc:
            raise FeedError(
                f"{exc}: command {cid} is NOT confirmed (it was sent); look it up before "
                "sending again"
            ) from None
        raise TimeoutError(
            f"no answer from engine {self.name!r} in {self.config.reply_timeout_s:g}s: "
            f"command {cid} is NOT confirmed; look it up before sending again"
        )

    async def outcome(self, command_id: str) -> CommandResult | None:
        """The engine's answer to a command sent earlier (e.g. before a dropped link)."""
        known = await self._call("read results", self.client.get(self.keys.outcome(command_id)))
        return None if known is None else codec.decode_result(known)

    async def _query(self, query: Query) -> QueryReply:
        await self._call(
            "send queries",
            self.client.xadd(
                self.keys.queries(self.trader),
                query_entry(query),
                maxlen=1_000,
                approximate=True,
            ),
        )
        # Short waits, not one BLPOP of reply_timeout_s: redis-py's socket timeout (5 s by
        # default since redis-py 8) would cut a longer one off as a broken connection.
        deadline = time.monotonic() + self.config.reply_timeout_s
        reply = None
        while reply is None and (left := deadline - time.monotonic()) > 0:
            reply = await self._call(
                "read replies",
                self.client.blpop([self.keys.reply(query.request_id)], timeout=min(left, 1.0)),
            )
        if reply is None:
            raise FeedError(
                f"engine {self.name!r} did not answer in {self.config.reply_timeout_s:g}s"
            )
        answer: QueryReply = codec.decode(reply[1], QueryReply, label="query reply")
        if answer.error:
            raise FeedError(answer.error)
        return answer

    async def close_preview(
        self, position_id: str, quantity: int | None = None, limit: float | None = None
    ) -> ClosePreview:
        answer = await self._query(
            Query(
                request_id=uuid.uuid4().hex,
                kind="close_preview",
                position_id=position_id,
                quantity=quantity,
                limit=limit,
            )
        )
        assert answer.preview is not None
        return answer.preview

    async def roll_candidates(self, position_id: str) -> tuple[RollCandidate, ...]:
        answer = await self._query(
            Query(request_id=uuid.uuid4().hex, kind="roll_candidates", position_id=position_id)
        )
        return answer.candidates or ()

    async def proposal_preview(self, proposal_id: str) -> ProposalPreview:
        answer = await self._query(
            Query(request_id=uuid.uuid4().hex, kind="proposal_preview", proposal_id=proposal_id)
        )
        if answer.proposal is None:
            raise FeedError(f"engine {self.name!r} sent no preview for proposal {proposal_id}")
        return answer.proposal

    async def close(self) -> None:
        with contextlib.suppress(RedisError, OSError, asyncio.CancelledError):
            await self.client.aclose()


def _first_wait_ms(config: RedisConfig) -> int:
    return max(int(min(config.reply_timeout_s, 0.5) * 1000), 1)


def _answer_in(replies: Any, cid: str, cursor: str) -> tuple[CommandResult | None, str]:
    """The answer to ``cid`` among XREAD replies of the results stream, and the new cursor."""
    for _, entries in replies or []:
        for entry_id, fields in entries:
            cursor = entry_id.decode()
            with contextlib.suppress(codec.DecodeError, KeyError):
                result = codec.decode_result(fields[b"r"])
                if result.command_id == cid:
                    return result, cursor
    return None, cursor


def _refused(error: BaseException, name: str, cid: str) -> FeedError:
    """Redis refused the XADD itself: the command certainly did not reach the engine."""
    if isinstance(error, OutOfMemoryError):
        return FeedError(
            f"the Redis of engine {name!r} is full (out of memory): "
            f"command {cid} NOT sent; try again when it has room"
        )
    if isinstance(error, NoPermissionError):
        return FeedError(f"Redis user may not send commands ({error}): command {cid} NOT sent")
    return FeedError(f"Redis refused the command ({error}): command {cid} NOT sent")
