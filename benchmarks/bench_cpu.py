"""Provides a one-shot report: CPU the `desk` process uses while the market runs.

Run: .venv/bin/python benchmarks/bench_cpu.py [seconds]  (default 30 per case, so about
70 s for the two; needs tmux and /proc; exits 0).

`desk` runs in a 120×40 tmux pane (a real pty, so Textual renders and writes every frame
as it would for a trader) on a new journal with the default config: the sim market at 60×,
4 ticks a second, the agents on. After a 3 s warm-up, utime + stime of the process (and
all its threads) are read from /proc/PID/stat at the start and end of the window:
% of one core = CPU seconds / wall seconds. Two books: the demo book (7 positions) and
the demo's structures repeated to 200 positions (the demo spec is widened in the child
process only, then `desk.cli.main` runs as usual).
"""

from __future__ import annotations

import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import tmux  # noqa: E402
from tests.tmux import POSITION_ROW, Tmux, desk_env  # noqa: E402

PYTHON = ROOT / ".venv" / "bin" / "python"
WARMUP_S = 3.0
TICKS = os.sysconf("SC_CLK_TCK")
WIDENED = textwrap.dedent(
    """
    import sys
    import engine.demo as demo
    n = int(sys.argv.pop(1))
    demo.DEMO = tuple(demo.DEMO[i % len(demo.DEMO)] for i in range(n))
    from desk.cli import main
    sys.exit(main())
    """
)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / TICKS


def ticks_seen(screen: str) -> str:
    first = screen.splitlines()[0] if screen else ""
    return first.strip()


def measure(positions: int | None, seconds: float) -> dict[str, float | str]:
    where = Path(tempfile.mkdtemp(prefix="bench-cpu-"))
    journal = where / "desk.journal.db"
    if positions is None:
        command = [str(ROOT / ".venv" / "bin" / "desk"), "--journal", str(journal), "--seed", "7"]
    else:
        script = where / "widened.py"
        script.write_text(WIDENED)
        command = [str(PYTHON), str(script), str(positions), "--journal", str(journal)]
    with Tmux(where / "tmux", command, width=120, height=40, env=desk_env(where), cwd=where) as t:
        t.wait_for(POSITION_ROW, timeout=60)
        pid = t.pid()
        time.sleep(WARMUP_S)
        header_before = ticks_seen(t.screen())
        cpu0, wall0 = cpu_seconds(pid), time.perf_counter()
        time.sleep(seconds)
        cpu1, wall1 = cpu_seconds(pid), time.perf_counter()
        header_after = ticks_seen(t.screen())
        rss_kb = next(
            int(line.split()[1])
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("VmRSS:")
        )
        t.send("q")
    return {
        "share": (cpu1 - cpu0) / (wall1 - wall0),
        "wall": wall1 - wall0,
        "rss_mb": rss_kb / 1024,
        "before": header_before,
        "after": header_after,
    }


def main() -> None:
    if not tmux.available():
        print("tmux is not installed: apt-get install tmux")
        return
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    print(
        f"CPU of the desk process while the market runs: 120×40 tmux pane, sim at 60×, "
        f"4 ticks/s, {seconds:.0f} s window after {WARMUP_S:.0f} s warm-up"
    )
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load before: {_load()}\n")
    header = f"{'book':<26}{'% of one core':>15}{'RSS':>10}   engine clock over the window"
    print(header)
    print("-" * len(header))
    for label, positions in (("demo book (7 positions)", None), ("200 positions", 200)):
        found = measure(positions, seconds)
        clock = _clock(str(found["before"])), _clock(str(found["after"]))
        print(
            f"{label:<26}{float(found['share']) * 100:>14.1f}%{float(found['rss_mb']):>8.0f}MB"
            f"   {clock[0]} → {clock[1]}"
        )
    print(f"\nload after: {_load()} (other processes on this box count against the figures)")


def _clock(header: str) -> str:
    for word in header.split():
        if word.count(":") == 2:
            return word
    return "?"


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    main()
