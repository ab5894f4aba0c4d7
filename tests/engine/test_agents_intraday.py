"""The sim's minute bars that intraday scanners read: they agree with the daily bars, they
are there from the first minute, and reading them never changes the market."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from engine.market.config import SimConfig
from engine.market.intraday import SESSION_BARS, WARMUP_SESSIONS, IntradaySource
from engine.market.sim import SimMarket

SECOND = 1_000_000_000
START = dt.date(2025, 3, 3)


def drive(sim: SimMarket, steps: int, step_ns: int, now: int | None = None) -> int:
    if now is None:
        now = sim.start_time()
        sim.step(now)
        steps -= 1
    for _ in range(steps):
        now = sim.next_time(now, step_ns)
        sim.step(now)
    return now


def sessions(bars):
    """Minute bars split by exchange day (bars are stamped in UTC; 14:30 UTC is 09:30 ET
    in March before the clocks change, 13:30 after)."""
    days = bars.date.astype("datetime64[D]")
    return {d.astype(dt.date): days == d for d in np.unique(days)}


def aggregate(bars, mask) -> tuple[float, float, float, float, float]:
    return (
        float(bars.open[mask][0]),
        float(bars.high[mask].max()),
        float(bars.low[mask].min()),
        float(bars.close[mask][-1]),
        float(bars.volume[mask].sum()),
    )


def test_a_new_sim_offers_the_last_sessions_minute_by_minute_agreeing_with_the_daily_bars():
    sim = SimMarket(SimConfig(start_date=START, seed=3, history_days=60))
    sim.step(sim.start_time())
    assert isinstance(sim, IntradaySource)

    for symbol in sim.symbols:
        bars = sim.intraday_bars(symbol)
        daily = sim.daily_bars(symbol)
        by_day = sessions(bars)
        # The two sessions before today, whole, then today's opening print.
        assert list(by_day)[:WARMUP_SESSIONS] == list(daily.date[-3:-1].astype(dt.date))
        for i, day in enumerate(list(by_day)[:WARMUP_SESSIONS]):
            row = len(daily) - 3 + i
            o, h, low, c, v = aggregate(bars, by_day[day])
            assert by_day[day].sum() == SESSION_BARS
            assert (o, h, low, c) == pytest.approx(
                (daily.open[row], daily.high[row], daily.low[row], daily.close[row]), rel=1e-12
            )
            assert v == pytest.approx(daily.volume[row], abs=SESSION_BARS)
            assert np.all(bars.low <= np.minimum(bars.open, bars.close))
            assert np.all(bars.high >= np.maximum(bars.open, bars.close))
        assert bars.close[-1] == pytest.approx(daily.open[-1])  # today's open, at 09:30


def test_todays_minute_bars_are_the_session_so_far_one_per_minute():
    sim = SimMarket(SimConfig(start_date=START, seed=5, history_days=60))
    drive(sim, 1 + 4 * 45, 15 * SECOND)  # 45 minutes of 15-second steps

    for symbol in sim.symbols:
        bars = sim.intraday_bars(symbol)
        today = sessions(bars)[START]
        daily = sim.daily_bars(symbol)
        assert today.sum() == 45
        got = aggregate(bars, today)
        want = (daily.open[-1], daily.high[-1], daily.low[-1], daily.close[-1], daily.volume[-1])
        assert got == pytest.approx(want, rel=1e-12)
        minutes = np.diff(bars.date[today]).astype(int)
        assert np.all(minutes == 1)


def test_reading_minute_bars_does_not_change_the_market():
    config = SimConfig(start_date=START, seed=4, history_days=60)
    quiet, curious = SimMarket(config), SimMarket(config)
    now = quiet.start_time()
    for sim in (quiet, curious):
        sim.step(now)
    for _ in range(200):
        now = quiet.next_time(now, 60 * SECOND)
        quiet.step(now)
        curious.step(now)
        for symbol in curious.symbols:
            curious.intraday_bars(symbol)

    assert quiet.quotes() == curious.quotes()


def test_after_a_restore_the_minute_bars_still_agree_with_the_days_bars():
    config = SimConfig(start_date=START, seed=8, history_days=60)
    original = SimMarket(config)
    now = drive(original, 1 + 4 * 90, 15 * SECOND)  # an hour and a half in
    before = {s: original.intraday_bars(s) for s in original.symbols}

    restored = SimMarket(config)
    restored.restore(original.checkpoint())
    drive(original, 4 * 30, 15 * SECOND, now)
    drive(restored, 4 * 30, 15 * SECOND, now)

    for symbol in restored.symbols:
        bars = restored.intraday_bars(symbol)
        by_day = sessions(bars)
        daily = restored.daily_bars(symbol)
        # The sessions before today are drawn the same way on every start.
        past = ~by_day[START]
        assert np.array_equal(
            bars.close[past], before[symbol].close[~sessions(before[symbol])[START]]
        )
        assert by_day[START].sum() == 120
        got = aggregate(bars, by_day[START])
        want = (daily.open[-1], daily.high[-1], daily.low[-1], daily.close[-1], daily.volume[-1])
        assert got[:4] == pytest.approx(want[:4], rel=1e-12)
        assert got[4] == pytest.approx(want[4], abs=SESSION_BARS)
        # From the restore on, the bars are the ones the uninterrupted sim recorded.
        assert np.array_equal(bars.close[-30:], original.intraday_bars(symbol).close[-30:])
