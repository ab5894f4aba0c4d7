"""The panes look right at every size: full-width tabs at 80×24, every pane reachable,
zoom that fills the screen, and text that wraps or abbreviates instead of being cut.

Driven by Pilot on the real embedded engine (seeded, stopped: it moves only when a test
steps it), reading what is on screen.
"""

from __future__ import annotations

import re

import pytest

from desk.app import PANES
from engine.records import RegimeChanged, RegimeState
from tests.desk.conftest import engine_of, screen_text, step, wait_attached
from widgets import _format as fmt
from widgets.greeks_pane import GreeksPane
from widgets.portfolio_summary import PortfolioSummaryPane
from widgets.regime_pane import RegimePane
from widgets.risk_pane import RiskPane


def pane_text(app, widget) -> str:
    """What the screen shows inside ``widget``'s region, one line per row."""
    region = widget.region
    rows = screen_text(app).splitlines()[region.y : region.y + region.height]
    return "\n".join(row[region.x : region.x + region.width] for row in rows)


def words(text: str) -> str:
    """The pane's text as one line: wrapped lines read back as the sentence they wrap."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


async def _settled(pilot) -> None:
    await pilot.pause()
    await pilot.pause(0.05)


async def test_at_80x24_each_tab_uses_the_whole_width_and_holds_all_its_panes(app_factory):
    app = app_factory()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_attached(app)
        await pilot.press("4")
        await _settled(pilot)
        assert app.query_one("#agents").region.width == 80

        await pilot.press("6")
        await _settled(pilot)
        shown = {pane_id: app.query_one(f"#{pane_id}").region for pane_id in PANE_IDS["right"]}
        assert sum(shown[p].width for p in ("greeks", "risk")) == 80
        assert sum(shown[p].width for p in ("pnl", "regime")) == 80
        text = screen_text(app)
        for title in ("6 Greeks", "7 Risk", "8 P&L", "9 Regime"):
            assert title in text, text


PANE_IDS = {
    column: [pane_id for _, pane_id, _, col in PANES if col == column]
    for column in ("left", "middle", "right")
}


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_every_pane_is_wholly_on_screen_once_its_number_is_pressed(app_factory, size):
    app = app_factory()
    width, height = size
    async with app.run_test(size=size) as pilot:
        await wait_attached(app)
        for number, pane_id, title, _ in PANES:
            await pilot.press(str(number))
            await _settled(pilot)
            region = app.query_one(f"#{pane_id}").region
            assert region.width >= 20 and region.height >= 3, (pane_id, region)
            assert region.right <= width and region.bottom <= height - 1, (pane_id, region)
            assert f"{number} {title}" in screen_text(app), (size, pane_id)


@pytest.mark.parametrize("pane_id", ["greeks", "risk", "regime", "agents"])
async def test_zoom_fills_the_screen_without_hatching(app_factory, pane_id):
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_attached(app)
        await step(app, pilot, 8)
        number = next(n for n, p, _, _ in PANES if p == pane_id)
        await pilot.press(str(number), "z")
        await _settled(pilot)
        region = app.query_one(f"#{pane_id}").region
        text = screen_text(app)
        assert "╱" not in text, text
        assert region.width == 120, region
        assert region.height >= 40 - 3, region  # all but the header, banner and footer rows


async def test_zoom_keeps_the_header_with_feed_state_and_kill_switch(app_factory):
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_attached(app)
        await pilot.press("7", "z")
        await _settled(pilot)
        header = screen_text(app).splitlines()[0]
        assert "LIVE" in header and "kill switch" in header, header


async def test_zoomed_risk_pane_lays_its_bars_out_to_the_full_width(app_factory):
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_attached(app)
        await pilot.press("7")
        await _settled(pilot)
        narrow = pane_text(app, app.query_one(RiskPane))
        await pilot.press("z")
        await _settled(pilot)
        zoomed = pane_text(app, app.query_one(RiskPane))
        # Beside a bar that now has room, each limit shows its amount used of the limit.
        assert "/2,000" not in narrow, narrow
        assert re.search(r"delta +█*░+ +\d+% OK +[\d,.k]+/2,000", zoomed), zoomed


async def test_greeks_show_every_underlyings_vega_in_the_medium_layout(app_factory):
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_attached(app)
        await _settled(pilot)
        assert app.layout_mode == "medium"
        text = pane_text(app, app.query_one(GreeksPane))
        assert "…" not in text, text
        lines = [line.strip(" │") for line in text.splitlines()]
        header = next(
            line.split() for line in lines if "Vega" in line.split() and not re.search(r"\d", line)
        )
        column = 1 + header.index("Vega")  # the underlying's name comes first on its row
        for u in app.state.portfolio.by_underlying:
            row = next(line.split() for line in lines if line.startswith(f"{u.underlying} "))
            assert row[column] == fmt.num(u.greeks.vega, 0, sign=True), (u.underlying, row)


async def test_alerts_and_the_regime_note_wrap_instead_of_being_cut(app_factory):
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_attached(app)
        await _settled(pilot)
        risk = pane_text(app, app.query_one(RiskPane))
        regime = pane_text(app, app.query_one(RegimePane))
        assert "…" not in risk + regime, risk + regime
        newest = app.state.alerts[-1].message
        assert newest in words(risk), risk
        assert "No regime model is running: the engine publishes none." in words(regime)


async def test_a_published_regime_fits_the_regime_pane_at_80x24(app_factory):
    app = app_factory()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_attached(app)
        engine = engine_of(app)
        regime = RegimeState(
            label="stressed",
            probabilities={"calm": 0.05, "normal": 0.2, "stressed": 0.7, "crisis": 0.05},
            vol_forecast=0.32,
            model="hmm-4state (daily returns, 2y window)",
            ts=engine.now(),
        )
        engine.bus.publish(RegimeChanged(ts=engine.now(), regime=regime))
        await step(app, pilot)
        await pilot.press("9")
        await _settled(pilot)
        text = pane_text(app, app.query_one(RegimePane))
        assert "…" not in text, text
        flat = words(text)
        assert "Regime STRESSED" in flat and "vol forecast 32%" in flat, text
        assert "VIX" in flat, text
        assert re.search(r"stressed +█+░* +70%", text), text
        assert "hmm-4state (daily returns, 2y window)" in flat, text


async def test_the_portfolio_summary_drops_minor_figures_rather_than_cutting_a_line(app_factory):
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_attached(app)
        await step(app, pilot, 40)  # a losing morning: every P&L figure has a sign
        await _settled(pilot)
        text = pane_text(app, app.query_one(PortfolioSummaryPane))
        assert "…" not in text, text
        day = fmt.money(app.state.portfolio.day_pnl, sign=True)
        assert f"Day {day}" in text and "Unrealized" in text and "Equity" in text, text


async def test_the_portfolio_says_when_legs_are_carried_at_cost_not_priced(app_factory):
    from engine.records import Leg, Option

    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_attached(app)
        engine = engine_of(app)
        expiry = engine.market.expiries("SPY")[-1]
        unlisted = Option(underlying="SPY", expiry=expiry, strike=12_345.0, right="C")
        engine.book_at_prices(
            tag="test",
            intent="open",
            position_id=None,
            legs=(Leg(instrument=unlisted, ratio=1),),
            quantity=1,
            prices={unlisted.key: 3.00},
            source="demo",
        )
        await step(app, pilot)
        text = str(app.query_one(PortfolioSummaryPane).render())
        assert "1 leg(s) never priced: carried at cost" in text, text


async def test_help_is_in_the_footer_of_an_80_column_terminal(app_factory):
    app = app_factory()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_attached(app)
        await _settled(pilot)
        footer = screen_text(app).splitlines()[-1]
        assert "? Help" in footer, footer
