"""Provides the exchange calendar: sessions, steps, listed expiries and time to expiry.

Sessions run 09:30-16:00 New York time on the exchange's trading days (weekdays but its
holidays: engine.market.nyse). Options expire on Fridays, or on the trading day before
when that Friday is a holiday (Good Friday, Christmas), at 16:00 ET, and T is measured to
that moment in years of 365 days, so theta decays through nights, weekends and holidays
as vollib's per-calendar-day theta says.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from engine.clock import EXCHANGE_TZ, NS_PER_DAY, exchange_date, from_datetime
from engine.market.config import ChainConfig
from engine.market.nyse import is_closed

OPEN_TIME = dt.time(9, 30)
CLOSE_TIME = dt.time(16, 0)
SESSION_NS = (6 * 3600 + 1800) * 1_000_000_000
NS_PER_YEAR = 365 * NS_PER_DAY
TRADING_DAYS_PER_YEAR = 252.0


def is_trading_day(day: dt.date) -> bool:
    return day.weekday() < 5 and not is_closed(day)


def next_trading_day(day: dt.date) -> dt.date:
    """The first trading day strictly after ``day``."""
    day += dt.timedelta(days=1)
    while not is_trading_day(day):
        day += dt.timedelta(days=1)
    return day


def prev_trading_day(day: dt.date) -> dt.date:
    """The last trading day strictly before ``day``."""
    day -= dt.timedelta(days=1)
    while not is_trading_day(day):
        day -= dt.timedelta(days=1)
    return day


def trading_day_on_or_after(day: dt.date) -> dt.date:
    return day if is_trading_day(day) else next_trading_day(day)


def trading_days_before(day: dt.date, count: int) -> list[dt.date]:
    """The ``count`` trading days before ``day``, oldest first."""
    days: list[dt.date] = []
    current = day
    while len(days) < count:
        current = prev_trading_day(current)
        days.append(current)
    days.reverse()
    return days


@lru_cache(maxsize=16384)
def open_ns(day: dt.date) -> int:
    return from_datetime(dt.datetime.combine(day, OPEN_TIME, EXCHANGE_TZ))


@lru_cache(maxsize=16384)
def close_ns(day: dt.date) -> int:
    """16:00 ET on ``day``: the session close and the moment options of that date expire."""
    return from_datetime(dt.datetime.combine(day, CLOSE_TIME, EXCHANGE_TZ))


def session_open(now_ns: int) -> bool:
    """09:30 to 16:00 ET on a weekday, the closing instant included: the close step (and a
    daily bar, which stands at 16:00) still belongs to its session."""
    day = exchange_date(now_ns)
    return is_trading_day(day) and open_ns(day) <= now_ns <= close_ns(day)


def latest_session_day(now_ns: int) -> dt.date:
    """The trading day of the latest session that opened at or before ``now_ns``."""
    day = exchange_date(now_ns)
    if is_trading_day(day) and now_ns >= open_ns(day):
        return day
    return prev_trading_day(day)


def next_open_ns(now_ns: int) -> int:
    """The first session open strictly after ``now_ns``."""
    day = exchange_date(now_ns)
    if is_trading_day(day) and now_ns < open_ns(day):
        return open_ns(day)
    return open_ns(next_trading_day(day))


def next_step_ns(now_ns: int, step_ns: int) -> int:
    """Within a session ``now + step`` (never past the close); after it, the next open."""
    day = exchange_date(now_ns)
    if is_trading_day(day) and open_ns(day) <= now_ns < close_ns(day):
        return min(now_ns + max(step_ns, 1), close_ns(day))
    return next_open_ns(now_ns)


def start_ns(day: dt.date) -> int:
    """09:30 ET of ``day``, or of the next trading day when ``day`` is not one."""
    return open_ns(trading_day_on_or_after(day))


def third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)


@lru_cache(maxsize=4096)
def expiry_for(friday: dt.date) -> dt.date:
    """The expiry date of a Friday's options: that Friday, or the trading day before."""
    return friday if is_trading_day(friday) else prev_trading_day(friday)


def friday_of(expiry: dt.date) -> dt.date | None:
    """The Friday whose options expire on ``expiry``, if any."""
    friday = expiry + dt.timedelta(days=(4 - expiry.weekday()) % 7)
    return friday if expiry.weekday() <= 4 and expiry_for(friday) == expiry else None


def monthly_expiry(year: int, month: int) -> dt.date:
    return expiry_for(third_friday(year, month))


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


@lru_cache(maxsize=512)
def listed_expiries(day: dt.date, chain: ChainConfig) -> tuple[dt.date, ...]:
    """Expiry dates listed on ``day`` (including ``day`` itself until its 16:00 close)."""
    found: set[dt.date] = set()
    friday = day + dt.timedelta(days=(4 - day.weekday()) % 7)
    for week in range(chain.weekly_weeks + 1):
        candidate = friday + dt.timedelta(weeks=week)
        if candidate <= day + dt.timedelta(weeks=chain.weekly_weeks):
            found.add(expiry_for(candidate))
    for months in range(chain.monthly_months + 1):
        found.add(monthly_expiry(*_add_months(day.year, day.month, months)))
    for years in range(1, chain.leaps_years + 1):
        found.add(monthly_expiry(day.year + years, 1))
    return tuple(sorted(e for e in found if e >= day))


def listing_date(expiry: dt.date, chain: ChainConfig) -> dt.date:
    """The first day ``expiry`` is listed, by the rules of :func:`listed_expiries`."""
    friday = friday_of(expiry)
    if friday is None:
        return expiry
    dates: list[dt.date] = []
    if chain.weekly_weeks > 0:
        dates.append(friday - dt.timedelta(weeks=chain.weekly_weeks))
    if friday == third_friday(friday.year, friday.month):
        year, month = _add_months(friday.year, friday.month, -chain.monthly_months)
        dates.append(dt.date(year, month, 1))
        if friday.month == 1 and chain.leaps_years > 0:
            dates.append(dt.date(friday.year - chain.leaps_years, 1, 1))
    return min(dates, default=expiry)


@lru_cache(maxsize=4096)
def is_monthly(expiry: dt.date) -> bool:
    friday = friday_of(expiry)
    return friday is not None and friday == third_friday(friday.year, friday.month)


def expiry_close_ns(ordinals: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """16:00 ET of each expiry given as date ordinals (vectorized over unique dates)."""
    unique, inverse = np.unique(ordinals, return_inverse=True)
    closes = np.fromiter(
        (_close_of_ordinal(int(o)) for o in unique), dtype=np.int64, count=len(unique)
    )
    result: npt.NDArray[np.int64] = closes[inverse.reshape(-1)]
    return result


@lru_cache(maxsize=16384)
def _close_of_ordinal(ordinal: int) -> int:
    if ordinal < 1 or ordinal > dt.date.max.toordinal():
        return 0
    return close_ns(dt.date.fromordinal(ordinal))


def year_fraction(later_ns: npt.ArrayLike, now_ns: int) -> npt.NDArray[np.float64]:
    """Years of 365 days from ``now_ns`` to each time."""
    return (np.asarray(later_ns, dtype=np.int64) - now_ns) / NS_PER_YEAR


def expired_between(previous_ns: int, now_ns: int, weeklies: bool) -> tuple[dt.date, ...]:
    """Expiry dates whose 16:00 ET close lies in (previous_ns, now_ns]."""
    out: list[dt.date] = []
    day = exchange_date(previous_ns)
    last = exchange_date(now_ns)
    while day <= last:
        if friday_of(day) is not None and (weeklies or is_monthly(day)):
            close = close_ns(day)
            if previous_ns < close <= now_ns:
                out.append(day)
        day += dt.timedelta(days=1)
    return tuple(out)
