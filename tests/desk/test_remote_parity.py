"""A remote desk draws the same screen as the embedded desk, cell for cell, bar the header.

One seeded engine, stopped (it ticks only when the test steps it): first a desk attached
through a real redis-server follows it through a few ticks, then a desk embedded on that
same engine attaches to it, at the same size: the one built from events over Redis, the
other from the engine's own snapshot. Every line but the header (which says REMOTE or
EMBEDDED, as it should) must be identical: the same rows in the same order, the same
numbers, the same panes.
"""

from __future__ import annotations

import difflib

import pytest

from desk.app import DeskApp
from desk.feeds.embedded import EmbeddedFeed
from tests.desk.conftest import engine_of, freeze, screen_text, step, wait_attached

pytestmark = pytest.mark.parametrize("feed_kind", ["remote"], indirect=True)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("size", [(200, 60), (120, 40), (80, 24)])
async def test_a_remote_desk_draws_what_the_embedded_desk_draws(app_factory, size):
    remote = freeze(app_factory())
    engine = engine_of(remote)
    async with remote.run_test(size=size) as pilot:
        await wait_attached(remote)
        await step(remote, pilot, 6)
        # The steps measured real cycle times: freeze them again, and let the engine say so
        # (the remote desk knows only what was published).
        freeze(remote)
        engine.publish_agents()
        await step(remote, pilot, 0)
        # The P&L chart redraws at most once a second: wait for the redraw of the steps.
        await pilot.pause(1.2)
        remote_screen = screen_text(remote).splitlines()

    embedded = freeze(
        DeskApp(
            remote.config, EmbeddedFeed(remote.config, running=False, engine=engine), actor="tester"
        )
    )
    async with embedded.run_test(size=size) as pilot:
        await wait_attached(embedded)
        await pilot.pause(1.2)
        embedded_screen = screen_text(embedded).splitlines()

    assert "REMOTE" in remote_screen[0] and "EMBEDDED" in embedded_screen[0]
    diff = "\n".join(difflib.unified_diff(embedded_screen[1:], remote_screen[1:], lineterm=""))
    assert remote_screen[1:] == embedded_screen[1:], diff
