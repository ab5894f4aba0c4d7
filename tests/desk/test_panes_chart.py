"""The P&L chart reads at a glance: today's P&L and worst drawdown as text that fits, the
engine clock (HH:MM, New York) along the time axis, nothing drawn over the lines, at
most one redraw a second, and only the terminal's own colours on the 16-colour theme.

Driven by Pilot on the real embedded engine: the engine records a P&L point every
engine minute, four ticks of the seeded sim.
"""

from __future__ import annotations

import re

import pytest
from rich.color import ColorType

from engine.records import PnlPoint
from tests.desk.conftest import screen_text, step, wait_attached
from widgets import _format as fmt
from widgets.pnl_chart import PnlChart, today

THROTTLE_S = 1.0
HHMM = re.compile(r"\b(\d\d):(\d\d)\b")


def chart_lines(app) -> list[str]:
    region = app.query_one(PnlChart).content_region
    rows = screen_text(app).splitlines()[region.y : region.bottom]
    return [row[region.x : region.right] for row in rows]


async def _drawn(app, pilot, ticks: int = 40) -> None:
    await wait_attached(app)
    await step(app, pilot, ticks)
    await pilot.pause(THROTTLE_S + 0.2)  # the chart redraws at most once a second
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
async def test_headline_time_axis_and_no_legend_over_the_lines(app_factory, size):
    app = app_factory()
    async with app.run_test(size=size) as pilot:
        await pilot.press("8")
        await _drawn(app, pilot)
        points = today(list(app.state.pnl))
        assert len(points) >= 8
        lines = chart_lines(app)
        headline = lines[0]
        assert "…" not in headline, headline
        assert f"P&L {fmt.money(points[-1].pnl, sign=True)}" in headline.replace(
            "P&L today", "P&L"
        ), headline
        worst = min(p.drawdown for p in points)
        assert re.search(rf"(DD|drawdown) {re.escape(fmt.money(worst, sign=True))}", headline)
        plot = lines[1:]
        assert not any("P&L" in line or "drawdown" in line for line in plot), "\n".join(plot)
        labels = [(int(h), int(m)) for h, m in HHMM.findall(plot[-1])]
        assert len(labels) >= 2, plot[-1]
        first = fmt.clock(points[0].ts, seconds=False)
        last = fmt.clock(points[-1].ts, seconds=False)
        for hour, minute in labels:
            assert first <= f"{hour:02d}:{minute:02d}" <= last, (labels, first, last)
            assert minute % 5 == 0, labels  # round clock times


async def test_the_chart_redraws_at_most_once_a_second(app_factory):
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await _drawn(app, pilot, 4)
        chart = app.query_one(PnlChart)
        start = app.state.pnl[-1].ts

        def points(*pnls: float) -> list[PnlPoint]:
            return [
                PnlPoint(ts=start + n * 60_000_000_000, pnl=v, equity=1e5 + v, drawdown=0.0)
                for n, v in enumerate(pnls)
            ]

        await pilot.pause(THROTTLE_S)  # the draw just made must not throttle the next one
        chart.show(points(0.0, 1_111.0))
        await pilot.pause()
        assert "+1,111" in chart_lines(app)[0]
        for value in (2_222.0, 3_333.0, 4_444.0):
            chart.show(points(0.0, 1_111.0, value))
            await pilot.pause(0.05)
        assert "+1,111" in chart_lines(app)[0], "redrawn within the second"
        await pilot.pause(THROTTLE_S)
        await pilot.pause()
        assert "+4,444" in chart_lines(app)[0], "the newest points never drawn"


async def test_yesterdays_points_are_not_today(app_factory):
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await _drawn(app, pilot, 4)
        chart = app.query_one(PnlChart)
        day = 86_400_000_000_000
        now = app.state.pnl[-1].ts
        yesterday = [
            PnlPoint(ts=now - day + n * 60_000_000_000, pnl=-9_000.0, equity=1e5, drawdown=-9e3)
            for n in range(5)
        ]
        todays = [
            PnlPoint(ts=now + n * 60_000_000_000, pnl=250.0 * n, equity=1e5, drawdown=0.0)
            for n in range(5)
        ]
        await pilot.pause(THROTTLE_S)
        chart.show(yesterday + todays)
        await pilot.pause()
        headline = chart_lines(app)[0]
        assert "+1,000" in headline and "none" in headline, headline
        assert "9,000" not in headline, headline


async def test_the_16_colour_theme_draws_the_chart_in_ansi_colours_only(app_factory):
    app = app_factory(**{"ui.theme": "desk-ansi16"})
    async with app.run_test(size=(120, 40)) as pilot:
        await _drawn(app, pilot)
        region = app.query_one(PnlChart).content_region
        strips = app.screen._compositor.render_strips()
        found = set()
        for y in range(region.y, region.bottom):
            for segment in strips[y]:
                style = segment.style
                for colour in (style.color, style.bgcolor) if style else ():
                    if colour is not None:
                        found.add(colour.type)
        assert found and found <= {ColorType.STANDARD, ColorType.DEFAULT}, found
