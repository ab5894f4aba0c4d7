"""Provides the intraday P&L chart with its drawdown, redrawn at most once a second.

The chart is drawn by plotext (through textual-plotext), loaded only when there is a
first point to plot: its import is a tenth of the desk's start-up, and the first frame
has no P&L history to show anyway.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Static

from engine.records import PnlPoint

if TYPE_CHECKING:
    from textual_plotext import PlotextPlot

_MIN_INTERVAL = 1.0


class PnlChart(Widget, can_focus=True):
    DEFAULT_CSS = """
    PnlChart { height: 1fr; min-height: 6; }
    PnlChart > Static { color: $text-muted; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._points: list[PnlPoint] = []
        self._plot: PlotextPlot | None = None
        self._drawn_at = 0.0
        self._pending = False

    def compose(self) -> ComposeResult:
        yield Static("P&L today: waiting for the first points", id="pnl-waiting")

    def show(self, points: Sequence[PnlPoint]) -> None:
        self._points = list(points)
        wait = self._drawn_at + _MIN_INTERVAL - time.monotonic()
        if wait <= 0:
            self._draw()
        elif not self._pending:
            self._pending = True
            self.set_timer(wait, self._draw)

    def _draw(self) -> None:
        self._pending = False
        self._drawn_at = time.monotonic()
        if len(self._points) < 2:
            return
        plot = self._ensure_plot()
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        xs = list(range(len(self._points)))
        pnl = [p.pnl for p in self._points]
        drawdown = [p.drawdown for p in self._points]
        variables = self.app.theme_variables
        plt.plot(xs, pnl, color=_colour(variables.get("pnl-up"), "green"), label="P&L")
        plt.plot(xs, drawdown, color=_colour(variables.get("pnl-down"), "red"), label="drawdown")
        worst = min(drawdown)
        plt.title(f"P&L today {pnl[-1]:+,.0f}   worst drawdown {_amount(worst)}")
        plt.xticks([])
        plot.refresh()

    def _ensure_plot(self) -> PlotextPlot:
        if self._plot is None:
            from textual_plotext import PlotextPlot

            self._plot = PlotextPlot()
            self.query("#pnl-waiting").remove()
            self.mount(self._plot)
        return self._plot


def _amount(value: float) -> str:
    """A drawdown of zero is 'none', not '+0'."""
    return "none" if round(value) == 0 else f"{value:,.0f}"


def _colour(value: str | None, fallback: str) -> Any:
    if not value or not value.startswith("#") or len(value) != 7:
        return fallback
    return (int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16))
