"""Keys typed ahead, doubled or held: each goes where it was typed, and acts once.

Over SSH (or from a fast typist in tmux) a burst of keys reaches the app in one batch:
``post_keys`` queues them all before the first is handled, which ``pilot.press`` (it
waits for the app between keys) never does. Checked against the engine and its journal,
on the embedded engine and on a remote desk through a real redis-server.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from textual import events
from textual.widgets import Input

from desk.screens.close import CloseDialog
from desk.trading import REPEAT_WINDOW_S
from tests.desk.conftest import engine_of, step
from tests.desk.test_keys import SIZE, hold_answers, post_keys, toasts, until
from widgets.agent_status import AgentStatusPane
from widgets.positions_grid import PositionsGrid

pytestmark = pytest.mark.parametrize("feed_kind", ["embedded", "remote"], indirect=True)


async def on_the_technical_agent(app, pilot):
    """Attached, the agents pane focused (key 4) and the technical agent selected."""
    await app.attached.wait()
    await pilot.press("4")
    app.query_one(AgentStatusPane).select_key("technical")
    await pilot.pause()
    return engine_of(app)


async def hold_key(app, key: str, *, seconds: float, every: float = 0.03) -> None:
    """Hold ``key`` down the way a terminal repeats it: from a thread of its own (a
    terminal's input thread), each repeat stamped as it arrives, so a busy event loop gets
    them late and in a burst rather than spaced out."""
    loop = asyncio.get_running_loop()

    def repeat() -> None:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            loop.call_soon_threadsafe(app.post_message, events.Key(key, key))
            time.sleep(every)

    await asyncio.to_thread(repeat)


async def test_every_key_typed_after_slash_goes_to_the_filter(app_factory):
    """`/ s p y` in one batch used to sort the grid and pause an agent."""
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await app.attached.wait()
        engine = engine_of(app)
        grid = app.query_one(PositionsGrid)
        app.query_one(AgentStatusPane).select_key("technical")

        post_keys(app, "slash", "s", "p", "y")
        await until(pilot, lambda: app.query_one("#filter", Input).value == "spy")
        await pilot.pause(0.1)

        assert grid.filter_text == "spy"
        assert grid.sort_column is None
        assert app.query_one("#filter", Input).has_focus
        assert engine.journal.count("command") == 0 and engine.paused == set()


async def test_keys_typed_after_enter_act_on_the_filtered_book(app_factory):
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await app.attached.wait()
        nvda = next(p for p in app.state.positions.values() if p.underlying == "NVDA")

        post_keys(app, "slash", *"NVDA", "enter", "c")
        await until(pilot, lambda: isinstance(app.screen, CloseDialog))

        assert app.screen.position.position_id == nvda.position_id
        assert app.query_one(PositionsGrid).filter_text == "NVDA"
        assert app.query_one("#filter", Input).value == "NVDA"  # the c was not typed into it


async def test_keys_typed_after_escape_act_on_the_whole_book_and_before_slash_first(app_factory):
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await app.attached.wait()
        grid = app.query_one(PositionsGrid)
        total = grid.row_count

        post_keys(app, "s", "slash", *"NV", "escape", "s")
        await until(pilot, lambda: grid.sort_column is not None and grid.sort_column != "symbol")
        await pilot.pause(0.1)

        # The first s sorted by symbol before the filter opened; the last sorted again after
        # it closed; NV went to the filter, which Esc cleared.
        assert grid.sort_column == "strategy"
        assert grid.filter_text == "" and grid.row_count == total
        assert grid.has_focus and not app.query_one("#filter", Input).display


async def test_a_doubled_pause_key_sends_one_command_and_says_so(app_factory):
    """A double `p` used to send two commands: pause, then resume."""
    app = app_factory()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        engine = await on_the_technical_agent(app, pilot)

        post_keys(app, "p", "p")
        await until(pilot, lambda: "technical" in engine.paused)
        await step(app, pilot)
        await pilot.pause(0.1)

        assert engine.journal.count("command") == 1
        assert engine.paused == {"technical"}
        assert "repeated key ignored" in toasts(app)


async def test_a_held_pause_key_sends_one_command_until_it_is_let_go(app_factory):
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        engine = await on_the_technical_agent(app, pilot)

        # A held key repeats about every 30 ms for longer than the repeat window.
        await hold_key(app, "p", seconds=REPEAT_WINDOW_S * 2)
        await step(app, pilot)
        await pilot.pause(0.1)
        assert engine.journal.count("command") == 1
        assert engine.paused == {"technical"}

        await pilot.pause(REPEAT_WINDOW_S)  # let go, then a deliberate press resumes
        await pilot.press("p")
        await until(pilot, lambda: engine.paused == set())
        assert engine.journal.count("command") == 2


async def test_a_held_key_through_a_busy_moment_still_sends_one_command(app_factory):
    """Keys that queue while the loop is busy (a long repaint, a slow disk) are handled
    late and together; their gap is the terminal's 30 ms, not the stall's length."""
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        engine = await on_the_technical_agent(app, pilot)

        asyncio.get_running_loop().call_later(0.2, time.sleep, REPEAT_WINDOW_S * 1.6)
        await hold_key(app, "p", seconds=REPEAT_WINDOW_S * 3)
        await step(app, pilot)
        await pilot.pause(0.1)

        assert engine.journal.count("command") == 1
        assert engine.paused == {"technical"}


async def test_two_agents_paused_in_quick_succession_each_get_their_command(app_factory):
    """The guard is per target: a second agent's pause used to be dropped, unsaid, while
    the engine had not yet answered the first."""
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await app.attached.wait()
        engine = engine_of(app)
        pane = app.query_one(AgentStatusPane)
        names = [row.key for row, _ in pane._visible if "/" not in row.key][:2]
        assert len(names) == 2
        await pilot.press("4")
        pane.select_key(names[0])
        await pilot.pause()

        answer = hold_answers(app)  # the first is still unanswered when the second goes
        post_keys(app, "p", "down", "p")  # one press per agent: two intents
        await until(pilot, lambda: engine.paused == set(names))
        answer.set()
        assert engine.journal.count("command") == 2
