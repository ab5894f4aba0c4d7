"""Provides the intraday P&L chart with its drawdown, redrawn at most once a second."""

from __future__ import annotations

import time
from collections.abc import Sequence

from textual_plotext import PlotextPlot

from engine.records import PnlPoint

_MIN_INTERVAL = 1.0


class PnlChart(PlotextPlot, can_focus=True):
    DEFAULT_CSS = """
    PnlChart { height: 1fr; min-height: 6; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._points: list[PnlPoint] = []
        self._drawn_at = 0.0
        self._pending = False

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
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if len(self._points) < 2:
            plt.title("P&L today: waiting for points")
            self.refresh()
            return
        xs = list(range(len(self._points)))
        pnl = [p.pnl for p in self._points]
        drawdown = [p.drawdown for p in self._points]
        variables = self.app.theme_variables
        plt.plot(xs, pnl, color=_colour(variables.get("pnl-up"), "green"), label="P&L")
        plt.plot(xs, drawdown, color=_colour(variables.get("pnl-down"), "red"), label="drawdown")
        plt.title(f"P&L today {pnl[-1]:+,.0f}   worst drawdown {min(drawdown):+,.0f}")
        plt.xticks([])
        self.refresh()


def _colour(value: str | None, fallback: str) -> str | tuple[int, int, int]:
    if not value or not value.startswith("#") or len(value) != 7:
        return fallback
    return (int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16))
