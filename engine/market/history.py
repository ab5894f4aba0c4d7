"""Provides whole simulated days: daily bars before the start, and days the engine skipped.

A day is the overnight gap (with any earnings gaps) followed by the session, drawn from the
same process as the live steps, so history and live data share their statistics. Highs and
lows come from the exact law of a Brownian bridge's extremes, so a bar has a realistic
range whatever the step size.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.market.base import FloatArray
from engine.market.calendar import TRADING_DAYS_PER_YEAR
from engine.market.earnings import Scheduled, gaps_on
from engine.market.regime import MarketState, RegimeModel, evolve


def bridge_extremes(
    move: FloatArray, variance: FloatArray, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """Max and min of a Brownian path from 0 to ``move`` with total ``variance``."""
    u = rng.random((2, move.shape[0]))
    log_u = np.log(np.maximum(u, 1e-300))
    high = 0.5 * (move + np.sqrt(move * move - 2.0 * variance * log_u[0]))
    low = 0.5 * (move - np.sqrt(move * move - 2.0 * variance * log_u[1]))
    return high, low


def earnings_gaps(
    events: list[Scheduled], day: dt.date, n: int, rng: np.random.Generator
) -> FloatArray:
    """Log gaps at the open of ``day``: std = the expected move, mean-corrected."""
    gaps = np.zeros(n)
    for event in gaps_on(events, day):
        gaps[event.index] += event.move * float(rng.standard_normal()) - 0.5 * event.move**2
    return gaps


@dataclass(frozen=True, slots=True)
class Days:
    """Bars of consecutive days: [day, symbol] for the underlyings, [day] for the index."""

    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    index: FloatArray
    """[day, 4]: the index's open, high, low, close."""

    def stacked(self, scale: FloatArray | float = 1.0) -> FloatArray:
        """[field (o, h, l, c, v), day, column]: underlying prices x scale, then the index."""
        days, n = self.close.shape
        out = np.zeros((5, days, n + 1))
        for row, values in enumerate((self.open, self.high, self.low, self.close)):
            out[row, :, :n] = values * scale
            out[row, :, n] = self.index[:, row]
        out[4, :, :n] = self.volume
        return out


def simulate_days(
    model: RegimeModel,
    state: MarketState,
    rng: np.random.Generator,
    days: list[dt.date],
    prev_close: FloatArray,
    events: list[Scheduled],
    overnight_share: float,
    avg_volume: FloatArray,
    index_level: Callable[[MarketState], float],
    index_noise: float,
) -> Days:
    n = prev_close.shape[0]
    m = len(days)
    o, h, lo, c, v = (np.zeros((m, n)) for _ in range(5))
    index = np.zeros((m, 4))
    close = prev_close.copy()
    session = 1.0 - overnight_share
    for i, day in enumerate(days):
        gap = evolve(model, state, overnight_share, rng) + earnings_gaps(events, day, n, rng)
        opened = close * np.exp(gap)
        index_open = index_level(state) * math.exp(index_noise * float(rng.standard_normal()))
        variance = (model.vol * state.x) ** 2 * session / TRADING_DAYS_PER_YEAR
        move = evolve(model, state, session, rng)
        top, bottom = bridge_extremes(move, variance, rng)
        close = opened * np.exp(move)
        o[i], c[i] = opened, close
        h[i], lo[i] = opened * np.exp(top), opened * np.exp(bottom)
        activity = state.x * np.exp(0.25 * rng.standard_normal(n))
        v[i] = np.round(avg_volume * activity)
        index_close = index_level(state) * math.exp(index_noise * float(rng.standard_normal()))
        spread = abs(float(rng.standard_normal())) * index_noise
        index[i] = (
            index_open,
            max(index_open, index_close) * (1 + spread),
            min(index_open, index_close) * (1 - spread),
            index_close,
        )
    return Days(open=o, high=h, low=lo, close=c, volume=v, index=index)
