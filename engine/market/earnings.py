"""Provides the earnings calendar of the single names: dates, timing and expected moves.

Each name reports once a quarter, three to six weeks after the quarter ends, always before
the open (BMO) or always after the close (AMC), with a move that varies a little around
its configured size. Everything is hashed from the seed, so the calendar is known for any
date range without consuming the market's random stream. The gap lands at the open of the
event day (BMO) or of the next trading day (AMC).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import numpy as np

from engine.market import calendar
from engine.market.base import FloatArray, IntArray
from engine.market.surface import NO_EVENT
from engine.records import EarningsEvent


@dataclass(frozen=True, slots=True)
class Scheduled:
    symbol: str
    index: int
    event: EarningsEvent
    gap_day: dt.date
    gap_ns: int
    move: float


def _rng(seed: int, *parts: int) -> np.random.Generator:
    return np.random.default_rng([seed, 0xEA27, *parts])


def schedule(
    seed: int, names: list[tuple[int, str, float]], first: dt.date, last: dt.date
) -> list[Scheduled]:
    """Events with gap days in [first, last] for (index, symbol, typical move) triples."""
    out: list[Scheduled] = []
    for index, symbol, move in names:
        if move <= 0:
            continue
        code = int.from_bytes(symbol.encode(), "little")
        habit = _rng(seed, code)
        offset = int(habit.integers(22, 40))
        timing: Literal["BMO", "AMC"] = "BMO" if habit.random() < 0.4 else "AMC"
        for year in range(first.year - 1, last.year + 2):
            for quarter in range(4):
                quarter_end = dt.date(year, 3 * quarter + 1, 1)
                draw = _rng(seed, code, year, quarter)
                day = quarter_end + dt.timedelta(days=offset + int(draw.integers(-3, 4)))
                day = calendar.trading_day_on_or_after(day)
                expected = move * float(np.exp(0.2 * draw.standard_normal()))
                gap_day = day if timing == "BMO" else calendar.next_trading_day(day)
                if not first <= gap_day <= last:
                    continue
                event = EarningsEvent(
                    symbol=symbol, date=day, timing=timing, expected_move=round(expected, 4)
                )
                out.append(
                    Scheduled(symbol, index, event, gap_day, calendar.open_ns(gap_day), expected)
                )
    out.sort(key=lambda s: (s.gap_ns, s.index))
    return out


def gaps_on(events: list[Scheduled], day: dt.date) -> list[Scheduled]:
    return [s for s in events if s.gap_day == day]


def event_arrays(
    events: list[Scheduled], n_symbols: int, now_ns: int
) -> tuple[IntArray, FloatArray]:
    """The surface's [symbol, event] gap times and variances for events still ahead."""
    ahead = [s for s in events if s.gap_ns > now_ns]
    width = max([sum(1 for s in ahead if s.index == i) for i in range(n_symbols)] + [1])
    times = np.full((n_symbols, width), NO_EVENT, dtype=np.int64)
    variances = np.zeros((n_symbols, width))
    filled = [0] * n_symbols
    for s in ahead:
        j = filled[s.index]
        times[s.index, j] = s.gap_ns
        variances[s.index, j] = s.move**2
        filled[s.index] += 1
    return times, variances
