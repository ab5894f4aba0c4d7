"""Provides intraday minute bars: recorded as a session runs, drawn for sessions never seen.

Scanners that work on intraday bars need a warm-up before the first bar of a new desk, so
a source that can offers the last sessions' minute bars as well as today's. The sim records
its own steps (open, the high and low of each step's path, close, volume) into minute
buckets; a session it never stepped through (the history before the start, days the
engine slept through, the part of today before a restart) is drawn once from a seeded
stream as a Brownian path through that day's open, high, low and close, so the minute
bars always agree with the daily bar and the sim's own random stream is never touched.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from typing import Protocol, runtime_checkable

import numpy as np

from engine.market.base import Bars, FloatArray
from engine.market.calendar import SESSION_NS, open_ns

BAR_NS = 60 * 1_000_000_000
SESSION_BARS = SESSION_NS // BAR_NS
WARMUP_SESSIONS = 2
"""Completed sessions of minute bars offered before today's."""
_SUBSTEPS = 4
"""Path points per drawn minute, so a drawn bar has a range of its own."""


@runtime_checkable
class IntradaySource(Protocol):
    """A market source with minute bars (the sim; replay has only daily bars)."""

    def intraday_bars(self, symbol: str) -> Bars:
        """Minute bars, oldest first: the last completed sessions, then today's so far.

        ``date`` holds each bar's start as datetime64[m] (UTC); a minute the source saw
        no step in has no bar, and today's last bar may still be forming."""
        ...


def _empty_session(n: int) -> FloatArray:
    out = np.full((5, SESSION_BARS, n), np.nan)
    out[4] = 0.0
    return out


class IntradayTape:
    """Minute bars of recent sessions, [field (o, h, l, c, v), minute, symbol]."""

    def __init__(self, n: int, seed: int) -> None:
        self._n = n
        self._seed = seed
        self._sessions: dict[dt.date, FloatArray] = {}

    def record(
        self,
        day: dt.date,
        end_ns: int,
        before: FloatArray,
        high: FloatArray,
        low: FloatArray,
        close: FloatArray,
        volume: FloatArray,
    ) -> None:
        """One step of the session ending at ``end_ns``: it lands in that minute's bar."""
        minute = min(max((end_ns - open_ns(day) - 1) // BAR_NS, 0), SESSION_BARS - 1)
        bars = self._sessions.get(day)
        if bars is None:
            bars = self._sessions[day] = _empty_session(self._n)
            self._forget_before(day)
        if np.isnan(bars[0, minute, 0]):
            bars[0, minute] = before
            bars[1, minute] = np.maximum(before, high)
            bars[2, minute] = np.minimum(before, low)
        else:
            bars[1, minute] = np.maximum(bars[1, minute], high)
            bars[2, minute] = np.minimum(bars[2, minute], low)
        bars[3, minute] = close
        bars[4, minute] += volume

    def open_print(self, day: dt.date, price: FloatArray) -> None:
        """The opening print at 09:30: the first minute's bar starts at the open price."""
        self.record(day, open_ns(day) + 1, price, price, price, price, np.zeros(self._n))

    def draw_until(self, day: dt.date, end_ns: int, ohlcv: FloatArray) -> None:
        """Today's session up to ``end_ns``, drawn from its bar so far (after a restart)."""
        minutes = int(min(max(-(-(end_ns - open_ns(day)) // BAR_NS), 0), SESSION_BARS))
        bars = _empty_session(self._n)
        if minutes:
            bars[:, :minutes] = draw_session(ohlcv, minutes, self._rng(day))
        self._sessions[day] = bars
        self._forget_before(day)

    def bars(
        self,
        column: int,
        today: dt.date,
        started: bool,
        past: list[tuple[dt.date, FloatArray]],
    ) -> Bars:
        """Minute bars of ``column``: ``past`` sessions (with their daily o, h, l, c, v
        across symbols, drawn where never recorded), then today's if it has started."""
        days: list[tuple[dt.date, FloatArray]] = []
        for day, ohlcv in past:
            recorded = self._sessions.get(day)
            days.append((day, recorded if recorded is not None else self._drawn(day, ohlcv)))
        if started and today in self._sessions:
            days.append((today, self._sessions[today]))
        stamps: list[np.ndarray] = []
        fields: list[FloatArray] = []
        for day, bars in days:
            keep = ~np.isnan(bars[3, :, column])
            start = np.datetime64(open_ns(day), "ns").astype("datetime64[m]")
            minutes = np.flatnonzero(keep)
            stamps.append(start + minutes.astype("timedelta64[m]"))
            fields.append(bars[:, keep, column])
        if not fields:
            return Bars.empty()
        stacked = np.concatenate(fields, axis=1)
        return Bars(
            date=np.concatenate(stamps),
            open=stacked[0],
            high=stacked[1],
            low=stacked[2],
            close=stacked[3],
            volume=stacked[4],
        )

    def _drawn(self, day: dt.date, ohlcv: FloatArray) -> FloatArray:
        bars = draw_session(ohlcv, SESSION_BARS, self._rng(day))
        self._sessions[day] = bars
        self._forget_before(day)
        return bars

    def _rng(self, day: dt.date) -> np.random.Generator:
        # Keyed by seed and day: the same session is drawn the same way after a restart.
        return np.random.default_rng([self._seed, day.toordinal(), 0x1D])

    def _forget_before(self, day: dt.date) -> None:
        for old in sorted(self._sessions)[: -(WARMUP_SESSIONS + 1)]:
            if old < day:
                del self._sessions[old]


def draw_session(ohlcv: FloatArray, minutes: int, rng: np.random.Generator) -> FloatArray:
    """``minutes`` minute bars per symbol whose open, high, low, close and volume are the
    daily ones in ``ohlcv`` [field, symbol]: [field, minute, symbol].

    The path visits the low and the high at random times (arcsine-distributed, as the
    extremes of a Brownian path are) and is a Brownian bridge in log price between those
    four anchors, kept inside the day's range.
    """
    n = ohlcv.shape[1]
    points = minutes * _SUBSTEPS + 1
    out = np.zeros((5, minutes, n))
    for sym in range(n):
        o, h, lo, c, v = (float(x) for x in ohlcv[:, sym])
        path = _path(math.log(o), math.log(h), math.log(lo), math.log(c), points, rng)
        prices = np.exp(path)
        edges = prices[::_SUBSTEPS]
        inside = prices[1:].reshape(minutes, _SUBSTEPS)
        out[0, :, sym] = edges[:-1]
        out[3, :, sym] = edges[1:]
        out[1, :, sym] = np.maximum(inside.max(axis=1), edges[:-1])
        out[2, :, sym] = np.minimum(inside.min(axis=1), edges[:-1])
        out[4, :, sym] = _volume_profile(v, minutes, rng)
    return out


def _path(
    o: float, h: float, lo: float, c: float, points: int, rng: np.random.Generator
) -> FloatArray:
    last = points - 1
    if last < 3 or h - lo <= 0:
        return np.linspace(o, c, points)
    # Times of the extremes, distinct and strictly inside the session.
    times = np.clip(np.round(np.sin(0.5 * math.pi * rng.random(2)) ** 2 * last), 1, last - 1)
    t_high, t_low = int(times[0]), int(times[1])
    if t_high == t_low:
        t_low = t_low + 1 if t_low + 1 < last else t_low - 1
    anchors = sorted([(0, o), (t_high, h), (t_low, lo), (last, c)])
    path = np.empty(points)
    scale = (h - lo) / math.sqrt(points)
    for (t0, x0), (t1, x1) in itertools.pairwise(anchors):
        steps = t1 - t0
        noise = np.concatenate([[0.0], np.cumsum(rng.standard_normal(steps))]) * scale
        share = np.linspace(0.0, 1.0, steps + 1)
        path[t0 : t1 + 1] = x0 + share * (x1 - x0) + noise - share * noise[-1]
    path = np.clip(path, lo, h)
    path[0], path[last] = o, c
    path[t_high], path[t_low] = h, lo
    return path


def _volume_profile(total: float, minutes: int, rng: np.random.Generator) -> FloatArray:
    """The day's volume over its minutes: heavy at the open and the close, light at noon."""
    t = (np.arange(minutes) + 0.5) / SESSION_BARS
    weights: FloatArray = (1.0 + 2.0 * (2.0 * t - 1.0) ** 2) * rng.lognormal(0.0, 0.3, minutes)
    shares: FloatArray = np.round(total * weights / weights.sum())
    return shares
