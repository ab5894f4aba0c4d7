"""Provides what replay derives from a bar series once, at load: the vol fit and daily bars.

The ATM level is an EWMA of squared log returns per unit of variance time (one trading day
per daily bar; for intraday bars, session time plus an overnight share per open crossed),
started from a prior worth one half-life at the configured initial vol. The long-run level
is the expanding mean of the same. Both are stored per bar, so the fit at any point of the
replay is a lookup: nothing to warm up, nothing to checkpoint.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.market import calendar
from engine.market.base import Bars, FloatArray, IntArray
from engine.market.csvbars import BarSeries


@dataclass(frozen=True, slots=True)
class Fit:
    v0: FloatArray
    """EWMA variance rate (annual) after each bar."""
    v_long: FloatArray
    """Expanding-mean variance rate after each bar."""


def variance_time(t1: int, t2: int, d1: dt.date, d2: dt.date, overnight_share: float) -> float:
    """Trading days of variance between two intraday bars."""
    o2, c2 = calendar.open_ns(d2), calendar.close_ns(d2)
    in_session = calendar.is_trading_day(d2)
    if d1 == d2:
        if not in_session:
            return 0.0
        seconds = min(max(t2, o2), c2) - min(max(t1, o2), c2)
        return (1.0 - overnight_share) * seconds / calendar.SESSION_NS
    o1, c1 = calendar.open_ns(d1), calendar.close_ns(d1)
    seconds = (c1 - min(max(t1, o1), c1)) if calendar.is_trading_day(d1) else 0
    if in_session:
        seconds += min(max(t2, o2), c2) - o2
    opens = int(np.busday_count(d1 + dt.timedelta(days=1), d2 + dt.timedelta(days=1)))
    seconds += max(opens - (1 if in_session else 0), 0) * calendar.SESSION_NS
    return (1.0 - overnight_share) * seconds / calendar.SESSION_NS + overnight_share * opens


def fit_variance(
    series: BarSeries, halflife_days: float, initial_vol: float, overnight_share: float
) -> Fit:
    n = len(series)
    v0 = np.empty(n)
    v_long = np.empty(n)
    prior_years = halflife_days / calendar.TRADING_DAYS_PER_YEAR
    num = lnum = initial_vol**2 * prior_years
    den = lden = prior_years
    close = series.close.tolist()
    ts = series.ts.tolist()
    dates = series.date.astype(dt.date).tolist()
    anchor = 0
    v0[0] = v_long[0] = initial_vol**2
    for i in range(1, n):
        if series.intraday:
            days = variance_time(ts[anchor], ts[i], dates[anchor], dates[i], overnight_share)
        else:
            days = 1.0
        if days <= 0:
            v0[i], v_long[i] = v0[i - 1], v_long[i - 1]
            continue
        r = math.log(close[i] / close[anchor])
        years = days / calendar.TRADING_DAYS_PER_YEAR
        decay = 0.5 ** (days / halflife_days)
        num = decay * num + r * r
        den = decay * den + years
        lnum += r * r
        lden += years
        v0[i], v_long[i] = num / den, lnum / lden
        anchor = i
    return Fit(v0=v0, v_long=v_long)


@dataclass(frozen=True, slots=True)
class Daily:
    """Daily aggregates of a series and, per bar, the day it belongs to."""

    bars: Bars
    bar_day: IntArray
    day_start: IntArray
    day_volume: FloatArray
    """Cumulative volume of the bar's day up to and including the bar."""


def daily(series: BarSeries) -> Daily:
    dates, start = np.unique(series.date, return_index=True)
    end = np.append(start[1:], len(series))
    bar_day = np.repeat(np.arange(len(dates)), end - start)
    cumulative = np.cumsum(series.volume)
    before = np.concatenate([[0.0], cumulative])[start][bar_day]
    bars = Bars(
        date=dates.astype("datetime64[D]"),
        open=series.open[start],
        high=np.maximum.reduceat(series.high, start),
        low=np.minimum.reduceat(series.low, start),
        close=series.close[end - 1],
        volume=np.add.reduceat(series.volume, start),
    )
    return Daily(bars=bars, bar_day=bar_day, day_start=start, day_volume=cumulative - before)


def bars_until(d: Daily, series: BarSeries, last: int) -> Bars:
    """Daily bars up to bar ``last`` (inclusive); that bar's day is partial."""
    if last < 0:
        return Bars.empty()
    day = int(d.bar_day[last])
    first = int(d.day_start[day])

    def partial(values: FloatArray, today: float) -> FloatArray:
        return np.append(values[:day], today)

    dates: npt.NDArray[np.datetime64] = d.bars.date[: day + 1]
    return Bars(
        date=dates,
        open=partial(d.bars.open, float(series.open[first])),
        high=partial(d.bars.high, float(series.high[first : last + 1].max())),
        low=partial(d.bars.low, float(series.low[first : last + 1].min())),
        close=partial(d.bars.close, float(series.close[last])),
        volume=partial(d.bars.volume, float(d.day_volume[last])),
    )
