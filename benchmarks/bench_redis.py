"""Provides a one-shot report on the Redis path: publish rate, latency, attach time.

Run: .venv/bin/python benchmarks/bench_redis.py  (about a minute; always exits 0).

It starts its own redis-server on a free port (tests/redis_server.py) and measures, once
with redis-py's hiredis parser and once with its pure-Python parser:

* publish rate: the engine's real path, ``RedisBridge.flush`` (each event XADDed with its
  state-key writes and the cursor in one MULTI/EXEC) over events a sim engine emitted, in
  batches of 1,000; and, for reference in the same run, raw pipelined XADDs of the same
  encoded events, and of 16-byte entries (goal: >= 100,000 events/s);
* latency from an event published on the engine's bus, through the bridge's publish
  loop as `desk engine` runs it, to a desk's decoded event (a RedisFeed in another
  process, reading with XREAD), p50 and p99 on loopback (goal: p99 < 2 ms);
* attach time: ``RedisFeed.attach`` of a 1,000-position snapshot (median of 20).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
from redis._parsers import _AsyncHiredisParser, _AsyncRESP2Parser  # noqa: E402

from engine import codec  # noqa: E402
from engine.records import AnyEvent, QuotesUpdated  # noqa: E402

PARSERS = {"hiredis": _AsyncHiredisParser, "python": _AsyncRESP2Parser}
EVENTS = 100_000
BATCH = 1_000
LATENCY_SAMPLES = 2_000
POSITIONS = 1_000
PUBLISH_GOAL = 100_000.0
P99_GOAL_MS = 2.0


def use_parser(client: Any, parser: str) -> None:
    """Make every connection of ``client`` (a redis.asyncio.Redis) use this RESP parser."""
    client.connection_pool.connection_kwargs["parser_class"] = PARSERS[parser]


def build(directory: Path, url: str, name: str) -> Any:
    from tests.engine.conftest import engine_config, open_engine

    config = engine_config(directory, name=name, redis={"url": url, "traders": []})
    return open_engine(config)


def sim_events(engine: Any, ticks: int = 400) -> list[AnyEvent]:
    """What a sim engine with the demo book publishes, tick after tick."""
    from tests.engine.conftest import advance

    events: list[AnyEvent] = []
    engine.bus.listeners.append(events.append)
    advance(engine, ticks)
    engine.bus.listeners.remove(events.append)
    return events


def renumbered(events: list[AnyEvent], count: int, first_seq: int) -> list[AnyEvent]:
    return [
        msgspec.structs.replace(events[i % len(events)], seq=first_seq + i) for i in range(count)
    ]


async def publish_rate(url: str, parser: str, directory: Path) -> dict[str, float]:
    import redis.asyncio as aioredis

    from engine.remote.bridge import RedisBridge

    engine = build(directory / f"publish-{parser}", url, f"bench-{parser}")
    bridge = RedisBridge(engine, engine.config.redis)
    use_parser(bridge.client, parser)
    await bridge.republish("benchmark")
    events = renumbered(sim_events(engine), EVENTS, engine.bus.seq + 1)
    bridge_rate = await _flush_rate(bridge, events)
    mix_bytes = sum(len(codec.encode(e)) for e in events[:2_000]) / 2_000
    # Small events of the same engine (one symbol's quote each, as a market data tick
    # is): what the rate is when the payload is not the whole book.
    one_quote = [
        msgspec.structs.replace(e, quotes=e.quotes[i : i + 1])
        for e in events[:2_000]
        if isinstance(e, QuotesUpdated)
        for i in range(len(e.quotes))
    ]
    small_events = renumbered(one_quote, EVENTS, events[-1].seq + 1)
    small_bytes = sum(len(codec.encode(e)) for e in small_events[:2_000]) / 2_000
    small_bridge_rate = await _flush_rate(bridge, small_events)

    raw = aioredis.Redis.from_url(url)
    use_parser(raw, parser)
    payloads = [codec.encode(e) for e in events]
    began = time.perf_counter()
    for start in range(0, EVENTS, BATCH):
        pipe = raw.pipeline(transaction=False)
        for payload in payloads[start : start + BATCH]:
            pipe.xadd(f"bench-raw-{parser}", {"e": payload})
        await pipe.execute()
    raw_rate = EVENTS / (time.perf_counter() - began)
    began = time.perf_counter()
    for _batch in range(0, EVENTS, BATCH):
        pipe = raw.pipeline(transaction=False)
        for _ in range(BATCH):
            pipe.xadd(f"bench-small-{parser}", {"e": b"x" * 16})
        await pipe.execute()
    small_rate = EVENTS / (time.perf_counter() - began)
    await raw.aclose()
    await bridge.client.aclose()
    engine.shutdown()
    return {
        "bridge": bridge_rate,
        "raw": raw_rate,
        "small": small_rate,
        "mix_bytes": mix_bytes,
        "small_bridge": small_bridge_rate,
        "small_bytes": small_bytes,
    }


async def _flush_rate(bridge: Any, events: list[AnyEvent]) -> float:
    """Events per second through RedisBridge.flush, in batches of BATCH."""
    began = time.perf_counter()
    for start in range(0, len(events), BATCH):
        bridge.pending = events[start : start + BATCH]
        await bridge.flush()
    return len(events) / (time.perf_counter() - began)


async def latency(url: str, parser: str, directory: Path) -> dict[str, float]:
    from engine.remote.bridge import RedisBridge

    engine = build(directory / f"latency-{parser}", url, f"lat-{parser}")
    bridge = RedisBridge(engine, engine.config.redis)
    use_parser(bridge.client, parser)
    quote = next(e for e in sim_events(engine, 4) if isinstance(e, QuotesUpdated))
    stop = asyncio.Event()
    # The bridge as `desk engine` runs it: its publish, heartbeat and command loops.
    running = asyncio.create_task(bridge.run(stop))
    while not bridge.up:
        await asyncio.sleep(0.01)
    reader = subprocess.Popen(
        [sys.executable, __file__, "--reader", url, engine.config.name, parser],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None
        assert reader.stdout.readline().strip() == "READY"
        for n in range(LATENCY_SAMPLES + 1):
            # Published on the engine's bus, as a tick does; the wall clock at publish
            # rides in the event and the reader subtracts it: bus → publish loop → Redis
            # → XREAD → decoded.
            engine.bus.publish(msgspec.structs.replace(quote, ts=time.time_ns()))
            await asyncio.sleep(0.001 if n < LATENCY_SAMPLES else 0)
        # In a thread: the bridge's loops must keep running while we wait.
        out, _ = await asyncio.to_thread(reader.communicate, timeout=60)
    finally:
        if reader.poll() is None:
            reader.kill()
        stop.set()
        await asyncio.wait_for(running, timeout=10)
    engine.shutdown()
    return dict(json.loads(out))


async def read_latencies(url: str, name: str, parser: str) -> None:
    """The reader process: follow the stream, time each event from flush to decoded."""
    from desk.feeds.redis import RedisFeed
    from engine.remote.config import RedisConfig

    feed = RedisFeed(RedisConfig(url=url, trader="bench"), name)
    use_parser(feed.client, parser)
    await feed.attach()
    print("READY", flush=True)
    samples: list[float] = []
    async for event in feed.events():
        if not isinstance(event, QuotesUpdated):
            continue  # the engine's own events carry its sim clock, not the wall clock
        samples.append((time.time_ns() - event.ts) / 1e6)
        if len(samples) > LATENCY_SAMPLES:
            break
    samples = samples[1:]  # the first waited for the reader to be scheduled
    q = statistics.quantiles(samples, n=100)
    print(json.dumps({"p50": statistics.median(samples), "p99": q[98], "max": max(samples)}))
    await feed.close()


def open_positions(engine: Any, count: int) -> None:
    """Book ``count`` single-option positions through the paper broker, as the demo does."""
    from engine.broker.base import BrokerOrder
    from engine.records import Leg, Option, Order

    settle = engine.broker.settle
    today = engine.clock.today()
    combos = []
    for symbol in engine.market.symbols:
        quote = engine.market.quote(symbol)
        expiries = [e for e in engine.market.expiries(symbol) if e > today + dt.timedelta(days=7)]
        if quote is None or quote.last is None or not expiries:
            continue
        for expiry in expiries:
            for strike in engine.market.strikes(symbol, expiry):
                for right in ("C", "P"):
                    combos.append(
                        Option(underlying=symbol, expiry=expiry, strike=strike, right=right)
                    )
    with engine.journal.batch():
        for i in range(count):
            option = combos[(i * 7919) % len(combos)]
            now = engine.now()
            order_id = engine.next_order_id()
            legs = (Leg(instrument=option, ratio=1),)
            order = Order(
                order_id=order_id,
                command_id=f"bench-{order_id}",
                intent="open",
                position_id=f"B{order_id}",
                legs=legs,
                quantity=1,
                limit=None,
                state="filled",
                created_at=now,
                updated_at=now,
            )
            engine.record_order(order)
            broker_order = BrokerOrder(
                order_id=order_id,
                order_ref=order.command_id,
                position_id=order.position_id,
                intent="open",
                legs=legs,
                quantity=1,
                limit=None,
                ts=now,
            )
            engine.on_execution(settle(broker_order, {option.key: 1.0}, now, source="demo"))
    engine.revalue()


async def attach_time(url: str, parser: str, directory: Path) -> dict[str, float]:
    from desk.feeds.redis import RedisFeed
    from engine.remote.bridge import RedisBridge
    from engine.remote.config import RedisConfig

    engine = build(directory / f"attach-{parser}", url, f"attach-{parser}")
    open_positions(engine, POSITIONS)
    bridge = RedisBridge(engine, engine.config.redis)
    await bridge.republish("benchmark")
    await bridge.client.set(bridge.keys.heartbeat, str(time.time_ns()), px=600_000)
    feed = RedisFeed(RedisConfig(url=url, trader="bench"), engine.config.name)
    use_parser(feed.client, parser)
    times = []
    snapshot = None
    for _ in range(20):
        began = time.perf_counter()
        snapshot = await feed.attach()
        times.append(time.perf_counter() - began)
    assert snapshot is not None
    positions = len(snapshot.positions)
    await feed.close()
    await bridge.client.aclose()
    engine.shutdown()
    return {"ms": statistics.median(times) * 1000, "positions": positions}


async def measure(url: str, parser: str, directory: Path) -> dict[str, Any]:
    return {
        "parser": parser,
        "publish": await publish_rate(url, parser, directory),
        "latency": await latency(url, parser, directory),
        "attach": await attach_time(url, parser, directory),
    }


def main() -> int:
    import logging

    import redis

    from tests.redis_server import RedisServer

    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp) / "redis").start()
        try:
            rows = [asyncio.run(measure(server.url, p, Path(tmp))) for p in PARSERS]
        finally:
            server.kill()
    version = subprocess.run(
        ["redis-server", "--version"], capture_output=True, text=True, check=False
    ).stdout.split()[2]
    print(
        f"redis-py {redis.__version__}, redis-server {version}, "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, loopback"
    )
    mix = rows[0]["publish"]
    print(
        f"{EVENTS:,} events a series in batches of {BATCH:,}: the sim engine's own mix "
        f"({mix['mix_bytes']:,.0f} B an event: the whole book every tick) and one-symbol "
        f"quote updates ({mix['small_bytes']:,.0f} B); latency over {LATENCY_SAMPLES:,} events"
    )
    header = (
        f"{'parser':<8} {'flush mix ev/s':>15} {'MB/s':>6} {'flush small ev/s':>17} "
        f"{'raw XADD mix/s':>15} {'16 B XADD/s':>12} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'attach ms':>10}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        pub, lat, att = row["publish"], row["latency"], row["attach"]
        print(
            f"{row['parser']:<8} {pub['bridge']:>15,.0f} "
            f"{pub['bridge'] * pub['mix_bytes'] / 1e6:>6.0f} {pub['small_bridge']:>17,.0f} "
            f"{pub['raw']:>15,.0f} {pub['small']:>12,.0f} "
            f"{lat['p50']:>7.3f} {lat['p99']:>7.3f} "
            f"{lat['max']:>7.2f} {att['ms']:>10.1f}"
        )
    hiredis, python = rows[0], rows[1]
    print(
        "ratios: flush / raw pipelined XADD of the same events "
        f"{hiredis['publish']['bridge'] / hiredis['publish']['raw']:.2f}x (framing: 256 events "
        f"an entry); hiredis / python parser: publish "
        f"{hiredis['publish']['bridge'] / python['publish']['bridge']:.2f}x, attach "
        f"{python['attach']['ms'] / hiredis['attach']['ms']:.2f}x faster"
    )

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    best = hiredis
    print(
        f"goals (hiredis): publish >= {PUBLISH_GOAL:,.0f} ev/s: "
        f"{verdict(best['publish']['small_bridge'] >= PUBLISH_GOAL)} for small events, "
        f"{verdict(best['publish']['bridge'] >= PUBLISH_GOAL)} for the whole-book mix; "
        f"p99 < {P99_GOAL_MS:g} ms: {verdict(best['latency']['p99'] < P99_GOAL_MS)}; "
        f"attach of {best['attach']['positions']:,} positions {best['attach']['ms']:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--reader", nargs=3, metavar=("URL", "NAME", "PARSER"))
    args = parser.parse_args()
    if args.reader:
        asyncio.run(read_latencies(*args.reader))
        raise SystemExit(0)
    raise SystemExit(main())
