"""Moving around the desk by keys: zoom, tab order, 1–9, Enter, help and the footer.

These keys send no command, so they run on the embedded engine only; the keys come from
the one action registry, so a [ui.keys] remap moves them everywhere at once.
"""

from __future__ import annotations

import re

from textual.widgets import Footer, Tabs

from desk.actions import ACTIONS
from desk.app import PANES
from desk.screens.close import CloseDialog
from desk.screens.confirm import ConfirmModal
from desk.screens.help import HelpScreen
from tests.desk.conftest import screen_text
from tests.desk.test_keys import SIZE, until
from widgets.positions_grid import PositionsGrid
from widgets.signal_feed import SignalFeed

# Left to right, top to bottom: the Agents column, the Book, then the Risk column.
TAB_ORDER = ["agents", "signals", "proposals", "positions", "fills", "greeks", "risk", "pnl",
             "regime"]  # fmt: skip


async def test_z_zooms_the_focused_pane_and_z_again_restores_it(app_factory):
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await app.attached.wait()
        greeks = app.query_one("#greeks")
        await pilot.press("6")
        assert greeks.has_focus

        await pilot.press("z")
        assert app.screen.maximized is greeks
        assert not app.query_one(PositionsGrid).is_on_screen
        await pilot.press("z")
        assert app.screen.maximized is None
        await pilot.pause()
        assert app.query_one(PositionsGrid).is_on_screen and greeks.has_focus

        await pilot.press("z", "1")  # a jump while zoomed shows the pane it names
        assert app.screen.maximized is None and app.query_one(PositionsGrid).has_focus


async def test_tab_and_shift_tab_walk_the_panes_in_reading_order(app_factory):
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await app.attached.wait()
        start = TAB_ORDER.index("positions")
        forward = []
        for _ in TAB_ORDER:
            await pilot.press("tab")
            forward.append(app.focused.id)
        backward = []
        for _ in TAB_ORDER:
            await pilot.press("shift+tab")
            backward.append(app.focused.id)

        n = len(TAB_ORDER)
        assert forward == [TAB_ORDER[(start + i) % n] for i in range(1, n + 1)]
        assert backward == [TAB_ORDER[(start - i) % n] for i in range(1, n + 1)]


async def test_number_keys_focus_each_pane_and_bring_its_tab_forward(app_factory):
    for size in (SIZE, (80, 24)):
        app = app_factory()
        async with app.run_test(size=size) as pilot:
            await app.attached.wait()
            for number, pane_id, _, column in PANES:
                await pilot.press(str(number))
                pane = app.query_one(f"#{pane_id}")
                assert pane.has_focus, (size, number)
                assert app.query_one(f"#{column}").display, (size, number)
                if app.compact and app.layout_mode == "compact":
                    assert app.query_one(Tabs).active == f"tab-{column}"


async def test_enter_expands_a_positions_legs_and_folds_them_again(app_factory):
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await app.attached.wait()
        grid = app.query_one(PositionsGrid)
        position = app.selected_position()
        rows = grid.row_count

        await pilot.press("enter")
        assert position.position_id in grid.expanded
        assert grid.row_count >= rows + len(position.legs)  # a row per leg, at least
        await pilot.press("enter")
        assert grid.row_count == rows and not grid.expanded


async def test_enter_expands_a_signals_reasons(app_factory):
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await app.attached.wait()
        feed = app.query_one(SignalFeed)
        await pilot.press("3")
        await until(pilot, lambda: feed.row_count > 0)
        row = feed.row_at_cursor()
        assert row.children, "a signal carries the inputs and votes behind it"
        rows = feed.row_count

        await pilot.press("enter")
        assert row.key in feed.expanded
        assert feed.row_count == rows + len(row.children)
        await pilot.press("enter")
        assert feed.row_count == rows


async def test_help_lists_each_group_once_and_wraps_under_its_own_column(app_factory):
    app = app_factory()
    async with app.run_test(size=(80, 40)) as pilot:
        await app.attached.wait()
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause()
        lines = screen_text(app).splitlines()

        for group in dict.fromkeys(a.group for a in ACTIONS if a.group != "App"):
            assert sum(1 for line in lines if re.findall(r"\w+", line) == [group]) == 1, group
        first = next(i for i, line in enumerate(lines) if "Close the selected position" in line)
        column = lines[first].index("Close the selected position")
        wrapped = lines[first + 1]
        assert wrapped[:column].strip(" │█") == "" and wrapped[column] != " ", (
            "a long description must continue under itself"
        )


async def test_focus_keys_come_from_the_registry_and_can_be_remapped(app_factory):
    app = app_factory(**{"ui.keys": {"focus-next": "ctrl+n", "expand": "e"}})
    async with app.run_test(size=SIZE) as pilot:
        await app.attached.wait()
        assert app.focused.id == "positions"
        await pilot.press("tab")
        assert app.focused.id == "positions"  # tab no longer moves focus
        await pilot.press("ctrl+n")
        assert app.focused.id == "fills"
        await pilot.press("shift+tab")
        assert app.focused.id == "positions"
        await pilot.press("e")
        grid = app.query_one(PositionsGrid)
        assert app.selected_position().position_id in grid.expanded
        await pilot.press("enter")  # moved, not added: enter no longer folds the legs
        assert app.selected_position().position_id in grid.expanded

        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = screen_text(app)
        assert "ctrl+n" in text and "shift+tab" in text


async def test_an_open_dialog_shows_its_own_keys_in_the_footer(app_factory):
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await app.attached.wait()
        await until(pilot, lambda: "Approve" in footer(app))
        assert "Close" in footer(app)

        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CloseDialog))
        assert app.screen.query_one(Footer)
        await until(pilot, lambda: "Cancel" in footer(app))
        assert "esc" in footer(app)
        assert "Approve" not in footer(app) and "Kill" not in footer(app)
        await pilot.press("escape")

        await pilot.press("K")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await until(pilot, lambda: "Yes" in footer(app))
        assert "No" in footer(app) and "Kill" not in footer(app)


def footer(app) -> str:
    return screen_text(app).splitlines()[-1]
