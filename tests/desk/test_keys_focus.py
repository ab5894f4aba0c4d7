"""A trading key acts only on the selection of the pane the trader has focused and can see.

Approve, reject and pause used to read each pane's cursor whatever had focus: with the
book focused, `x` rejected the first proposal and `p` paused an agent, both on panes that
at 120x40 sit behind a tab. Each test checks the engine and its journal, on the embedded
engine and on a remote desk through a real redis-server.
"""

from __future__ import annotations

import re

import pytest
from textual.widgets import Static, Tabs

from desk.screens.confirm import ConfirmModal
from desk.trading import REPEAT_WINDOW_S
from engine.records import Option
from tests.desk.conftest import engine_of, step
from tests.desk.test_keys import BUSY, SIZE, toasts, until
from widgets.agent_status import AgentStatusPane
from widgets.positions_grid import PositionsGrid
from widgets.proposals import ProposalsPane

pytestmark = pytest.mark.parametrize("feed_kind", ["embedded", "remote"], indirect=True)


async def _pending(app, pilot):
    engine = engine_of(app)
    for _ in range(60):
        if any(p.status == "pending" for p in app.state.proposals.values()):
            break
        await step(app, pilot)
    pending = [p for p in app.state.proposals.values() if p.status == "pending"]
    assert pending, "the seeded market proposed nothing"
    return engine, pending


def _enabled(app, key: str) -> bool:
    return app.screen.active_bindings[key].enabled


async def test_keys_for_unfocused_panes_are_dimmed_send_nothing_and_say_what_to_do(app_factory):
    app = app_factory(**BUSY)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await app.attached.wait()
        engine, pending = await _pending(app, pilot)
        assert app.query_one(PositionsGrid).has_focus
        for key in ("a", "x", "p"):
            assert not _enabled(app, key), f"{key} should be dimmed with the book focused"
        assert _enabled(app, "c")

        await pilot.press("x")
        await until(pilot, lambda: "select a proposal first: press 2 for Proposals" in toasts(app))
        await pilot.press("p")
        await until(pilot, lambda: "select an agent first: press 4 for Agents" in toasts(app))
        await pilot.press("a")
        await pilot.pause(0.1)

        assert not isinstance(app.screen, ConfirmModal)
        assert engine.journal.count("command") == 0
        assert all(engine.proposals[p.proposal_id].status == "pending" for p in pending)
        assert engine.paused == set()


async def test_the_focused_pane_enables_its_keys_and_only_its_own(app_factory):
    app = app_factory(**BUSY)
    async with app.run_test(size=SIZE) as pilot:
        await app.attached.wait()
        engine, _ = await _pending(app, pilot)
        await pilot.press("2")
        await until(pilot, lambda: _enabled(app, "x"))
        assert _enabled(app, "a") and not _enabled(app, "p") and not _enabled(app, "c")
        await pilot.press("c")  # the book's key, pressed in the Proposals pane
        await pilot.pause(0.1)
        assert engine.journal.count("command") == 0 and app.screen is app.screen_stack[0]

        await pilot.press("4")
        await until(pilot, lambda: _enabled(app, "p"))
        assert not _enabled(app, "x")
        await pilot.press("x")
        await pilot.pause(0.1)
        assert engine.journal.count("command") == 0


async def test_a_proposal_behind_a_tab_is_not_a_selection(app_factory):
    """At 120x40 the Proposals pane shares a tab with Agents and Signals."""
    app = app_factory(**BUSY)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.attached.wait()
        engine, _ = await _pending(app, pilot)
        pane = app.query_one(ProposalsPane)
        await pilot.press("2")  # brings its tab forward and focuses it
        await until(pilot, lambda: pane.has_focus and pane.display)
        assert app.query_one("#left").display
        proposal = app.selected_proposal()
        assert proposal is not None

        app.query_one(Tabs).active = "tab-middle"  # the trader clicks back to the Book
        await until(pilot, lambda: not app.query_one("#left").display)
        assert app.selected_proposal() is None
        await pilot.press("x")
        await pilot.pause(0.2)

        assert engine.journal.count("command") == 0
        assert engine.proposals[proposal.proposal_id].status == "pending"


async def test_approve_previews_legs_limit_max_loss_and_greeks_and_no_sends_nothing(app_factory):
    app = app_factory(**BUSY)
    async with app.run_test(size=SIZE) as pilot:
        await app.attached.wait()
        engine, _ = await _pending(app, pilot)
        await pilot.press("2")
        await until(pilot, lambda: app.selected_proposal() is not None)
        proposal = app.selected_proposal()

        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        body = "\n".join(str(s.render()) for s in app.screen.query(Static))
        for leg in proposal.legs:
            assert isinstance(leg.instrument, Option)
            side = "buy" if leg.ratio > 0 else "sell"
            units = abs(leg.ratio) * proposal.quantity
            assert re.search(rf"{side}\s+{units}\s+{re.escape(leg.instrument.describe())}", body)
        assert f"limit {abs(proposal.limit):.2f}" in body
        # The engine's preview: the order's Greeks and the book's before → after.
        assert "max loss" in body and "Order Δ" in body and "Book  Δ" in body, body
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmModal))

        assert engine.journal.count("command") == 0
        assert engine.proposals[proposal.proposal_id].status == "pending"


async def test_pause_acts_on_the_agent_selected_in_the_focused_agents_pane(app_factory):
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await app.attached.wait()
        engine = engine_of(app)
        pane = app.query_one(AgentStatusPane)
        pane.select_key("technical")  # the Agents cursor is on it, but the book has focus
        await pilot.press("p")
        await pilot.pause(0.1)
        assert engine.paused == set()

        await pilot.press("4")
        await pilot.press("p")
        await until(pilot, lambda: engine.paused == {"technical"})
        assert engine.journal.count("command") == 1


async def test_a_proposal_no_longer_pending_is_not_rejected_again_and_says_why(app_factory):
    app = app_factory(**BUSY)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await app.attached.wait()
        engine, _ = await _pending(app, pilot)
        await pilot.press("2")
        proposal = app.selected_proposal()
        await pilot.press("x")
        await until(pilot, lambda: engine.proposals[proposal.proposal_id].status == "rejected")
        await until(pilot, lambda: app.state.proposals[proposal.proposal_id].status == "rejected")
        assert app.query_one(ProposalsPane).selected_key == proposal.proposal_id
        await pilot.pause(REPEAT_WINDOW_S)

        await pilot.press("x")
        expected = f"proposal {proposal.proposal_id} is rejected: only a pending proposal"
        await until(pilot, lambda: expected in toasts(app))
        assert not _enabled(app, "x") and not _enabled(app, "a")
        assert engine.journal.count("command") == 1
