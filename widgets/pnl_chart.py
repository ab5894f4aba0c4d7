"""Provides the intraday P&L chart with its drawdown, redrawn at most once a second.

A headline line above the plot gives today's P&L and the worst drawdown as text (it
also serves as the legend, so nothing is drawn over the lines) in the longest form that
fits. The plot has engine-clock time on its x axis (HH:MM, New York), round amounts on
its y axis, and a zero line. P&L and drawdown differ in marker as well as colour, so
they stay apart without colour (NO_COLOR, 16-colour terminals).

The chart is drawn by plotext (through textual-plotext), loaded only when there is a
first point to plot: its import is a tenth of the desk's start-up, and the first frame
has no P&L history to show anyway.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.color import Color
from textual.widget import Widget
from textual.widgets import Static

from engine.records import PnlPoint
from widgets import _format as fmt
from widgets._markup import Piece, signed_piece, styled

if TYPE_CHECKING:
    from textual_plotext import PlotextPlot

_MIN_INTERVAL = 1.0
_PNL_MARKER, _DRAWDOWN_MARKER = "braille", "·"
_PNL_KEY, _DRAWDOWN_KEY = "⠤⠤", "··"
# Tick spacing candidates: minutes on the time axis, 1-2-5 steps on the amount axis.
_MINUTES = (1, 2, 5, 10, 15, 30, 60, 120, 240, 480)
_LABEL_CELLS = 8  # "HH:MM" and room either side
_PLOT_ROWS_MIN = 4


class PnlChart(Widget, can_focus=True):
    DEFAULT_CSS = """
    PnlChart { height: 1fr; min-height: 6; }
    PnlChart > #pnl-head {
        height: 1;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    PnlChart > #pnl-spark {
        height: 1;
        padding: 0 1;
        display: none;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._points: list[PnlPoint] = []
        self._plot: PlotextPlot | None = None
        self._drawn_at = 0.0
        self._pending = False

    def compose(self) -> ComposeResult:
        yield Static("[$text-muted]P&L today: waiting for the first points[/]", id="pnl-head")
        yield Static("", id="pnl-spark")

    def show(self, points: Sequence[PnlPoint]) -> None:
        self._points = today(points)
        self._request()

    def on_resize(self) -> None:
        # At once (after the layout settles), not throttled: a headline and axes laid out
        # for the old size would stay up to a second, and on a quiet feed until new data.
        self.call_after_refresh(self._draw)

    def _request(self) -> None:
        wait = self._drawn_at + _MIN_INTERVAL - time.monotonic()
        if wait <= 0:
            self._draw()
        elif not self._pending:
            self._pending = True
            self.set_timer(wait, self._draw)

    def _draw(self) -> None:
        self._pending = False
        self._drawn_at = time.monotonic()
        points = self._points
        if not points:
            return
        width = max(self.size.width - 2, 10)
        self.query_one("#pnl-head", Static).update(headline(points, width))
        rows = self.size.height - 1
        spark = self.query_one("#pnl-spark", Static)
        if len(points) < 2:
            spark.display = True
            spark.update("[$text-muted]waiting for a second point[/]")
            return
        plot = self._ensure_plot()
        if rows < _PLOT_ROWS_MIN:
            # No room for axes: a sparkline of the day says more than a squashed plot.
            plot.display = False
            spark.display = True
            spark.update(f"[$primary]{fmt.sparkline([p.pnl for p in points], max(width, 4))}[/]")
            return
        plot.display = True
        spark.display = False
        self._plot_points(plot, points, self.size.width, rows)

    def _plot_points(
        self, plot: PlotextPlot, points: Sequence[PnlPoint], width: int, rows: int
    ) -> None:
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        xs = [_minutes(p.ts) for p in points]
        pnl = [p.pnl for p in points]
        drawdown = [p.drawdown for p in points]
        low, high = min(0.0, *pnl, *drawdown), max(0.0, *pnl, *drawdown)
        bottom, top, y_ticks = amount_axis(low, high, max((rows - 2) // 2, 2))
        y_labels = [fmt.compact(v, sign=True) for v in y_ticks]
        axis = max((len(label) for label in y_labels), default=1) + 1
        x_ticks = time_ticks(xs[0], xs[-1], max((width - axis - 2) // _LABEL_CELLS, 2))
        variables = self.app.theme_variables
        plt.theme("clear")
        plt.xaxes(True, False)
        plt.yaxes(True, False)
        plt.plot([xs[0], xs[-1]], [0.0, 0.0], marker="─", color=_muted(variables))
        plt.plot(
            xs, drawdown, marker=_DRAWDOWN_MARKER, color=_colour(variables.get("pnl-down"), "red")
        )
        plt.plot(xs, pnl, marker=_PNL_MARKER, color=_colour(variables.get("primary"), "blue"))
        plt.xlim(xs[0], max(xs[-1], xs[0] + 1))
        plt.ylim(bottom, top)
        plt.xticks(x_ticks, [_hhmm(x) for x in x_ticks])
        plt.yticks(y_ticks, y_labels)
        plot.refresh()

    def _ensure_plot(self) -> PlotextPlot:
        if self._plot is None:
            from textual_plotext import PlotextPlot

            self._plot = PlotextPlot()
            self._plot.theme = "clear"  # the pane's own background and text colour
            self.mount(self._plot)
        return self._plot


def today(points: Sequence[PnlPoint]) -> list[PnlPoint]:
    """The points of the latest session's New York date (P&L today starts at its open),
    less any the engine could not value (a NaN has no place on an axis)."""
    valid = [p for p in points if math.isfinite(p.pnl) and math.isfinite(p.drawdown)]
    if not valid:
        return []
    day = _date(valid[-1].ts)
    return [p for p in valid if _date(p.ts) == day]


def headline(points: Sequence[PnlPoint], width: int) -> str:
    """Today's P&L and worst drawdown in the longest form that fits ``width`` cells."""
    last = points[-1]
    worst = min(p.drawdown for p in points)
    pnl = signed_piece(last.pnl)
    dd = signed_piece(worst) if round(worst) else styled("none")
    pnl_key, dd_key = styled(_PNL_KEY, "$primary"), styled(_DRAWDOWN_KEY, "$pnl-down")
    at = styled(f"at {fmt.clock(last.ts, seconds=False)} ET", "$text-muted")
    wide = styled("   ")
    tone = {"up": "$pnl-up", "down": "$pnl-down"}
    forms: list[Piece] = [
        pnl_key + styled(" P&L today ") + pnl + wide + dd_key + styled(" worst drawdown ")
        + dd + wide + at,
        pnl_key + styled(" P&L today ") + pnl + wide + dd_key + styled(" worst drawdown ") + dd,
        pnl_key + styled(" P&L ") + pnl + wide + dd_key + styled(" worst DD ") + dd,
        styled("P&L ") + pnl + styled(" DD ") + dd,
        styled("P&L ")
        + styled(fmt.compact(last.pnl, sign=True), tone.get(fmt.tone(last.pnl), ""))
        + styled(" DD ")
        + styled(fmt.compact(worst, sign=True), tone.get(fmt.tone(worst), "")),
    ]  # fmt: skip
    return next((form.markup for form in forms if form.width <= width), forms[-1].markup)


def amount_axis(low: float, high: float, count: int) -> tuple[float, float, list[float]]:
    """The amount axis for values in ``low``…``high``: its limits (a little beyond the
    values) and about ``count`` round ticks (1, 2 or 5 × a power of ten apart) inside
    them, zero among them whenever it is in range."""
    span = high - low
    pad = span * 0.05 if span > 0 else max(abs(high) * 0.1, 10.0)
    bottom, top = low - pad, high + pad
    raw = (top - bottom) / max(count - 1, 1)
    power = math.floor(math.log10(raw))
    steps = sorted(m * 10.0**e for e in (power - 1, power, power + 1) for m in (1, 2, 5))
    steps = [step for step in steps if step >= 1.0] or [1.0]
    # The finest round step that keeps to ``count`` labels; finer still if that leaves
    # fewer than two (a flat line would have only its zero).
    at = next((i for i, step in enumerate(steps) if step >= raw), len(steps) - 1)
    while True:
        step = steps[at]
        ticks = [n * step for n in range(math.ceil(bottom / step), math.floor(top / step) + 1)]
        if len(ticks) >= 2 or at == 0:
            break
        at -= 1
    return bottom, top, ticks


def time_ticks(start: float, end: float, count: int) -> list[float]:
    """Minutes of the day on round clock times (:00, :15, :30…): the finest step that
    puts at most ``count`` labels on ``start``…``end``."""
    for step in _MINUTES:
        ticks = [n * step for n in range(math.ceil(start / step), math.floor(end / step) + 1)]
        if len(ticks) <= count:
            return [float(t) for t in ticks] or [start]
    return [start]


def _minutes(ns: int) -> float:
    moment = dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).astimezone(fmt.ET)
    return moment.hour * 60 + moment.minute + moment.second / 60


def _hhmm(minutes: float) -> str:
    whole = round(minutes)
    return f"{whole // 60 % 24:02d}:{whole % 60:02d}"


def _date(ns: int) -> dt.date:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).astimezone(fmt.ET).date()


def _muted(variables: dict[str, str]) -> Any:
    """The zero line's colour: the text colour faded toward the background (the ANSI
    theme has no colour to fade, so its own grey, bright black)."""
    try:
        text, ground = Color.parse(variables["foreground"]), Color.parse(variables["background"])
    except Exception:
        return "default"
    if text.ansi is not None or ground.ansi is not None:
        return 8
    return text.blend(ground, 0.6).rgb


def _colour(value: str | None, fallback: str) -> Any:
    """A theme colour as plotext takes it: an RGB triple, or an ANSI index on the
    16-colour theme (so the chart stays in the terminal's own palette)."""
    if not value:
        return fallback
    try:
        colour = Color.parse(value)
    except Exception:
        return fallback
    if colour.ansi is not None:
        return fallback if colour.ansi < 0 else colour.ansi
    return fallback if colour.a == 0 else colour.rgb
