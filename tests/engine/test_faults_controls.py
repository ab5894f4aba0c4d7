"""Controls under fault (FAULTS.md rows 25-26): the kill switch and a paused agent hold.

* 25: pulling the kill switch cancels every working order; opening and rolling are
  refused KILL_SWITCH_ON while closing and cancelling are allowed; nothing is flattened
  unless asked; and the switch is still on after the engine is SIGKILLed and restarted.
* 26: an agent that keeps emitting signals while paused gets them journaled, and nothing
  more: no proposal is made from them and no order is sent. A paused analyst turns no
  signal into a proposal. Pauses, like the kill switch, survive a restart.
"""

from __future__ import annotations

import signal

import msgspec

from engine.engine import Engine
from engine.previews import roll_candidates
from engine.records import (
    ApproveProposal,
    CancelOrder,
    Leg,
    PauseAgent,
    Proposal,
    ResumeAgent,
    SetKillSwitch,
    Signal,
)
from engine.runner import build_engine, start
from tests.engine.conftest import advance, close, command_id, roll, until
from tests.engine.crash_driver import driver_config, run_script


def kill_switch(on: bool) -> SetKillSwitch:
    return SetKillSwitch(command_id=command_id(), actor="test", issued_at=0, on=on)


def pending_proposal(engine: Engine) -> Proposal:
    """A proposal as the analyst would record it: sell SPY-1's short put again, once."""
    short = next(leg for leg in engine.book.positions["SPY-1"].open_legs if leg.quantity < 0)
    proposal = Proposal(
        proposal_id="PR-TEST-0001",
        ts=engine.now(),
        signal_ids=(),
        symbol="SPY",
        strategy="short put",
        legs=(Leg(instrument=short.instrument, ratio=-1),),
        quantity=1,
        limit=None,
        max_profit=None,
        max_loss=None,
        probability_of_profit=None,
        expected_value=None,
        rationale="test",
    )
    engine.record_proposal(proposal)
    return proposal


def reopen(journal):
    engine = build_engine(driver_config(journal))
    start(engine)
    return engine


# --- 25: the kill switch ----------------------------------------------------------------------


def test_kill_switch_cancels_working_orders_refuses_new_risk_allows_closing(engine):
    # Arrange: a patient close and a patient roll working at the broker, a pending proposal.
    patient_close = engine.execute(close("NVDA-5", limit=0.01))
    command = roll(engine, "QQQ-2")
    strikes = tuple(leg.instrument.strike for leg in engine.book.positions["QQQ-2"].open_legs)
    [candidate] = [
        c
        for c in roll_candidates(engine, "QQQ-2")
        if (c.to_expiry, c.strikes) == (command.to_expiry, strikes)
    ]
    # Asking three dollars more credit than the mid: it works and never fills.
    patient_roll = engine.execute(
        msgspec.structs.replace(command, limit=round(candidate.net_price - 3.0, 2))
    )
    proposal = pending_proposal(engine)
    advance(engine, 2)
    assert {engine.orders[r.order_id].state for r in (patient_close, patient_roll)} == {"working"}
    open_before = {p.position_id for p in engine.book.open_positions()}

    # Act
    on = engine.execute(kill_switch(True))
    advance(engine)
    opening = engine.execute(
        ApproveProposal(
            command_id=command_id(), actor="t", issued_at=0, proposal_id=proposal.proposal_id
        )
    )
    rolling = engine.execute(roll(engine, "IWM-3"))
    closing = engine.execute(close("AAPL-4"))
    cancelling = engine.execute(
        CancelOrder(command_id=command_id(), actor="t", issued_at=0, order_id=closing.order_id)
    )
    advance(engine)

    # Assert
    assert on.accepted and "2 working order(s) cancelled" in on.message
    for placed in (patient_close, patient_roll):
        assert engine.orders[placed.order_id].state == "cancelled"
        assert engine.broker.ledger.order(placed.order_id)[1].state == "cancelled"
    assert (opening.accepted, opening.code) == (False, "KILL_SWITCH_ON")
    assert (rolling.accepted, rolling.code) == (False, "KILL_SWITCH_ON")
    assert engine.proposals[proposal.proposal_id].status == "pending"
    assert closing.accepted, closing.message
    assert cancelling.accepted and engine.orders[closing.order_id].state == "cancelled"
    assert {p.position_id for p in engine.book.open_positions()} == open_before, "not flattened"
    assert engine.snapshot().risk.kill_switch and engine.status().kill_switch


def test_kill_switch_is_still_on_after_a_sigkill_and_a_restart(tmp_path):
    # Arrange: a driver that has a close working, pulls the switch, and dies at its next
    # command (the kill switch is the 2nd command journaled, the close of AAPL-4 the 3rd).
    journal = tmp_path / "journal.db"
    reopen(journal).shutdown()
    steps = [
        {"op": "close", "position": "NVDA-5", "limit": 0.01},
        {"op": "ticks", "n": 2},
        {"op": "kill", "on": True},
        {"op": "ticks", "n": 2},
        {"op": "close", "position": "AAPL-4"},
    ]

    # Act
    code, acks, errors = run_script(journal, steps, crash_at="after_command_journal:3")
    engine = reopen(journal)

    # Assert
    assert code == -signal.SIGKILL, errors
    patient, switch = acks
    assert switch.accepted and engine.kill_switch
    assert engine.status().kill_switch
    assert engine.orders[patient.order_id].state == "cancelled", "not resent by recovery"
    refused = engine.execute(roll(engine, "IWM-3"))
    assert (refused.accepted, refused.code) == (False, "KILL_SWITCH_ON")
    # The close the crash cut short was answered on restart; closes still go through.
    cut_short = next(
        o for o in engine.orders.values() if o.position_id == "AAPL-4" and o.intent == "close"
    )
    until(engine, lambda: engine.orders[cut_short.order_id].state == "filled")
    assert engine.book.positions["SPY-7"].closed_at is None
    assert engine.execute(close("SPY-7")).accepted
    engine.shutdown()


# --- 26: a paused agent that keeps emitting --------------------------------------------------


def strong_signal(engine: Engine, n: int, agent: str = "technical") -> Signal:
    return Signal(
        signal_id=f"SIG-PAUSED-{n:03d}",
        ts=engine.now(),
        agent=agent,
        symbol="SPY",
        kind="breakout",
        direction="bullish",
        confidence=0.95,
        description="a breakout the analyst would act on at once",
    )


def test_a_paused_scanner_that_keeps_emitting_gets_signals_journaled_and_nothing_more(engine):
    # Arrange
    scanner = next(a for a in engine.agents if a.name == "technical")
    paused = engine.execute(
        PauseAgent(command_id=command_id(), actor="t", issued_at=0, agent="technical")
    )
    signals_before = engine.journal.count("signal")
    proposals_before = engine.journal.count("proposal")
    orders_before = len(engine.orders)
    last_run = scanner.last_run

    # Act: the scanner's own loop keeps emitting while the analyst runs several cycles.
    for n in range(5):
        scanner.emit(engine, strong_signal(engine, n))
        advance(engine, 8)

    # Assert
    assert paused.accepted
    ids = {f"SIG-PAUSED-{n:03d}" for n in range(5)}
    journaled = {e.key for e in engine.journal.entries() if e.kind == "signal"}
    assert ids <= journaled and engine.journal.count("signal") == signals_before + 5
    assert all(engine.signals[i].status == "phantom" for i in ids), "tracked, never acted on"
    assert not any(set(p.signal_ids) & ids for p in engine.proposals.values())
    assert engine.journal.count("proposal") == proposals_before
    assert len(engine.orders) == orders_before
    assert scanner.last_run == last_run, "the engine itself never runs a paused agent"
    assert {a.name: a.state for a in engine.agent_statuses()}["technical"] == "PAUSED"
    assert engine.counters["signals_while_paused"] == 5


def test_signals_from_a_pause_are_not_proposed_after_the_agent_resumes(engine):
    scanner = next(a for a in engine.agents if a.name == "technical")
    engine.execute(PauseAgent(command_id=command_id(), actor="t", issued_at=0, agent="technical"))
    scanner.emit(engine, strong_signal(engine, 7))

    engine.execute(ResumeAgent(command_id=command_id(), actor="t", issued_at=0, agent="technical"))
    advance(engine, 20)

    assert engine.signals["SIG-PAUSED-007"].status == "phantom"
    assert not any("SIG-PAUSED-007" in p.signal_ids for p in engine.proposals.values())


def test_a_paused_analyst_turns_no_signal_into_a_proposal_until_resumed(engine):
    scanner = next(a for a in engine.agents if a.name == "technical")
    engine.execute(PauseAgent(command_id=command_id(), actor="t", issued_at=0, agent="strategist"))

    scanner.emit(engine, strong_signal(engine, 1))
    advance(engine, 20)
    while_paused = engine.signals["SIG-PAUSED-001"].status
    engine.execute(ResumeAgent(command_id=command_id(), actor="t", issued_at=0, agent="strategist"))
    until(engine, lambda: engine.signals["SIG-PAUSED-001"].status == "proposed")

    assert while_paused == "new"
    assert any("SIG-PAUSED-001" in p.signal_ids for p in engine.proposals.values())


def test_signals_journaled_while_paused_and_the_pause_survive_a_restart(tmp_path):
    journal = tmp_path / "journal.db"
    engine = reopen(journal)
    engine.execute(PauseAgent(command_id=command_id(), actor="t", issued_at=0, agent="technical"))
    scanner = next(a for a in engine.agents if a.name == "technical")
    for n in range(3):
        scanner.emit(engine, strong_signal(engine, n))
    engine.shutdown()

    engine = reopen(journal)

    assert "technical" in engine.paused
    assert {f"SIG-PAUSED-{n:03d}" for n in range(3)} <= set(engine.signals)
    engine.shutdown()
