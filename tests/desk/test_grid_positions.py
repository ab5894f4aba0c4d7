"""The positions grid as a trader reads it: which column sorts and which way, P&L $ and %
on one basis after a real roll, and the recommendation's action word never cut.

Each test drives the real app (Pilot) on a stopped, seeded engine and reads the text on
screen, checked against the engine's own records.
"""

from __future__ import annotations

import re

import pytest

from desk.app import DeskApp
from desk.feeds.redis import RedisFeed
from desk.screens.close import CloseDialog
from desk.screens.roll import RollDialog
from tests.desk.conftest import desk_config, screen_text, step
from tests.redis_server import RedisServer
from widgets import _format as fmt
from widgets.positions_grid import COLUMNS, PositionsGrid

SIZES = [(80, 24), (120, 40), (200, 60)]
WIDE = (160, 48)


def size_id(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


async def until(pilot, condition, tries: int = 200) -> None:
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.02)
    assert condition(), "the app never got there"


def grid_lines(app) -> list[str]:
    """The grid's box as the terminal shows it: top border, header, rows, bottom border."""
    region = app.query_one(PositionsGrid).region
    lines = screen_text(app).splitlines()
    return [line[region.x : region.right] for line in lines[region.y : region.bottom]]


def row_line(app, key: str) -> str:
    grid = app.query_one(PositionsGrid)
    return grid_lines(app)[2 + grid._line_of[key] - int(grid.scroll_offset.y)]


def shown_order(app) -> list[str]:
    grid = app.query_one(PositionsGrid)
    return [grid._visible[i][0].key for i in range(grid.row_count)]


@pytest.mark.parametrize("size", SIZES, ids=size_id)
async def test_the_sort_column_and_its_direction_show_for_every_column(app_factory, size):
    app = app_factory()
    async with app.run_test(size=size) as pilot:
        await app.attached.wait()
        await pilot.pause()
        grid = app.query_one(PositionsGrid)
        unsorted = grid_lines(app)[1]
        hidden = []
        for column in COLUMNS:
            names = [name for name in (column.label, column.short) if name]
            shown = any(name in unsorted for name in names)
            for reverse, arrow in ((False, "▲"), (True, "▼")):
                grid.sort_by(column.key, reverse)
                await pilot.pause()
                lines = grid_lines(app)
                header, border = lines[1], lines[-1]

                assert f"sorted by {column.label} {arrow}" in border
                if shown:
                    assert any(f"{name}{arrow}" in header for name in names), header
                    assert header.count(arrow) == 1
                else:
                    assert "▲" not in header and "▼" not in header
                    assert "column hidden" in border
                    hidden.append(column.key)
        if size == (80, 24):
            assert "gamma" in hidden  # a hidden sort column still says so


async def test_reverse_sort_turns_the_order_round_and_keeps_the_selection(app_factory):
    app = app_factory()
    async with app.run_test(size=WIDE) as pilot:
        await app.attached.wait()
        grid = app.query_one(PositionsGrid)
        await pilot.press(*"sssss")  # Symbol, Strategy, Qty, DTE, then P&L $
        await pilot.pause()
        assert grid.sort_column == "pnl"
        best_first = shown_order(app)
        pnl = {key: app.state.positions[key].unrealized_pnl for key in best_first}
        assert [pnl[k] for k in best_first] == sorted(pnl.values(), reverse=True)
        grid.select_key(best_first[1])
        await pilot.pause()

        described = grid.reverse_sort()
        await pilot.pause()

        assert shown_order(app) == best_first[::-1]  # worst first
        assert described == "sorted by P&L $ ▲"
        assert "P&L $▲" in grid_lines(app)[1]
        assert grid.row_at_cursor().key == best_first[1]
        grid.reverse_sort()
        await pilot.pause()
        assert shown_order(app) == best_first


async def test_after_a_roll_pnl_dollars_and_percent_are_on_one_basis(app_factory):
    app = app_factory()
    async with app.run_test(size=WIDE) as pilot:
        await app.attached.wait()
        grid = app.query_one(PositionsGrid)
        before = next(p for p in app.state.positions.values() if p.underlying == "QQQ")
        key = before.position_id
        grid.select_key(key)
        await pilot.pause()
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RollDialog) and app.screen.candidates)
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, RollDialog))
        for _ in range(40):
            if (app.state.positions[key].expiry or before.expiry) > before.expiry:
                break
            await step(app, pilot)
        view = app.state.positions[key]
        assert view.expiry > before.expiry and view.realized_pnl != 0  # rolled, with a result

        dollars, percent = fmt.money(view.unrealized_pnl, sign=True), fmt.pct(view.pnl_pct)
        line = row_line(app, key)
        assert re.search(rf" {re.escape(dollars)} +{re.escape(percent)} ", line), line
        # The % shown is the $ shown over the position's cost basis, whatever the roll
        # realized: the two columns cannot disagree in sign or size.
        shown = float(dollars.replace(",", "")) / abs(view.cost_basis) * 100
        assert abs(shown - float(percent.rstrip("%"))) <= 0.05 + 50 / abs(view.cost_basis)

        grid.focus()
        grid.select_key(key)
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        realized = [line for line in grid_lines(app) if "realized" in line]
        assert realized, "\n".join(grid_lines(app))
        assert fmt.money(view.realized_pnl, sign=True) in realized[0]


@pytest.mark.parametrize("size", SIZES, ids=size_id)
async def test_the_recommendation_word_is_never_cut(app_factory, size):
    app = app_factory()
    async with app.run_test(size=size) as pilot:
        await app.attached.wait()
        grid = app.query_one(PositionsGrid)
        # Words the trader must see go before the reason: an order working, stale marks.
        closing = shown_order(app)[0]
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CloseDialog))
        await until(pilot, lambda: not app.screen.query_one("#confirm").disabled)
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, CloseDialog))
        await step(app, pilot)
        assert app.state.positions[closing].status == "closing"
        grid.show(app.state.positions.values(), stale=True)  # as the desk does on a quiet feed
        await pilot.pause()

        for key in shown_order(app):
            view = app.state.positions[key]
            line = row_line(app, key)
            assert re.search(rf"\b{view.recommendation.action}\b(?!…)", line), line
            assert "STALE" in line
        grid.select_key(closing)
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        note = grid_lines(app)[2 + grid._line_of[closing] + 1]
        assert "CLOSING…" in note and app.state.positions[closing].recommendation.reason in note


async def test_enter_shows_the_full_reason_under_the_position(app_factory):
    app = app_factory()
    async with app.run_test(size=SIZES[0]) as pilot:
        await app.attached.wait()
        grid = app.query_one(PositionsGrid)
        key = max(app.state.positions.values(), key=lambda p: len(p.recommendation.reason))
        reason = key.recommendation.reason
        grid.select_key(key.position_id)
        await pilot.pause()
        assert reason not in row_line(app, key.position_id)  # too long for the column

        await pilot.press("enter")
        await pilot.pause()

        assert any(reason in line for line in grid_lines(app))


async def test_a_book_not_yet_heard_from_never_reads_as_flat(app_factory, tmp_path):
    """Before the engine answers (here: a Redis with no engine on it) the grid says it is
    waiting; "no open positions" is kept for a book the engine says is empty."""
    server = RedisServer(tmp_path / "redis").start()
    try:
        config = desk_config(tmp_path, {"redis.url": server.url, "redis.trader": "tester"})
        app = DeskApp(config, RedisFeed(config.redis, "nobody"), actor="tester")
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.feed_state in ("DOWN", "RECONNECTING"))
            await pilot.pause()
            text = "\n".join(grid_lines(app))
            assert "waiting for the engine…" in text
            assert "no open positions" not in text
    finally:
        server.kill()

    empty = app_factory(**{"demo.enabled": False})
    async with empty.run_test(size=(120, 40)) as pilot:
        await empty.attached.wait()
        await pilot.pause()
        text = "\n".join(grid_lines(empty))
        assert "no open positions" in text
        assert "waiting for the engine…" not in text
