"""The app's own ways out and what it says about itself: quitting, captured output, clock.

Every way out (q, Textual's ctrl+q, the palette's Quit) asks while orders are working and
quits at once when none are; output printed while the app runs does not break it; a
remote desk whose clock is off the engine's says so in the header (and, when commands
would be refused for it, in the banner).
"""

from __future__ import annotations

import sys

import pytest

from desk.view_keys import QuitModal
from tests.desk.conftest import step
from tests.desk.test_keys import SIZE, until, working_order

both = pytest.mark.parametrize("feed_kind", ["embedded", "remote"], indirect=True)


async def test_q_with_no_working_orders_quits_at_once(app_factory):
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await app.attached.wait()
        assert not app.state.working_orders()
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running)
        assert not isinstance(app.screen, QuitModal)


@both
@pytest.mark.parametrize("way_out", ["q", "ctrl+q", "palette"])
async def test_every_way_out_asks_while_orders_are_working(app_factory, way_out):
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await app.attached.wait()
        await working_order(app, pilot)

        if way_out == "palette":
            titles = [c.title for c in app.get_system_commands(app.screen)]
            assert titles.count("Quit") == 1  # ours; Textual's own did not ask
            await pilot.press("ctrl+p", *"Quit")
            await pilot.pause(0.3)
            await pilot.press("enter")
        else:
            await pilot.press(way_out)
        await until(pilot, lambda: isinstance(app.screen, QuitModal))
        assert "working" in str(app.screen.query_one(".title").render())
        await pilot.press("n")
        await pilot.pause(0.1)
        assert app.is_running and not isinstance(app.screen, QuitModal)

        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, QuitModal))
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running)


async def test_output_printed_while_the_app_runs_does_not_break_it(app_factory):
    """DeskApp._flush used to override Textual's App._flush(stderr=...): TypeError."""
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await app.attached.wait()
        print("a library talking on stdout", flush=True)
        sys.stdout.flush()
        sys.stderr.write("and on stderr\n")
        sys.stderr.flush()
        await step(app, pilot)
        assert app.is_running


def _header(app) -> str:
    return str(app.query_one("#header").render())


def _banner(app) -> str:
    banner = app.query_one("#banner")
    return str(banner.render()) if banner.display else ""


@pytest.mark.parametrize("feed_kind", ["remote"], indirect=True)
async def test_a_remote_desk_shows_its_clock_skew_from_the_engine_heartbeat(app_factory):
    """FAULTS row 33. The feed measures the skew at each heartbeat it reads; faketime moves
    the desk's clock (tests/remote covers that measurement): here it is the measured value."""
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await app.attached.wait()
        feed = app.feed
        # A true clock reads true: the feed takes the beat's age off its comparison.
        assert feed.clock_skew_s is not None and abs(feed.clock_skew_s) < 0.5
        await pilot.pause(1.2)  # past a staleness check, where the skew is looked at again
        assert "clock" not in _header(app) and "CLOCK" not in _banner(app)

        await step(app, pilot)  # events flowing: the feed reads no heartbeat for 3 s
        feed.clock_skew_s = 90.0  # what faketime -f '+90s' on the desk measures
        await until(pilot, lambda: "clock +90s vs engine" in _header(app), tries=150)
        assert "90s ahead of the engine" in _banner(app) and "CLOCK_SKEW" in _banner(app)
        await pilot.resize_terminal(90, 30)  # the header's short form keeps it too
        await until(pilot, lambda: "clock +90s vs engine" in _header(app), tries=150)
        await pilot.resize_terminal(*SIZE)

        await step(app, pilot)  # events flowing: the feed reads no heartbeat for 3 s
        feed.clock_skew_s = -90.0
        await until(pilot, lambda: "clock -90s vs engine" in _header(app), tries=150)
        assert "90s behind the engine" in _banner(app) and "EXPIRED" in _banner(app)

        await step(app, pilot)  # events flowing: the feed reads no heartbeat for 3 s
        feed.clock_skew_s = 3.2  # off, but within what the engine accepts: the header only
        await until(pilot, lambda: "clock +3s vs engine" in _header(app), tries=150)
        assert "CLOCK" not in _banner(app)

        await step(app, pilot)  # events flowing: the feed reads no heartbeat for 3 s
        feed.clock_skew_s = 0.4  # within what a link's latency can make of a true clock
        await until(pilot, lambda: "clock" not in _header(app), tries=150)
