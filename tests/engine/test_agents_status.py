"""Agent status as the desk shows it: state, last and next run, cycle time, errors; and
the status published as soon as it changes, never a tick counter late."""

from __future__ import annotations

from engine.agents.base import Agent
from engine.clock import NS_PER_SECOND
from engine.records import AgentsUpdated
from tests.engine.conftest import advance, engine_config, open_engine


class Flaky(Agent):
    """An agent with a bug that can be switched on and off."""

    kind = "analyst"

    def __init__(self, interval_s: float = 45.0) -> None:
        super().__init__("flaky", interval_s)
        self.broken = False
        self.cycles = 0

    def cycle(self, engine) -> bool:
        self.cycles += 1
        if self.broken:
            raise RuntimeError("boom")
        return True


def status(engine, name: str):
    return {a.name: a for a in engine.agent_statuses()}[name]


def test_a_scanner_in_session_is_active_with_its_last_run_next_run_and_cycle_time(engine):
    scanner = status(engine, "technical")

    assert scanner.state == "ACTIVE"
    assert scanner.last_run == engine.market.start_time()  # it ran on the opening tick
    assert scanner.next_run == scanner.last_run + 300 * NS_PER_SECOND
    assert scanner.last_cycle_ms is not None and 0 < scanner.last_cycle_ms < 5_000
    assert scanner.errors == 0 and scanner.last_error == ""


def test_an_agent_with_nothing_to_work_on_or_switched_off_is_idle(tmp_path):
    engine = open_engine(
        engine_config(tmp_path, demo={"enabled": False}, agents={"scanner": {"enabled": False}})
    )
    advance(engine, 5)

    scanner = status(engine, "technical")
    manager = status(engine, "position-manager")

    assert (scanner.state, scanner.last_run, scanner.next_run) == ("IDLE", None, None)
    assert manager.state == "IDLE", "no positions to manage"
    assert manager.last_run is not None, "an idle agent still runs on its schedule"
    engine.shutdown()


def test_a_paused_agent_does_not_run_and_shows_no_next_run_until_resumed(engine):
    before = status(engine, "technical")

    engine.set_paused("technical", True, actor="test")
    advance(engine, 25)  # past its next run
    paused = status(engine, "technical")
    engine.set_paused("technical", False, actor="test")
    advance(engine, 1)
    resumed = status(engine, "technical")

    assert (paused.state, paused.next_run) == ("PAUSED", None)
    assert paused.last_run == before.last_run
    assert resumed.state == "ACTIVE" and resumed.last_run == engine.now()


def test_an_agent_that_raises_is_error_with_the_error_counted_and_the_engine_runs_on(engine):
    flaky = Flaky()
    engine.agents.append(flaky)
    advance(engine, 1)
    flaky.broken = True
    ticks = engine.ticks

    advance(engine, 3)  # 45 s: it runs, and fails, once
    failed = status(engine, "flaky")
    scanner_before = status(engine, "technical").last_run
    advance(engine, 20)  # five minutes: it keeps failing, everyone else keeps running
    still = status(engine, "flaky")
    flaky.broken = False
    advance(engine, 3)
    recovered = status(engine, "flaky")

    assert failed.state == "ERROR" and failed.errors == 1
    assert failed.last_error == "RuntimeError: boom"
    assert failed.last_run == engine.market.start_time() + 60 * NS_PER_SECOND
    assert any(a.code == "AGENT_ERROR" and a.source == "flaky" for a in engine.alerts)
    assert still.state == "ERROR" and still.errors == flaky.cycles - 2
    assert engine.counters["agent_errors"] == still.errors
    assert engine.ticks == ticks + 26, "the engine ticked through every failure"
    assert status(engine, "technical").last_run > scanner_before
    assert recovered.state == "ACTIVE" and recovered.errors == still.errors
    assert recovered.last_error == "RuntimeError: boom", "the last error stays readable"


def test_agent_status_is_published_on_the_tick_an_agent_runs_and_only_then(engine):
    flaky = Flaky(interval_s=45.0)  # every third tick, off the others' 60 s beat
    engine.agents.append(flaky)
    events = []
    engine.bus.listeners.append(events.append)
    runs = []

    for _ in range(24):
        before = {a.name: a.last_run for a in engine.agents}
        start = len(events)
        advance(engine, 1)
        ran = {a.name for a in engine.agents if a.last_run != before[a.name]}
        published = [e for e in events[start:] if isinstance(e, AgentsUpdated)]
        runs.append(bool(ran))
        if ran:
            assert len(published) == 1, "one event per tick, whoever ran"
            shown = {a.name: a for a in published[0].agents}
            for name in ran:
                assert shown[name].last_run == engine.now(), name
                assert shown[name].next_run > engine.now()
        else:
            assert published == [], "nothing changed, nothing published"

    assert 0 < sum(runs) < len(runs)  # some ticks ran agents and some did not
