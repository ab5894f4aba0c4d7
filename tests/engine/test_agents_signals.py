"""The scanner on the sim market: a new desk sees signals within minutes on any seed, each
one backed by the numbers it fired on, and a restarted engine does not repeat itself."""

from __future__ import annotations

import collections

import pytest

from engine.agents.scanner import COOLDOWN_KINDS, INTRADAY_COOLDOWN_NS, INTRADAY_KINDS
from engine.clock import NS_PER_SECOND, exchange_date
from engine.runner import build_engine, start
from tests.engine.conftest import advance, engine_config, open_engine

MINUTES = 10
"""A trader opening a new desk at the bell expects the signal feed to move by then."""


def check_inputs(signal) -> None:
    """The numbers a signal carries say what its description says."""
    up = signal.direction == "bullish"
    inputs = signal.inputs
    if signal.kind.startswith("rsi"):
        assert inputs["rsi"] <= 30 if up else inputs["rsi"] >= 70
    elif signal.kind.startswith("ma_cross"):
        assert (inputs["sma20"] > inputs["sma50"]) == up
    elif signal.kind.startswith("orb"):
        assert (
            inputs["close"] > inputs["range_high"] if up else inputs["close"] < inputs["range_low"]
        )
    elif signal.kind == "breakout":
        assert (inputs["close"] > inputs["level"]) == up and inputs["volume_ratio"] >= 1.5
    else:
        raise AssertionError(f"unknown kind {signal.kind}")


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 7])
def test_a_new_desk_sees_signals_within_ten_minutes_of_the_open_on_any_seed(tmp_path, seed):
    # The default clock: 15 engine seconds a tick.
    engine = open_engine(engine_config(tmp_path, market={"sim": {"seed": seed}}))
    opened = engine.now()
    while engine.now() - opened < MINUTES * 60 * NS_PER_SECOND:
        advance(engine)

    signals = list(engine.signals.values())
    assert signals, f"seed {seed}: no signal in the first {MINUTES} minutes"
    assert engine.journal.count("signal") >= len(signals)
    for signal in signals:
        assert 0 < signal.confidence <= 1 and signal.direction in ("bullish", "bearish")
        check_inputs(signal)
    # A trickle, not a flood: nothing fires twice, and at most a few per symbol.
    fired = collections.Counter((s.symbol, s.kind, s.direction) for s in signals)
    assert max(fired.values()) == 1
    per_symbol = collections.Counter(s.symbol for s in signals)
    assert max(per_symbol.values()) <= 4, per_symbol
    engine.shutdown()


def test_a_day_of_sim_market_gives_a_steady_trickle_not_an_opening_burst_alone(tmp_path):
    engine = open_engine(engine_config(tmp_path, clock={"speed": 240.0}))  # 1-minute ticks

    advance(engine, 390)

    signals = list(engine.signals.values())
    hours = {int((s.ts - engine.market.start_time()) // (3600 * NS_PER_SECOND)) for s in signals}
    assert 10 <= len(signals) <= 80, len(signals)
    assert len(hours) >= 5, f"signals only in hours {sorted(hours)}"
    assert engine.counters.get("agent_errors", 0) == 0, [a.message for a in engine.alerts]
    views = [v for v in engine.position_views() if v.status == "open"]
    assert views and all(v.recommendation and v.recommendation.reason for v in views)
    engine.shutdown()


def _repeats(signals) -> list[tuple[str, str, str]]:
    """Signals that break the scanner's promise: a daily kind twice in a day, the opening
    range twice the same way in a day, an intraday kind the same way within the cooldown."""
    found = []
    last: dict[tuple[str, str, str], int] = {}
    for s in sorted(signals, key=lambda s: s.ts):
        key = (s.symbol, s.kind, s.direction if s.kind in INTRADAY_KINDS else "")
        before = last.get(key)
        if before is not None:
            if s.kind in COOLDOWN_KINDS:
                if s.ts - before < INTRADAY_COOLDOWN_NS:
                    found.append(key)
            elif exchange_date(before) == exchange_date(s.ts):
                found.append(key)
        last[key] = s.ts
    return found


def reopen(config):
    engine = build_engine(config)
    start(engine)
    return engine


def test_a_restarted_engine_neither_repeats_signals_nor_reuses_their_ids(tmp_path):
    config = engine_config(tmp_path, market={"sim": {"seed": 1}})
    engine = reopen(config)
    advance(engine, 4 * 30)  # half an hour
    before = dict(engine.signals)
    engine.shutdown()

    engine = reopen(config)
    advance(engine, 4 * 30)

    journaled = collections.defaultdict(set)
    for entry in engine.journal.entries():
        if entry.kind == "signal":
            s = entry.record
            journaled[s.signal_id].add((s.symbol, s.kind, s.direction, s.ts))
    assert all(len(v) == 1 for v in journaled.values()), "an id named two different signals"
    assert before and len(engine.signals) > len(before), "the scanner ran on after the restart"
    assert _repeats(engine.signals.values()) == []
    for signal_id, signal in before.items():
        assert engine.signals[signal_id].ts == signal.ts
    engine.shutdown()


def test_a_restarted_engine_numbers_proposals_on_from_the_journal(tmp_path):
    config = engine_config(tmp_path, market={"sim": {"seed": 1}})
    engine = reopen(config)
    advance(engine, 4 * 30)
    before = {p.proposal_id: p.ts for p in engine.proposals.values()}
    engine.shutdown()

    engine = reopen(config)  # the same morning
    advance(engine, 4 * 60)

    assert before and len(engine.proposals) > len(before)
    for proposal_id, ts in before.items():
        assert engine.proposals[proposal_id].ts >= ts  # updated maybe, never replaced
        assert engine.proposals[proposal_id].signal_ids  # the same proposal
    created = collections.defaultdict(set)
    for entry in engine.journal.entries():
        if entry.kind == "proposal":
            created[entry.key].add(entry.record.signal_ids)
    assert all(len(v) == 1 for v in created.values()), "an id named two proposals"
    engine.shutdown()
