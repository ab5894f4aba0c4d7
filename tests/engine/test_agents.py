"""The technical scanner's rules on price series built here, checked against the formulas
written out in the test; and the agents over simulated days of market."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from engine.agents.indicators import rsi, sma
from engine.agents.rules import daily_findings, intraday_findings, resample
from engine.config import ScannerConfig
from engine.market.base import Bars
from tests.engine.conftest import advance, engine_config, open_engine

CFG = ScannerConfig()  # SMA 20/50, RSI(14) 30/70, 20-day breakout on 1.5x volume


def daily(closes, *, high=None, low=None, volume=None) -> Bars:
    closes = np.asarray(closes, dtype=np.float64)
    n = closes.size
    return Bars(
        date=np.datetime64("2025-01-02") + np.arange(n).astype("timedelta64[D]"),
        open=closes.copy(),
        high=closes.copy() if high is None else np.asarray(high, dtype=np.float64),
        low=closes.copy() if low is None else np.asarray(low, dtype=np.float64),
        close=closes,
        volume=np.full(n, 1e6) if volume is None else np.asarray(volume, dtype=np.float64),
    )


def mean(values) -> float:
    return sum(values) / len(values)


def wilder_rsi(closes, period: int = 14) -> float:
    """Wilder's RSI as he wrote it: a simple average of the first ``period`` gains and
    losses, then each new one smoothed in with weight 1/period."""
    changes = [b - a for a, b in itertools.pairwise(closes)]
    gains = [max(c, 0.0) for c in changes]
    losses = [max(-c, 0.0) for c in changes]
    avg_gain = sum(gains[:period]) / period
    avg_loss = sum(losses[:period]) / period
    for gain, loss in zip(gains[period:], losses[period:], strict=True):
        avg_gain = (avg_gain * (period - 1) + gain) / period
        avg_loss = (avg_loss * (period - 1) + loss) / period
    if avg_loss == 0:
        return 100.0
    return 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)


def kinds(findings, kind):
    return [f for f in findings if f.kind == kind]


# --- indicators -------------------------------------------------------------------------


def test_sma_matches_a_plain_rolling_mean():
    values = np.arange(1.0, 31.0) ** 1.5

    got = sma(values, 5)

    assert np.all(np.isnan(got[:4]))
    assert np.allclose(got[4:], [mean(values[i - 4 : i + 1]) for i in range(4, 30)])


def test_rsi_is_wilders_rsi_on_a_random_walk_at_every_length():
    closes = 100 + np.cumsum(np.random.default_rng(3).normal(0, 1, 120))

    for end in range(15, 121):
        assert rsi(closes[:end]) == pytest.approx(wilder_rsi(list(closes[:end])), abs=1e-9)
    assert rsi(closes[:14]) is None  # 13 changes: not enough for the first average


def test_rsi_is_100_on_steady_gains_and_0_on_steady_losses():
    up = np.arange(100.0, 130.0)

    assert rsi(up) == 100.0
    assert rsi(up[::-1].copy()) == 0.0


# --- daily rules ------------------------------------------------------------------------


def test_ma_cross_fires_the_right_way_on_the_bar_the_averages_cross_and_on_no_other():
    # Down for 60 bars, up for 40, down again for 40: the 20-bar average crosses the
    # 50-bar one upward after the turn up, and downward after the turn down.
    wiggle = 0.01 * np.sin(np.arange(140) * 1.7)
    closes = np.concatenate(
        [np.linspace(130, 100, 60), np.linspace(101, 140, 40), np.linspace(139, 100, 40)]
    )
    closes = closes + wiggle
    diff = {i: mean(closes[i - 19 : i + 1]) - mean(closes[i - 49 : i + 1]) for i in range(49, 140)}
    expected = {
        i: "bullish" if diff[i] > 0 else "bearish"
        for i in range(50, 140)
        if (diff[i] > 0) != (diff[i - 1] > 0)
    }
    assert list(expected.values()) == ["bullish", "bearish"]  # the series has both

    fired = {}
    for i in range(51, 140):
        for finding in kinds(daily_findings(daily(closes[: i + 1]), CFG, 1.0), "ma_cross"):
            fired[i] = finding.direction
            assert finding.inputs["sma20"] == pytest.approx(mean(closes[i - 19 : i + 1]))
            assert finding.inputs["sma50"] == pytest.approx(mean(closes[i - 49 : i + 1]))

    assert fired == expected


def test_rsi_extreme_fires_exactly_when_wilders_rsi_is_at_or_beyond_30_or_70():
    # A random walk with a rally and a slide in it, so both extremes occur.
    rng = np.random.default_rng(11)
    steps = rng.normal(0, 1, 260)
    steps[80:100] += 1.5
    steps[170:190] -= 1.5
    closes = 200 + np.cumsum(steps)
    seen = {"bullish": 0, "bearish": 0}

    for i in range(60, 260):
        window = closes[: i + 1]
        value = wilder_rsi(list(window))
        found = kinds(daily_findings(daily(window), CFG, 1.0), "rsi_extreme")
        if value <= 30 or value >= 70:
            assert len(found) == 1, (i, value)
            # Oversold is a bullish signal, overbought a bearish one.
            assert found[0].direction == ("bullish" if value <= 30 else "bearish")
            assert found[0].inputs["rsi"] == pytest.approx(value, abs=1e-9)
            seen[found[0].direction] += 1
        else:
            assert found == [], (i, value)

    assert seen["bullish"] > 0 and seen["bearish"] > 0


def ranging(last_close: float, last_volume: float) -> Bars:
    """Sixty days between 99 and 101 on a million shares a day, then today."""
    closes = np.array([100.0 + 0.5 * np.sin(i) for i in range(60)] + [last_close])
    high = np.full(61, 101.0)
    low = np.full(61, 99.0)
    high[-1], low[-1] = max(last_close, 100.0), min(last_close, 100.0)
    volume = np.full(61, 1e6)
    volume[-1] = last_volume
    return daily(closes, high=high, low=low, volume=volume)


@pytest.mark.parametrize(
    ("close", "volume", "fraction", "direction"),
    [
        (102.5, 1.6e6, 1.0, "bullish"),  # above the 20-day high on 1.6x volume
        (97.0, 2.0e6, 1.0, "bearish"),  # below the 20-day low on 2x volume
        (102.5, 0.5e6, 0.25, "bullish"),  # a quarter of the day in: on pace for 2x
        (102.5, 1.4e6, 1.0, None),  # the price broke out, the volume did not
        (102.5, 0.3e6, 0.25, None),  # on pace for only 1.2x
        (100.5, 3.0e6, 1.0, None),  # heavy volume inside the range is no breakout
        (101.0, 3.0e6, 1.0, None),  # at the high is not above it
    ],
)
def test_a_breakout_needs_the_price_beyond_the_range_and_the_volume_behind_it(
    close, volume, fraction, direction
):
    found = kinds(daily_findings(ranging(close, volume), CFG, fraction), "breakout")

    if direction is None:
        assert found == []
    else:
        assert [f.direction for f in found] == [direction]
        assert found[0].inputs["level"] == (101.0 if direction == "bullish" else 99.0)
        assert found[0].inputs["volume_ratio"] == pytest.approx(volume / fraction / 1e6)


def test_daily_rules_wait_for_enough_history():
    assert daily_findings(daily(np.linspace(100, 200, 51)), CFG, 1.0) == []


# --- intraday rules ---------------------------------------------------------------------


def minutes_bars(closes, *, start="2025-03-03T14:30", highs=None, lows=None) -> Bars:
    closes = np.asarray(closes, dtype=np.float64)
    n = closes.size
    return Bars(
        date=np.datetime64(start) + np.arange(n).astype("timedelta64[m]"),
        open=np.concatenate([[closes[0]], closes[:-1]]),
        high=closes.copy() if highs is None else np.asarray(highs, dtype=np.float64),
        low=closes.copy() if lows is None else np.asarray(lows, dtype=np.float64),
        close=closes,
        volume=np.arange(1.0, n + 1.0),
    )


def test_minute_bars_resample_into_clock_aligned_five_minute_bars():
    # 09:32 to 09:43 New York: two partial buckets around a full one.
    bars = minutes_bars(np.arange(100.0, 112.0), start="2025-03-03T14:32")
    bars.high[:] = bars.close + 0.5
    bars.low[:] = bars.close - 0.5

    five = resample(bars, 5)

    assert five.date.tolist() == [
        np.datetime64("2025-03-03T14:30").item(),
        np.datetime64("2025-03-03T14:35").item(),
        np.datetime64("2025-03-03T14:40").item(),
    ]
    assert five.open.tolist() == [bars.open[0], bars.open[3], bars.open[8]]
    assert five.close.tolist() == [102.0, 107.0, 111.0]
    assert five.high.tolist() == [102.5, 107.5, 111.5]
    assert five.low.tolist() == [99.5, 102.5, 107.5]
    assert five.volume.tolist() == [1 + 2 + 3, 4 + 5 + 6 + 7 + 8, 9 + 10 + 11 + 12]


def test_opening_range_breakout_fires_once_the_first_bar_is_done_and_price_leaves_it():
    # Yesterday's last bars, then today's: a 100-101 first bar, two inside, then out.
    yesterday = [100.0] * 60
    today = [100.5, 100.6, 100.9, 101.4, 100.2, 98.9]
    highs = [*yesterday, 101.0, *today[1:]]
    lows = [*yesterday, 100.0, *today[1:]]
    bars = minutes_bars(yesterday + today, highs=highs, lows=lows)
    fired = {}

    for shown in range(1, len(today) + 1):
        upto = len(yesterday) + shown
        window = Bars(
            date=bars.date[:upto],
            open=bars.open[:upto],
            high=bars.high[:upto],
            low=bars.low[:upto],
            close=bars.close[:upto],
            volume=bars.volume[:upto],
        )
        for finding in kinds(intraday_findings(window, shown, CFG, 5), "orb_5m"):
            fired[shown] = (finding.direction, finding.inputs["range_high"])

    assert fired == {4: ("bullish", 101.0), 6: ("bearish", 101.0)}


def test_intraday_crosses_and_extremes_are_the_daily_rules_on_intraday_bars():
    closes = np.concatenate([np.linspace(130, 100, 60), np.linspace(101, 118, 19)])
    bars = minutes_bars(closes)
    as_daily = daily_findings(daily(closes), CFG, 1.0)

    found = intraday_findings(bars, 1, CFG, 5)

    daily_kinds = {f.kind: f for f in as_daily}
    intraday_kinds = {f.kind: f for f in found}
    assert set(intraday_kinds) == {"ma_cross_5m", "rsi_5m"} and set(daily_kinds) == {
        "ma_cross",
        "rsi_extreme",
    }
    assert intraday_kinds["ma_cross_5m"].direction == daily_kinds["ma_cross"].direction
    assert intraday_kinds["rsi_5m"].inputs == daily_kinds["rsi_extreme"].inputs
    assert intraday_kinds["ma_cross_5m"].description.startswith("5m SMA20 crossed above")


# --- agents over simulated days ---------------------------------------------------------


def busy_week(tmp_path):
    """Ten-minute ticks, so a week of sessions runs in seconds."""
    return engine_config(tmp_path, clock={"speed": 2400.0}, market={"sim": {"seed": 1}})


def test_the_orchestrator_votes_onto_signals_and_reports_its_cycle(tmp_path):
    from engine.agents.orchestrator import consensus

    engine = open_engine(busy_week(tmp_path))
    advance(engine, 5 * 40)

    voted = [s for s in engine.signals.values() if s.votes]
    status = {a.name: a for a in engine.agent_statuses()}["orchestrator"]
    assert voted, "no signal carries the orchestrator's votes"
    for signal in voted:
        assert all(v.weight == 1.0 for v in signal.votes)
        latest = {}
        for other in engine.signals.values():
            if other.symbol == signal.symbol and other.ts <= signal.ts:
                latest[other.agent] = other
        assert {v.agent for v in signal.votes} <= set(latest)
        assert -1.0 <= consensus(signal.votes) <= 1.0
    assert status.kind == "orchestrator" and status.last_run is not None
    assert status.next_run is not None and status.next_run > status.last_run
    proposed = [s for s in engine.signals.values() if s.status == "proposed"]
    assert proposed, "a week of signals gave no proposal"
    assert all(
        consensus(s.votes) * (1 if s.direction == "bullish" else -1) > 0
        for s in proposed
        if s.votes
    )
    assert engine.counters.get("agent_errors", 0) == 0, [a.message for a in engine.alerts]
    engine.shutdown()


def test_recommendations_execute_nothing_unless_auto_execute_is_configured(tmp_path):
    quiet = open_engine(engine_config(tmp_path / "a", clock={"speed": 2400.0}))
    busy = open_engine(
        engine_config(tmp_path / "b", clock={"speed": 2400.0}, agents={"auto_execute": True})
    )

    advance(quiet, 120)
    advance(busy, 120)

    def agent_orders(engine):
        return [o for o in engine.orders.values() if o.command_id.startswith("auto-")]

    assert agent_orders(quiet) == [] and quiet.journal.count("command") == 0
    closes = [o for o in agent_orders(busy) if o.intent == "close"]
    closed = {o.position_id for o in closes}
    recommended = {pid for pid, rec in busy.recommendations.items() if rec.action == "CLOSE"}
    assert closes, "the demo book has positions past their profit target"
    assert len(closes) == len(closed), "one close per position"
    assert all(busy.commands[o.command_id].actor == "position-manager" for o in closes)
    sent = {c.position_id for c in busy.commands.values() if c.command_id.startswith("auto-close")}
    assert recommended <= sent, "every CLOSE recommendation was sent as a command"
    quiet.shutdown()
    busy.shutdown()
