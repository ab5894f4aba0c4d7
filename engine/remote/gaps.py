"""Provides CommandIntake: reads the command streams, counting entries trimmed unread.

A trader's command stream is capped (``MAXLEN`` on every XADD), so a flood while the engine
is slow or away can trim entries nobody has read. Their desks time out with "NOT
confirmed", which is right, but the engine must say so too. Redis (7.0+) counts the
entries ever added to a stream (``entries-added``) and those handed to a consumer group
(``entries-read``); whatever is neither handed out nor still in the stream was trimmed
unread. The counts are read in the same MULTI as the XREADGROUP that takes the new
entries, so the entries still waiting are exactly those it returns whenever it returns
fewer than it asked for. (Trims do not move ``max-deleted-entry-id`` on Redis 7.0, and
the group's ``lag`` is only an estimate once anything was trimmed, so neither is used.)
The count already reported is kept in Redis beside the stream, so an engine restart does
not raise the same alarm again.

The blocking wait for news is a plain XREAD after the last delivered id, which consumes
nothing: every entry is taken by the checked MULTI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import ResponseError


class GroupsMissing(Exception):
    """Redis lost a command stream or its consumer group (it restarted without them)."""


@dataclass(frozen=True)
class Gap:
    stream: str
    lost: int  # newly found lost since the last report
    last_delivered: str


@dataclass
class CommandIntake:
    group: str
    consumer: str
    streams: list[str]
    reported_key: Callable[[str], str]
    batch: int = 100
    delivered: dict[str, str] = field(default_factory=dict)
    reported: dict[str, int] = field(default_factory=dict)

    async def take(self, client: Any) -> tuple[Any, list[Gap]]:
        """New entries for this consumer (up to ``batch`` per stream) and any new gaps."""
        if not self.reported:
            counts = await client.mget([self.reported_key(s) for s in self.streams])
            self.reported = {s: int(c or 0) for s, c in zip(self.streams, counts, strict=True)}
        pipe = client.pipeline(transaction=True)
        for stream in self.streams:
            pipe.xinfo_stream(stream)
            pipe.xinfo_groups(stream)
        pipe.xreadgroup(
            self.group, self.consumer, dict.fromkeys(self.streams, ">"), count=self.batch
        )
        replies = await pipe.execute(raise_on_error=False)
        errors = [r for r in replies if isinstance(r, ResponseError)]
        if errors:
            if any("NOGROUP" in str(e) or "no such key" in str(e) for e in errors):
                raise GroupsMissing(str(errors[0]))
            raise errors[0]
        taken = {_text(name): entries for name, entries in replies[-1] or []}
        gaps = []
        for i, stream in enumerate(self.streams):
            gap = self._gap(stream, replies[2 * i], replies[2 * i + 1], taken.get(stream, []))
            if gap is not None:
                gaps.append(gap)
        if gaps:
            await client.mset({self.reported_key(g.stream): self.reported[g.stream] for g in gaps})
        return replies[-1] or [], gaps

    async def wait(self, client: Any, block_ms: int) -> None:
        """Return when any stream has an entry after its last delivered one, or after
        ``block_ms``."""
        cursors = {s: self.delivered.get(s, "0-0") for s in self.streams}
        await client.xread(cursors, count=1, block=block_ms)

    def _gap(self, stream: str, info: Any, groups: Any, taken: list[Any]) -> Gap | None:
        ours = next((g for g in groups if _text(g.get("name")) == self.group), None)
        if ours is None:
            raise GroupsMissing(f"no consumer group {self.group} on {stream}")
        last_delivered = _text(ours.get("last-delivered-id", b"0-0"))
        self.delivered[stream] = _text(taken[-1][0]) if taken else last_delivered
        added, handed_out = info.get("entries-added"), ours.get("entries-read")
        if added is None or handed_out is None or len(taken) >= self.batch:
            return None  # Redis older than 7.0, or more is waiting than we can count now
        lost = int(added) - int(handed_out) - len(taken)
        if lost <= self.reported.get(stream, 0):
            return None
        gap = Gap(stream, lost - self.reported.get(stream, 0), last_delivered)
        self.reported[stream] = lost
        return gap


def stream_id(value: Any) -> tuple[int, int]:
    """``b"1700000000000-3"`` as (ms, seq), which orders as Redis orders ids."""
    ms, _, seq = _text(value).partition("-")
    return int(ms), int(seq or 0)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
