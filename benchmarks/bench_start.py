"""Provides a one-shot report: `desk` process start to the first frame showing positions.

Run: .venv/bin/python benchmarks/bench_start.py [repeats]  (default 15; about a minute;
needs tmux; exits 0).

Each repeat spawns `desk` in a fresh 120×40 tmux pane (private server) and polls
capture-pane every 5 ms until a position row ("▸ SPY …") is on screen; the time runs from
just before `tmux new-session` to that capture. Three cases: a new journal (the demo book
is opened), the same journal again (recovery from it), and, for scale, a bare Textual app
that shows one such row (the floor any Textual app pays here). Medians are compared
with the 0.5 s goal.

When the desk is over the goal, the script says where the time goes, measured two ways:
``python -X importtime`` of the modules `desk` loads before its first frame (cumulative
per top-level package, and the heaviest single imports), and a phase timing of one
start in-process: interpreter, imports, config, engine build, recovery + demo book, and
app start to first frame (headless), each with its share.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import tmux  # noqa: E402
from tests.tmux import POSITION_ROW, Tmux, desk_command, desk_env  # noqa: E402

GOAL_S = 0.5
PYTHON = ROOT / ".venv" / "bin" / "python"
BARE_APP = textwrap.dedent(
    """
    from textual.app import App
    from textual.widgets import Static

    class Bare(App):
        def compose(self):
            yield Static("▸ SPY    bull put spread     3   32   +1,509")

    Bare().run()
    """
)


def first_frame(workdir: Path, command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    with Tmux(workdir, command, width=120, height=40, env=env, cwd=workdir) as term:
        term.wait_for(POSITION_ROW, timeout=30, interval=0.005)
        took = time.perf_counter() - started
        term.send("q")
        try:
            term.wait_exit(timeout=10)
        except tmux.TmuxError:
            pass
    return took


def timings(repeats: int) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {"new journal": [], "existing journal": [], "bare Textual": []}
    base = Path(tempfile.mkdtemp(prefix="bench-start-"))
    bare = base / "bare.py"
    bare.write_text(BARE_APP)
    for n in range(repeats):
        where = base / f"run-{n}"
        env = desk_env(where)
        journal = where / "desk.journal.db"
        found["new journal"].append(first_frame(where / "a", desk_command(journal), env))
        found["existing journal"].append(first_frame(where / "b", desk_command(journal), env))
        found["bare Textual"].append(first_frame(where / "c", [str(PYTHON), str(bare)], env))
    return found


PHASES = textwrap.dedent(
    """
    import time
    t0 = time.perf_counter()
    import asyncio, json, sys, tempfile
    from desk.config import load_config
    t_config_import = time.perf_counter()
    import desk.app, desk.feeds.embedded
    t_imports = time.perf_counter()
    from desk.app import DeskApp
    from desk.feeds.embedded import EmbeddedFeed
    from engine.runner import build_engine, start
    t_engine_import = time.perf_counter()
    where = tempfile.mkdtemp()
    config = load_config(None, {"journal.path": where + "/j.db", "market.sim.seed": 7})
    t_config = time.perf_counter()
    engine = build_engine(config, mode="embedded")
    t_build = time.perf_counter()
    start(engine)
    t_start = time.perf_counter()
    feed = EmbeddedFeed(config, engine=engine)
    feed.open()
    app = DeskApp(config, feed)
    frames = []
    original = app._display
    def display(screen, renderable):
        original(screen, renderable)
        if app.attached.is_set() and not frames:
            frames.append(time.perf_counter())
    app._display = display
    async def main():
        async with app.run_test(size=(120, 40)) as pilot:
            await asyncio.wait_for(app.attached.wait(), 30)
            for _ in range(200):
                if frames:
                    break
                await asyncio.sleep(0.005)
    asyncio.run(main())
    print(json.dumps({
        "config import": t_config_import - t0,
        "desk.app + feed imports": t_imports - t_config_import,
        "engine imports (numpy, scipy)": t_engine_import - t_imports,
        "config load": t_config - t_engine_import,
        "build_engine": t_build - t_config,
        "start: recovery + demo book": t_start - t_build,
        "app start to first frame": frames[0] - t_start,
    }))
    """
)


def interpreter_start() -> float:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([str(PYTHON), "-c", "pass"], check=True, timeout=30)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def phases(repeats: int = 5) -> dict[str, float]:
    import json

    runs: list[dict[str, float]] = []
    for _ in range(repeats):
        done = subprocess.run(
            [str(PYTHON), "-c", PHASES],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tempfile.mkdtemp(),
            check=True,
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def imports() -> tuple[dict[str, float], list[tuple[float, str]]]:
    """Cumulative import time per top-level package, and the heaviest modules (seconds)."""
    done = subprocess.run(
        [str(PYTHON), "-X", "importtime", "-c", "import desk.cli, desk.app, desk.feeds.embedded"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tempfile.mkdtemp(),
        check=True,
    )
    per_package: dict[str, float] = {}
    heavy: list[tuple[float, str]] = []
    line = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")
    for match in line.finditer(done.stderr):
        own, cumulative, indent, name = int(match[1]), int(match[2]), len(match[3]), match[4]
        top = name.split(".")[0]
        per_package[top] = per_package.get(top, 0.0) + own / 1e6
        if cumulative >= 15_000:
            heavy.append((cumulative / 1e6, f"{name} (depth {(indent - 1) // 2})"))
    heavy.sort(reverse=True)
    return per_package, heavy[:22]


def main() -> None:
    if not tmux.available():
        print("tmux is not installed: apt-get install tmux")
        return
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    found = timings(repeats)
    print(
        f"process start → first frame with a position row, 120×40 tmux pane, "
        f"{repeats} runs each (poll every 5 ms)"
    )
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus\n")
    header = f"{'case':<20}{'median':>10}{'min':>10}{'max':>10}{'vs goal':>10}"
    print(header)
    print("-" * len(header))
    for case, runs in found.items():
        median = statistics.median(runs)
        print(
            f"{case:<20}{median:>9.3f}s{min(runs):>9.3f}s{max(runs):>9.3f}s{median / GOAL_S:>9.2f}×"
        )
    desk_median = statistics.median(found["new journal"])
    bare_median = statistics.median(found["bare Textual"])
    print(
        f"\nnew journal / bare Textual = {desk_median / bare_median:.1f}×; goal < {GOAL_S} s: "
        f"{'met' if desk_median < GOAL_S else 'MISSED'}"
    )
    if desk_median < GOAL_S:
        return

    print("\nwhere the time goes (one start, in-process, median of 5; headless first frame)")
    python = interpreter_start()
    split = {"python interpreter": python, **phases()}
    total = sum(split.values())
    for name, seconds in split.items():
        print(f"  {name:<32}{seconds * 1000:>8.0f} ms {seconds / total:>6.0%}")
    print(f"  {'total':<32}{total * 1000:>8.0f} ms")

    per_package, heavy = imports()
    total_imports = sum(per_package.values())
    print(f"\nimports (python -X importtime, self time summed per package): {total_imports:.3f} s")
    for name, seconds in sorted(per_package.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  {name:<24}{seconds * 1000:>8.0f} ms {seconds / total_imports:>6.0%}")
    print("\nheaviest imports (cumulative ≥ 15 ms; depth 0 = imported by desk itself)")
    for seconds, name in heavy:
        print(f"  {seconds * 1000:>8.0f} ms  {name}")


if __name__ == "__main__":
    main()
