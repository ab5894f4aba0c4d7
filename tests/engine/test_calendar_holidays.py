"""The exchange's holidays: no session on them, and a holiday Friday's options expire the
day before. The rules are checked against the ``holidays`` package, year by year."""

from __future__ import annotations

import datetime as dt

import holidays
import pytest

from engine.clock import exchange_date
from engine.market import nyse
from engine.market.calendar import expired_between, listed_expiries, open_ns, session_open
from engine.market.config import ChainConfig, SimConfig
from engine.market.sim import SimMarket


@pytest.mark.parametrize("year", range(2000, 2051))
def test_closed_days_agree_with_the_holidays_package(year):
    reference = {d for d in holidays.financial_holidays("NYSE", years=year) if d.weekday() < 5}

    assert nyse.closed_days(year) == reference


def test_the_simulated_market_skips_thanksgiving_2026():
    sim = SimMarket(SimConfig(start_date=dt.date(2026, 11, 25), history_days=40, flow_rate=0.0))
    now = sim.start_time()
    sessions = [sim.step(now).new_session]
    while len(sessions) < 3:
        now = sim.next_time(now, 3600 * 10**9)
        update = sim.step(now)
        if update.new_session:
            sessions.append(update.new_session)
        assert exchange_date(now) != dt.date(2026, 11, 26)

    assert sessions == [dt.date(2026, 11, 25), dt.date(2026, 11, 27), dt.date(2026, 11, 30)]
    assert not session_open(open_ns(dt.date(2026, 11, 26)) + 3600 * 10**9)


def test_options_of_a_holiday_friday_expire_on_the_thursday_before():
    listed = listed_expiries(dt.date(2026, 12, 1), ChainConfig())
    christmas_week = dt.date(2026, 12, 24)

    assert christmas_week in listed and dt.date(2026, 12, 25) not in listed
    assert dt.date(2026, 4, 2) in listed_expiries(dt.date(2026, 3, 30), ChainConfig())
    before, after = open_ns(christmas_week), open_ns(dt.date(2026, 12, 28))
    assert expired_between(before, after, weeklies=True) == (christmas_week,)
