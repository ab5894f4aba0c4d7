"""Provides the Greeks pane: portfolio Greeks, dollar delta, per-underlying, and a trend.

The totals flow onto as many lines as the width needs; the per-underlying table keeps
Δ, Θ and Vega at any width and adds spot, Γ and $Δ as the pane widens. When the pane's
height is bounded, underlyings that do not fit are counted on a last line (zoom shows
them all).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.records import Greeks, PortfolioSummary, UnderlyingGreeks
from widgets import _format as fmt
from widgets._markup import TONE_STYLES, fit, flow, signed_piece, styled, text
from widgets._pane import TextPane


@dataclass(frozen=True, slots=True)
class _Column:
    label: str
    width: int
    drop: int
    """Dropped first when narrow: the highest number goes first; 0 always stays."""


UNDERLYING = _Column("", 5, 0)
COLUMNS = (
    _Column("Spot", 8, 2),
    _Column("Δ", 6, 0),
    _Column("Γ", 6, 3),
    _Column("Θ/day", 6, 0),
    _Column("Vega", 6, 0),
    _Column("$Δ", 7, 1),
)


class GreeksPane(TextPane, can_focus=True):
    DEFAULT_CSS = """
    GreeksPane { height: auto; min-height: 4; padding: 0 1; }
    """

    _portfolio: PortfolioSummary | None = None
    _history: Sequence[tuple[int, float, float, float, float]] = ()
    _stale = False
    _shown = False

    def show(
        self,
        portfolio: PortfolioSummary | None,
        history: Sequence[tuple[int, float, float, float, float]],
        *,
        stale: bool = False,
    ) -> None:
        self._portfolio, self._history, self._stale = portfolio, history, stale
        self._shown = True
        self.repaint()

    def compose_text(self) -> str | None:
        if not self._shown:
            return None
        portfolio = self._portfolio
        if portfolio is None:
            return "[$text-muted]no valuation yet[/]"
        width = self.inner_width
        lines = _totals(portfolio.greeks, width, self._stale)
        trend = fmt.sparkline([h[1] for h in self._history], max(width - 8, 4))
        trend_line = (
            f"Δ trend [$accent]{trend}[/]" if trend else "Δ trend [$text-muted]building…[/]"
        )
        notes = []
        if portfolio.excluded_legs:
            notes.append(f"[$warning]{portfolio.excluded_legs} leg(s) excluded: no price[/]")
        table = _underlyings(portfolio.by_underlying, width)
        room = self.room()
        if room is None or len(lines) + 1 + len(table) + len(notes) <= room:
            return "\n".join([*lines, trend_line, *table, *notes])
        # Short of room: the trend goes first, then underlyings, counted on a last line.
        spare = room - len(lines) - len(notes)
        if len(table) > spare:
            rows = len(table) - 1
            fit_rows = spare - 2  # the table's header and the "more" line
            more = f"[$text-muted]+{rows - max(fit_rows, 0)} more: z zooms[/]"
            table = [*table[: 1 + fit_rows], more] if fit_rows >= 1 else [more][: max(spare, 0)]
        return "\n".join([*lines, *table, *notes])


def _totals(g: Greeks, width: int, stale: bool) -> list[str]:
    pieces = [
        styled("Δ ") + styled(fmt.num(g.delta, 0, sign=True).rjust(6), "b"),
        styled("Γ ") + styled(fmt.num(g.gamma, 1, sign=True).rjust(6)),
        styled("Θ/day ") + signed_piece(g.theta, width=6),
        styled("Vega ") + styled(fmt.num(g.vega, 0, sign=True).rjust(6)),
        styled("ρ ") + styled(fmt.num(g.rho, 0, sign=True).rjust(6)),
        styled("$Δ ") + styled(fmt.compact(g.dollar_delta, sign=True).rjust(7)),
        styled("$Γ/1% ") + styled(fmt.compact(g.dollar_gamma, sign=True).rjust(7)),
    ]
    if stale:
        pieces.insert(0, styled("STALE", "i $stale"))
    return flow(pieces, width)


def _fitted(width: int) -> list[_Column]:
    shown = list(COLUMNS)
    while sum(c.width + 1 for c in shown) + UNDERLYING.width > width:
        worst = max(shown, key=lambda c: c.drop)
        if worst.drop == 0:
            break
        shown.remove(worst)
    return shown


def _underlyings(rows: Sequence[UnderlyingGreeks], width: int) -> list[str]:
    if not rows:
        return []
    columns = _fitted(width)
    header = " " * UNDERLYING.width + "".join(f" {c.label:>{c.width}}" for c in columns)
    lines = [f"[$text-muted]{header}[/]"]
    for u in rows:
        cells = [f"[b]{text(fit(u.underlying, UNDERLYING.width))}[/]"]
        for column in columns:
            cell = f"{_cell(column.label, u):>{column.width}}"
            # Theta is coloured by its sign, as in the totals; the others are plain.
            style = TONE_STYLES.get(fmt.tone(u.greeks.theta)) if column.label == "Θ/day" else None
            cells.append(f"[{style}]{cell}[/]" if style else cell)
        lines.append(" ".join(cells))
    return lines


def _cell(label: str, u: UnderlyingGreeks) -> str:
    g = u.greeks
    if label == "Spot":
        return fmt.price(u.spot)
    if label == "Δ":
        return fmt.num(g.delta, 0, sign=True)
    if label == "Γ":
        return fmt.num(g.gamma, 1, sign=True)
    if label == "Θ/day":
        return fmt.num(g.theta, 0, sign=True)
    if label == "Vega":
        return fmt.num(g.vega, 0, sign=True)
    return fmt.compact(g.dollar_delta, sign=True)
