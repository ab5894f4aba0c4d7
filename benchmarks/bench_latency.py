"""Provides a one-shot report: event-to-screen latency of the desk with 200 positions at
4 ticks a second, p50 / p90 / p99 / max.

Run: .venv/bin/python benchmarks/bench_latency.py [seconds]  (default 40; exits 0).

The real DeskApp runs on the embedded engine (seed 7, speed 60, tick_rate 4) in a
200×60 headless terminal (Textual's run_test; frames paced at Textual's default 60 fps,
as on a real terminal). The book is the demo book's seven structures repeated to 200
positions (the demo spec is widened here only, the engine opens them through the paper
broker's ``settle`` as usual). Measured, per tick:

* start: the engine publishes the tick's PositionsUpdated (EventBus.publish is wrapped
  to stamp time.perf_counter());
* end: the first frame written (App._display returns) after the app has applied that
  event and repainted the positions grid (its render_line has drawn a row since).

The engine ticks on the app's own event loop, so the rest of the engine's tick (risk,
P&L, agents) is inside the measured time, as it is for a trader.
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from desk.app import DeskApp  # noqa: E402
from desk.config import load_config  # noqa: E402
from desk.feeds.embedded import EmbeddedFeed  # noqa: E402
from engine import demo  # noqa: E402
from engine.records import PositionsUpdated  # noqa: E402
from widgets.positions_grid import PositionsGrid  # noqa: E402

POSITIONS = 200
SIZE = (200, 60)
WARMUP_S = 3.0


def widen_demo_book(n: int) -> None:
    """The demo's seven structures, repeated to ``n`` positions (this process only)."""
    specs = demo.DEMO
    demo.DEMO = tuple(specs[i % len(specs)] for i in range(n))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


async def measure(seconds: float) -> dict[str, Any]:
    widen_demo_book(POSITIONS)
    where = tempfile.mkdtemp(prefix="bench-latency-")
    # As `desk` does: the engine's log goes to a file, not over the screen.
    logging.basicConfig(level=logging.INFO, filename=f"{where}/desk.log")
    config = load_config(
        ROOT / "desk.toml",
        {
            "journal.path": f"{where}/desk.journal.db",
            "market.sim.seed": 7,
            "market.sim.start_date": "2025-03-03",
            "clock.speed": 60.0,
            "clock.tick_rate": 4.0,
        },
    )
    feed = EmbeddedFeed(config, running=True)
    engine = feed.open()
    opened = len(engine.book.open_positions())
    app = DeskApp(config, feed, actor="bench")

    published: dict[int, float] = {}
    latencies: list[tuple[float, float]] = []  # (when published, ms to screen)
    flushed_seq = 0
    painted = False
    measuring = False

    original_publish = engine.bus.publish

    def publish(event: Any) -> Any:
        numbered = original_publish(event)
        if measuring and isinstance(numbered, PositionsUpdated):
            published[numbered.seq] = time.perf_counter()
        return numbered

    engine.bus.publish = publish  # type: ignore[method-assign]

    original_flush = app._repaint_panes

    def flush() -> None:
        nonlocal flushed_seq
        original_flush()
        flushed_seq = app.state.seq

    app._repaint_panes = flush  # type: ignore[method-assign]

    original_display = app._display

    def display(screen: Any, renderable: Any) -> None:
        nonlocal painted
        original_display(screen, renderable)
        if not painted:
            return
        now = time.perf_counter()
        painted = False
        for seq in [s for s in published if s <= flushed_seq]:
            started = published.pop(seq)
            latencies.append((started, (now - started) * 1000))

    app._display = display  # type: ignore[method-assign]

    cpu_before = wall_before = 0.0
    async with app.run_test(size=SIZE) as pilot:
        await asyncio.wait_for(app.attached.wait(), 30)
        grid = app.query_one(PositionsGrid)
        original_render_line = grid.render_line

        def render_line(y: int) -> Any:
            nonlocal painted
            if y > 0:
                painted = True
            return original_render_line(y)

        grid.render_line = render_line  # type: ignore[method-assign]
        await asyncio.sleep(WARMUP_S)
        measuring = True
        ticks_before = engine.ticks
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        measuring = False
        cpu = time.process_time() - cpu_before
        wall = time.perf_counter() - wall_before
        ticks = engine.ticks - ticks_before
        shown = len(app.state.positions)
        await pilot.pause()
    return {
        "opened": opened,
        "shown": shown,
        "latencies": [ms for _, ms in latencies],
        "missed": len(published),
        "ticks": ticks,
        "cpu": cpu,
        "wall": wall,
        "rows": grid.row_count,
    }


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 40.0
    found = asyncio.run(measure(seconds))
    lat = found["latencies"]
    print(
        f"event-to-screen latency: {found['opened']} positions opened, {found['shown']} in the "
        f"app, {found['rows']} grid rows; tick_rate 4/s, speed 60×; {SIZE[0]}×{SIZE[1]} "
        f"headless, Textual {os.environ.get('TEXTUAL_FPS', '60')} fps; "
        f"{found['wall']:.0f} s measured after {WARMUP_S:.0f} s warm-up"
    )
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus\n")
    if not lat:
        print("no samples: the grid never repainted after a positions event")
        return
    header = f"{'samples':>8}{'p50':>10}{'p90':>10}{'p99':>10}{'max':>10}{'mean':>10}"
    print(header)
    print("-" * len(header))
    print(
        f"{len(lat):>8}{percentile(lat, 50):>8.1f}ms{percentile(lat, 90):>8.1f}ms"
        f"{percentile(lat, 99):>8.1f}ms{max(lat):>8.1f}ms{statistics.fmean(lat):>8.1f}ms"
    )
    print()
    per_tick = found["cpu"] / max(found["ticks"], 1) * 1000
    print(
        f"ticks in the window: {found['ticks']} ({found['ticks'] / found['wall']:.2f}/s, "
        f"target 4.00/s); positions events never shown (superseded before a frame): "
        f"{found['missed']}"
    )
    print(
        f"process CPU in the window: {found['cpu'] / found['wall'] * 100:.0f}% of one core, "
        f"{per_tick:.0f} ms per tick (engine + app, same loop)"
    )
    print(
        f"a tick's budget at 4/s is 250 ms; p99 {percentile(lat, 99):.0f} ms is "
        f"{percentile(lat, 99) / 250:.2f}× of it"
    )


if __name__ == "__main__":
    main()
