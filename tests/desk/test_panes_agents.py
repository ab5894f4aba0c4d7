"""The Agents pane: every agent's state in a mark and a word, its last run, the countdown
to its next, its cycle time and its signals, on the engine's clock, at any width.

Driven by Pilot on the real embedded engine, stepped tick by tick, checked against the
engine's own agents.
"""

from __future__ import annotations

import pytest

from tests.desk.conftest import engine_of, screen_text, step, wait_attached
from widgets import _format as fmt
from widgets.agent_status import AgentStatusPane

STATE_WORDS = ("● ACTIVE", "○ IDLE", "‖ PAUSED", "✖ ERROR")


def pane_lines(app) -> list[str]:
    region = app.query_one(AgentStatusPane).content_region
    rows = screen_text(app).splitlines()[region.y : region.y + region.height]
    return [row[region.x : region.x + region.width] for row in rows]


def row_of(app, name: str, *, whole: bool = True) -> str:
    """The agent's row; ``whole=False`` finds it by the start of its (cut) name."""
    needle = f" {name} " if whole else f" {name[:10]}"
    return next(line for line in pane_lines(app) if needle in line)


async def test_a_wide_terminal_shows_every_agent_column(app_factory):
    app = app_factory()
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_attached(app)
        await step(app, pilot)
        header = pane_lines(app)[0].split()
        for label in ("State", "Agent", "Last", "Next", "Cycle", "Sigs", "Errs"):
            assert label in header, header
        for agent in engine_of(app).agents:
            row = row_of(app, agent.name)  # the whole name, not cut
            assert any(word in row for word in STATE_WORDS), row
            assert fmt.clock(agent.last_run) in row, row
            assert row.split()[-2] == str(agent.signals_emitted), row


@pytest.mark.parametrize("size", [(160, 48), (80, 24)])
async def test_a_narrower_pane_drops_columns_but_never_the_state_word_or_countdown(
    app_factory, size
):
    app = app_factory()
    async with app.run_test(size=size) as pilot:
        await wait_attached(app)
        await pilot.press("4")
        await step(app, pilot)
        header = pane_lines(app)[0].split()
        assert header[:2] == ["State", "Agent"] and "Next" in header, header
        # What goes first is what matters least: the kind, errors, then cycle time.
        assert "Last" in header and "Sigs" in header, header
        for agent in engine_of(app).agents:
            row = row_of(app, agent.name, whole=False)
            assert any(word in row for word in STATE_WORDS), row
            assert "…" not in row.split()[1], row  # the state word is whole


async def test_countdowns_and_last_runs_follow_the_engine_clock_between_publications(
    app_factory,
):
    app = app_factory()
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_attached(app)
        engine = engine_of(app)
        # Agents run every 60 engine seconds (every 4th tick) and their status is
        # published every 4th tick, out of step: most ticks the published one is old.
        for _ in range(9):
            await step(app, pilot)
            now = engine.now()
            for agent in engine.agents:
                if agent.next_run is None:
                    continue
                left = (agent.next_run - now) / 1e9
                countdown = "due" if left < 1 else fmt.duration(left)
                row = row_of(app, agent.name)
                assert f" {fmt.clock(agent.last_run)} " in row, (fmt.clock(now), row)
                assert f" {countdown} " in row, (fmt.clock(now), countdown, row)


async def test_a_paused_agent_reads_paused_in_words(app_factory):
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_attached(app)
        engine = engine_of(app)
        await pilot.press("4")
        app.query_one(AgentStatusPane).select_key("technical")
        await pilot.pause()
        await pilot.press("p")
        for _ in range(100):
            if "technical" in engine.paused:
                break
            await pilot.pause(0.02)
        await step(app, pilot, 4)  # until the engine publishes the agents again
        row = row_of(app, "technical")
        assert "‖ PAUSED" in row and " paused " in row, row
