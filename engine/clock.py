"""Provides the engine's only source of time: live, simulated (×N) and replay clocks.

Components read ``clock.now_ns()`` and never ``time.time()``, so a seeded sim or a replay
gives the same run twice. Simulated and replay clocks move only when the runner advances
them; ``wall_seconds`` tells the runner how long to wait in real time for a step.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Literal
from zoneinfo import ZoneInfo

NS_PER_SECOND = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_SECOND
EXCHANGE_TZ = ZoneInfo("America/New_York")

ClockMode = Literal["live", "sim", "replay"]


def to_datetime(ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ns / NS_PER_SECOND, tz=dt.UTC)


def from_datetime(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no place on the engine clock: give a timezone")
    return int(moment.timestamp()) * NS_PER_SECOND + moment.microsecond * 1000


def exchange_date(ns: int) -> dt.date:
    """The trading date at the exchange (New York) for an engine time."""
    return to_datetime(ns).astimezone(EXCHANGE_TZ).date()


class Clock:
    """A clock the runner moves forward by hand: the simulated and replay clocks."""

    mode: ClockMode = "sim"

    def __init__(self, start_ns: int, speed: float = 1.0) -> None:
        if speed < 0:
            raise ValueError(f"clock speed must be >= 0, got {speed}")
        self._now = start_ns
        self.speed = speed

    def now_ns(self) -> int:
        return self._now

    def now(self) -> dt.datetime:
        return to_datetime(self.now_ns())

    def today(self) -> dt.date:
        return exchange_date(self.now_ns())

    def advance(self, ns: int) -> int:
        if ns < 0:
            raise ValueError("the engine clock never runs backwards")
        self._now += ns
        return self._now

    def advance_to(self, ns: int) -> int:
        """Move to ``ns``; a time in the past leaves the clock where it is."""
        self._now = max(self._now, ns)
        return self._now

    def wall_seconds(self, engine_ns: int) -> float:
        """Real seconds to wait so that ``engine_ns`` of engine time pass at this speed."""
        if self.speed == 0:
            return 0.0
        return engine_ns / NS_PER_SECOND / self.speed


class SimClock(Clock):
    """Simulated time running ``speed`` times faster than the wall."""

    mode: ClockMode = "sim"


class ReplayClock(Clock):
    """Time taken from historical data; speed 0 replays as fast as possible."""

    mode: ClockMode = "replay"


class LiveClock(Clock):
    """Wall time. Advancing it is a no-op: the world moves it."""

    mode: ClockMode = "live"

    def __init__(self) -> None:
        super().__init__(time.time_ns(), 1.0)

    def now_ns(self) -> int:
        return time.time_ns()

    def advance(self, ns: int) -> int:
        return self.now_ns()

    def advance_to(self, ns: int) -> int:
        return self.now_ns()
