"""A desk client in its own process, for the fault tests: sends commands, prints what it knew.

    python -m tests.remote.client --url URL --name ENGINE --trader alice [options] CMD...

Each CMD is a JSON object of a command without ``actor`` and ``issued_at`` (the client adds
its trader and its own wall clock, so ``faketime`` moves the stamp), e.g.
``{"type": "close_position", "command_id": "c1", "position_id": "SPY-1"}``. It signs with
DESK_SIGNING_KEY through RedisFeed and prints one flushed line per event, so a test that
kills it knows exactly how far it got::

    SKEW <seconds>                       (--skew: clock offset seen from the heartbeat)
    SENDING <command_id>                 (just before the XADD)
    ACK <command_id> <1|0> <code> <dup|->  (the engine's answer; dup: a repeat's answer)
    NOTCONFIRMED <command_id>            (no answer in --reply-timeout: never "done")
    ERROR <command_id> <message>         (Redis refused or was unreachable)
    OUTCOME <command_id> <1|0|none> <code>   (--outcome ID: look an earlier command up)

``--at NS`` waits until that wall-clock time (ns) before sending. ``--go PATH`` connects,
prints ``READY``, and sends the moment PATH exists: a test starts two clients, waits for
both READYs and creates the file, so they send within a millisecond of each other however
long each took to start.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import msgspec

from desk.feeds.redis import RedisFeed
from engine.feed import FeedError
from engine.records import AnyCommand
from engine.remote.config import RedisConfig


def say(*parts: object) -> None:
    print(*parts, flush=True)


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--trader", required=True)
    parser.add_argument("--reply-timeout", type=float, default=10.0)
    parser.add_argument("--username", default="")
    parser.add_argument("--at", type=int, default=0)
    parser.add_argument("--go", default="")
    parser.add_argument("--skew", action="store_true")
    parser.add_argument("--outcome", action="append", default=[])
    parser.add_argument("commands", nargs="*")
    args = parser.parse_args(argv)
    config = RedisConfig(
        url=args.url,
        trader=args.trader,
        username=args.username,
        reply_timeout_s=args.reply_timeout,
    )
    feed = RedisFeed(config, args.name)
    try:
        if args.skew:
            await feed.attach()
            say("SKEW", f"{feed.clock_skew_s:.3f}")
        for command_id in args.outcome:
            result = await feed.outcome(command_id)
            if result is None:
                say("OUTCOME", command_id, "none", "-")
            else:
                say("OUTCOME", command_id, int(result.accepted), result.code)
        commands = [json.loads(text) for text in args.commands]
        if args.at:
            await asyncio.sleep(max(args.at - time.time_ns(), 0) / 1e9)
        if args.go:
            await feed.client.ping()  # connected now, not on the first XADD
            say("READY", "-")
            go = Path(args.go)
            while not go.exists():
                time.sleep(0.0002)  # a tight wait: the point is to send at the same moment
        for raw in commands:
            raw.setdefault("actor", args.trader)
            raw.setdefault("issued_at", time.time_ns())
            command = msgspec.convert(raw, AnyCommand)  # type: ignore[call-overload]
            say("SENDING", command.command_id)
            try:
                result = await feed.send(command)
            except TimeoutError:
                say("NOTCONFIRMED", command.command_id)
                continue
            except FeedError as exc:
                say("ERROR", command.command_id, str(exc).replace("\n", " "))
                continue
            say(
                "ACK",
                command.command_id,
                int(result.accepted),
                result.code,
                "dup" if result.duplicate else "-",
            )
    finally:
        await feed.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
