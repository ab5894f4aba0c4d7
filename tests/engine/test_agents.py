"""Agents over days of simulated market: signals that journal, advice on every position."""

from __future__ import annotations

import math

import numpy as np

from engine.agents.indicators import rsi, sma
from tests.engine.conftest import advance, engine_config, open_engine


def test_sma_matches_a_plain_rolling_mean():
    values = np.arange(1.0, 31.0) ** 1.5

    got = sma(values, 5)

    assert np.all(np.isnan(got[:4]))
    assert np.allclose(got[4:], np.convolve(values, np.ones(5) / 5, mode="valid"))


def test_rsi_is_100_on_steady_gains_0_on_steady_losses_and_50_ish_when_balanced():
    up = np.arange(100.0, 130.0)
    down = up[::-1].copy()
    zigzag = 100 + np.tile([0.0, 1.0], 20)

    assert rsi(up) == 100.0
    assert rsi(down) == 0.0
    assert 45 < rsi(zigzag) < 55
    assert rsi(up[:10]) is None


def busy_week(tmp_path):
    """Ten-minute ticks, so a week of sessions runs in seconds, on a seeded market whose
    first week has crosses and extremes in it: how many a week brings depends on the path
    (seed 7's first fortnight is quiet), and these tests are about what a signal carries."""
    return engine_config(tmp_path, clock={"speed": 2400.0}, market={"sim": {"seed": 1}})


def test_a_week_of_sim_market_gives_journaled_signals_advice_and_no_agent_errors(tmp_path):
    engine = open_engine(busy_week(tmp_path))

    # Act
    advance(engine, 5 * 40)

    # Assert
    assert engine.counters.get("agent_errors", 0) == 0, [a.message for a in engine.alerts]
    signals = list(engine.signals.values())
    assert signals, "the scanner found nothing in a week of market"
    assert engine.journal.count("signal") >= len(signals)
    for signal in signals:
        assert 0 < signal.confidence <= 1 and signal.direction in ("bullish", "bearish")
        assert all(math.isfinite(v) for v in signal.inputs.values())
    views = [v for v in engine.position_views() if v.status == "open"]
    assert views and all(v.recommendation is not None for v in views)
    assert {v.recommendation.action for v in views} <= {"HOLD", "CLOSE", "ROLL"}
    assert all(v.recommendation.reason for v in views)
    engine.shutdown()


def test_the_orchestrator_votes_onto_signals_and_reports_its_cycle(tmp_path):
    from engine.agents.orchestrator import consensus

    engine = open_engine(busy_week(tmp_path))
    advance(engine, 5 * 40)

    voted = [s for s in engine.signals.values() if s.votes]
    status = {a.name: a for a in engine.agent_statuses()}["orchestrator"]
    assert voted, "no signal carries the orchestrator's votes"
    for signal in voted:
        assert all(v.weight == 1.0 for v in signal.votes)
        assert -1.0 <= consensus(signal.votes) <= 1.0
    assert status.kind == "orchestrator" and status.last_run is not None
    assert status.next_run is not None and status.next_run > status.last_run
    proposed = [s for s in engine.signals.values() if s.status == "proposed"]
    assert all(
        consensus(s.votes) * (1 if s.direction == "bullish" else -1) > 0
        for s in proposed
        if s.votes
    )
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
