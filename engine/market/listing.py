"""Provides option listings: which expiries and strikes exist for an underlying on a day.

Strikes are laid out around reference prices: fine steps within ``near_band`` and coarse
steps out to ``far_band``. The references are every daily close since the expiry was first
listed plus today's open, so once a strike is listed it stays listed until expiry, however
far the underlying moves (positions never lose their contract).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from engine.market import calendar
from engine.market.base import Bars, FloatArray, IntArray
from engine.market.config import ChainConfig

STRIKE_SCALE = 1000
"""Strikes are compared in thousandths of a dollar, the OCC symbol's resolution."""
_NICE = (0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0)

StepRule = Callable[[int, float], tuple[float, float]]
"""(symbol index, reference price at listing) -> (near step, far step)."""


def nice_step(raw: float) -> float:
    """The largest conventional strike step not above ``raw`` (at least 0.5)."""
    best = _NICE[0]
    for step in _NICE:
        if step <= raw:
            best = step
    return best


def auto_steps(price: float) -> tuple[float, float]:
    """Strike steps by price level, for underlyings without configured steps."""
    near = nice_step(price * 0.004)
    return near, max(near, nice_step(price * 0.02))


def strike_grid(low: float, high: float, near: float, far: float, chain: ChainConfig) -> FloatArray:
    """Union of coarse strikes over [low, high] +-far_band and fine ones +-near_band."""

    def grid(lo: float, hi: float, step: float) -> FloatArray:
        first = np.ceil(lo / step - 1e-9)
        last = np.floor(hi / step + 1e-9)
        return np.arange(max(first, 1.0), last + 1.0) * step

    coarse = grid(low * (1 - chain.far_band), high * (1 + chain.far_band), far)
    fine = grid(low * (1 - chain.near_band), high * (1 + chain.near_band), near)
    keys = np.unique(np.round(np.concatenate([coarse, fine]) * STRIKE_SCALE).astype(np.int64))
    result: FloatArray = keys / STRIKE_SCALE
    return result


def strike_keys(strikes: npt.ArrayLike) -> IntArray:
    return np.round(np.asarray(strikes, dtype=np.float64) * STRIKE_SCALE).astype(np.int64)


class Listing:
    """Expiries and strikes for every underlying of a source, cached per trading day."""

    def __init__(self, chain: ChainConfig, steps: StepRule, bars: Callable[[int], Bars]) -> None:
        self.chain = chain
        self._steps = steps
        self._bars = bars
        self._day: dt.date | None = None
        self._strikes: dict[tuple[int, dt.date], tuple[FloatArray, IntArray]] = {}

    def clear(self) -> None:
        self._day = None
        self._strikes.clear()

    def expiries(self, day: dt.date, now_ns: int) -> tuple[dt.date, ...]:
        """Listed on ``day`` and not yet past their 16:00 ET close at ``now_ns``."""
        listed = calendar.listed_expiries(day, self.chain)
        return tuple(e for e in listed if calendar.close_ns(e) > now_ns)

    def strikes(self, sym: int, expiry: dt.date, day: dt.date) -> FloatArray:
        return self._entry(sym, expiry, day)[0]

    def keys(self, sym: int, expiry: dt.date, day: dt.date) -> IntArray:
        """Listed strikes in thousandths, sorted: for membership tests."""
        return self._entry(sym, expiry, day)[1]

    def _entry(self, sym: int, expiry: dt.date, day: dt.date) -> tuple[FloatArray, IntArray]:
        if day != self._day:
            self._day = day
            self._strikes.clear()
        cached = self._strikes.get((sym, expiry))
        if cached is not None:
            return cached
        refs = self._references(self._bars(sym), calendar.listing_date(expiry, self.chain), day)
        if refs.size == 0:
            entry = (np.zeros(0), np.zeros(0, dtype=np.int64))
        else:
            near, far = self._steps(sym, float(refs[0]))
            strikes = strike_grid(float(refs.min()), float(refs.max()), near, far, self.chain)
            entry = (strikes, strike_keys(strikes))
        self._strikes[(sym, expiry)] = entry
        return entry

    @staticmethod
    def _references(bars: Bars, listed: dt.date, day: dt.date) -> FloatArray:
        if len(bars) == 0:
            return np.zeros(0)
        today = np.datetime64(day, "D")
        since = bars.date >= np.datetime64(listed, "D")
        closes = bars.close[since & (bars.date < today)]
        if bars.date[-1] == today:
            closes = np.append(closes, bars.open[-1])
        if closes.size == 0:
            closes = bars.close[-1:]
        finite: FloatArray = closes[np.isfinite(closes) & (closes > 0)]
        return finite
