"""Drives a real engine in its own process so the crash tests can SIGKILL it anywhere.

    python -m tests.engine.crash_driver JOURNAL SEED [--steps N] [--script JSON]

The driver builds and starts an engine on JOURNAL with :func:`driver_config`, writes
``READY`` to stderr, then ticks it by hand. Every few ticks it sends a command: with SEED
a seeded random mix (close, partial close, roll, approve, kill switch on/off, a repeat of
a command id already in the journal); with ``--script`` the steps given, in order. Right
after ``engine.execute`` returns it prints and flushes one line::

    ACK <command_id> <accepted 1|0> <code> <order_id or ->

The engine journals a result before ``execute`` returns, so a printed ACK is a command the
engine acknowledged: the test holds the engine to every one of them after a crash. The
driver never reads the wall clock, so a run with a named crash point (``DESK_CRASH_AT``)
dies at the same moment every time; without one it exits 0 after ``--steps`` ticks.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
import numpy as np

from engine.config import EngineConfig
from engine.engine import Engine
from engine.records import (
    AnyCommand,
    ApproveProposal,
    ClosePosition,
    Option,
    RollPosition,
    SetKillSwitch,
)
from engine.runner import build_engine, engine_step_ns, start

ROOT = Path(__file__).resolve().parents[2]


def driver_config(journal: Path, **sections: Any) -> EngineConfig:
    """The engine the driver runs, and that a test must reopen to check it: same file, seed."""
    raw: dict[str, Any] = {
        "journal": {"path": str(journal)},
        "market": {"sim": {"seed": 7, "start_date": "2025-03-03"}},
        # 15 engine seconds a tick; the paper broker walks a step a tick, so an order
        # works for a few ticks before it fills: long enough to be killed mid-flight.
        "clock": {"speed": 60.0, "tick_rate": 4.0},
        "broker": {"paper": {"walk_interval_s": 15.0, "walk_step": 0.1}},
        # Scan often so the analyst has proposals to approve.
        "agents": {"scanner": {"interval_s": 60.0}, "analyst": {"interval_s": 60.0}},
    }
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value}
    return msgspec.convert(raw, EngineConfig)


def advance(engine: Engine, ticks: int = 1) -> None:
    step = engine_step_ns(engine)
    for _ in range(ticks):
        upcoming = engine.market.next_time(engine.now(), step)
        assert upcoming is not None
        engine.clock.advance_to(upcoming)
        engine.tick()


class Driver:
    def __init__(self, engine: Engine, prefix: str) -> None:
        self.engine = engine
        self.prefix = prefix
        self.sent: list[AnyCommand] = []

    def next_id(self) -> str:
        return f"{self.prefix}-{len(self.sent) + 1:04d}"

    def send(self, command: AnyCommand) -> None:
        self.sent.append(command)
        result = self.engine.execute(command)
        order = "-" if result.order_id is None else str(result.order_id)
        print(f"ACK {result.command_id} {int(result.accepted)} {result.code} {order}", flush=True)

    # --- the commands a trader sends -------------------------------------------------------

    def close(
        self, position_id: str, quantity: int | None = None, limit: float | None = None
    ) -> None:
        self.send(
            ClosePosition(
                command_id=self.next_id(),
                actor="crash-driver",
                issued_at=self.engine.now(),
                position_id=position_id,
                quantity=quantity,
                limit=limit,
            )
        )

    def roll(self, position_id: str, offset: int) -> None:
        """Roll to the ``offset``-th listed expiry after the position's nearest one."""
        position = self.engine.book.positions[position_id]
        current = position.expiry
        listed = self.engine.market.expiries(position.underlying)
        later = [d for d in listed if current is not None and d > current]
        if not later:
            return
        self.send(
            RollPosition(
                command_id=self.next_id(),
                actor="crash-driver",
                issued_at=self.engine.now(),
                position_id=position_id,
                to_expiry=later[min(offset, len(later) - 1)],
            )
        )

    def kill_switch(self, on: bool) -> None:
        self.send(
            SetKillSwitch(
                command_id=self.next_id(),
                actor="crash-driver",
                issued_at=self.engine.now(),
                on=on,
                reason="crash drill",
            )
        )

    def approve(self) -> bool:
        pending = [p for p in self.engine.proposals.values() if p.status == "pending"]
        if not pending:
            return False
        self.send(
            ApproveProposal(
                command_id=self.next_id(),
                actor="crash-driver",
                issued_at=self.engine.now(),
                proposal_id=pending[0].proposal_id,
            )
        )
        return True

    def repeat(self, rng: np.random.Generator) -> None:
        """Send again a command the journal already holds, from this run or an earlier one."""
        known = list(self.engine.commands.values())
        if known:
            self.send(known[int(rng.integers(len(known)))])

    # --- the two ways to drive it ----------------------------------------------------------

    def random(self, rng: np.random.Generator, steps: int) -> None:
        for _ in range(steps):
            advance(self.engine, int(rng.integers(1, 4)))
            open_ = sorted(self.engine.book.open_positions(), key=lambda p: p.position_id)
            working = self.engine.working_positions()
            idle = [p for p in open_ if p.position_id not in working]
            # Keep a few positions on the book, so every run has something left to trade.
            spare = len(idle) > 3
            choice = rng.random()
            if choice < 0.2 and spare:
                self.close(open_[int(rng.integers(len(open_)))].position_id)
            elif choice < 0.4 and idle:
                # A partial close; with positions to spare, sometimes all or more than held.
                position = idle[int(rng.integers(len(idle)))]
                most = position.units + 1 if spare else position.units - 1
                if most >= 1:
                    self.close(position.position_id, quantity=int(rng.integers(1, most + 1)))
            elif choice < 0.55 and open_:
                with_options = [
                    p
                    for p in open_
                    if any(isinstance(leg.instrument, Option) for leg in p.open_legs)
                ]
                if with_options:
                    position = with_options[int(rng.integers(len(with_options)))]
                    self.roll(position.position_id, int(rng.integers(0, 3)))
            elif choice < 0.7:
                self.approve()
            elif choice < 0.76:
                self.kill_switch(not self.engine.kill_switch)
            elif choice < 0.9:
                self.repeat(rng)

    def script(self, steps: list[dict[str, Any]]) -> None:
        for step in steps:
            match step["op"]:
                case "ticks":
                    advance(self.engine, int(step["n"]))
                case "close":
                    self.close(step["position"], step.get("quantity"), step.get("limit"))
                case "roll":
                    self.roll(step["position"], int(step.get("offset", 0)))
                case "kill":
                    self.kill_switch(bool(step["on"]))
                case "approve":
                    self.approve()
                case op:
                    raise ValueError(f"unknown script step {op!r}")


# --- for the tests: run the driver, read its ACKs ---------------------------------------------


class Ack(NamedTuple):
    command_id: str
    accepted: bool
    code: str
    order_id: int | None


def parse_acks(data: bytes) -> list[Ack]:
    acks = []
    for line in data.decode().splitlines(keepends=True):
        parts = line.split()
        # A line cut short by the kill was never acknowledged to anyone: skip it.
        if not line.endswith("\n") or len(parts) != 5 or parts[0] != "ACK":
            continue
        _, cid, accepted, code, order = parts
        acks.append(Ack(cid, accepted == "1", code, None if order == "-" else int(order)))
    return acks


def driver_env(crash_at: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DESK_CRASH_AT"}
    if crash_at is not None:
        env["DESK_CRASH_AT"] = crash_at
    return env


def run_script(
    journal: Path, steps: list[dict[str, Any]], *, crash_at: str | None, timeout: float = 120.0
) -> tuple[int, list[Ack], str]:
    """Run a scripted driver to its end or its crash point: exit code, ACKs, stderr."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.engine.crash_driver",
            str(journal),
            "0",
            "--script",
            json.dumps(steps),
        ],
        cwd=ROOT,
        env=driver_env(crash_at),
        capture_output=True,
        timeout=timeout,
    )
    return proc.returncode, parse_acks(proc.stdout), proc.stderr.decode(errors="replace")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crash_driver")
    parser.add_argument("journal", type=Path)
    parser.add_argument("seed", type=int)
    parser.add_argument("--steps", type=int, default=2_000)
    parser.add_argument("--script", help="JSON list of steps instead of the random mix")
    args = parser.parse_args(argv)
    # Logs go to a file: stderr carries only READY (and a traceback if the driver fails).
    logging.basicConfig(
        filename=str(args.journal) + f".driver-{args.seed}.log",
        level=logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    engine = build_engine(driver_config(args.journal))
    start(engine)
    print("READY", file=sys.stderr, flush=True)
    driver = Driver(engine, prefix=f"s{args.seed}")
    if args.script is not None:
        driver.script(json.loads(args.script))
    else:
        driver.random(np.random.default_rng(args.seed), args.steps)
    engine.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
