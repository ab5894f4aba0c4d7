"""Provides the agent base: scheduling on the engine clock, status, and error isolation."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from engine.clock import NS_PER_SECOND
from engine.records import AgentKind, AgentState, AgentStatus, Signal

if TYPE_CHECKING:
    from engine.engine import Engine


class Numbering:
    """Ids of the form ``PREFIX-0001``, numbered on from the highest one already used
    under each prefix, so ids stay unique across a restart that rebuilt what was used."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def see(self, record_id: str) -> None:
        prefix, _, number = record_id.rpartition("-")
        if prefix and number.isdigit():
            self._last[prefix] = max(self._last.get(prefix, 0), int(number))

    def next(self, prefix: str) -> str:
        number = self._last.get(prefix, 0) + 1
        self._last[prefix] = number
        return f"{prefix}-{number:04d}"


class Agent(ABC):
    kind: AgentKind = "scanner"

    def __init__(self, name: str, interval_s: float, *, enabled: bool = True) -> None:
        self.name = name
        self.interval_ns = int(interval_s * NS_PER_SECOND)
        self.enabled = enabled
        self.last_run: int | None = None
        self.next_run: int | None = None
        self.last_cycle_ms: float | None = None
        self.signals_emitted = 0
        self.errors = 0
        self.last_error = ""
        self.failed = False
        self.busy = False

    def due(self, now: int) -> bool:
        return self.enabled and (self.next_run is None or now >= self.next_run)

    def run(self, engine: Engine) -> None:
        """One cycle; an exception marks the agent ERROR and never reaches the engine."""
        now = engine.now()
        started = time.perf_counter()
        try:
            self.busy = bool(self.cycle(engine))
            self.failed = False
        except Exception as exc:  # an agent's bug must not stop the desk
            self.errors += 1
            self.failed = True
            self.last_error = f"{type(exc).__name__}: {exc}"
            engine.counters["agent_errors"] += 1
            engine.alert(
                "warning", self.name, "AGENT_ERROR", f"{self.name} failed: {self.last_error}"
            )
        self.last_cycle_ms = (time.perf_counter() - started) * 1000.0
        self.last_run = now
        self.next_run = now + self.interval_ns

    @abstractmethod
    def cycle(self, engine: Engine) -> bool:
        """Do one cycle's work; return whether there was anything to work on."""

    def emit(self, engine: Engine, signal: Signal) -> None:
        engine.record_signal(signal)
        self.signals_emitted += 1

    def state(self, engine: Engine) -> AgentState:
        if self.name in engine.paused:
            return "PAUSED"
        if self.failed:
            return "ERROR"
        if not self.enabled or not self.busy:
            return "IDLE"
        return "ACTIVE"

    def status(self, engine: Engine) -> AgentStatus:
        return AgentStatus(
            name=self.name,
            kind=self.kind,
            state=self.state(engine),
            last_run=self.last_run,
            next_run=None if self.name in engine.paused else self.next_run,
            last_cycle_ms=self.last_cycle_ms,
            signals_emitted=self.signals_emitted,
            errors=self.errors,
            last_error=self.last_error,
            ts=engine.now(),
        )
