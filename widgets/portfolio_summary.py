"""Provides the portfolio summary: cash, equity, P&L by horizon, bias and Greek totals.

Three lines at any width: when one is too long, its least important figures go (the
commission and the longer horizons before the day's P&L) rather than being cut.
"""

from __future__ import annotations

from engine.records import PortfolioSummary
from widgets import _format as fmt
from widgets._markup import fit_line, signed_piece, styled
from widgets._pane import TextPane


class PortfolioSummaryPane(TextPane):
    DEFAULT_CSS = """
    PortfolioSummaryPane { height: auto; min-height: 3; padding: 0 1; }
    """

    _portfolio: PortfolioSummary | None = None
    _stale = False
    _shown = False

    def show(self, portfolio: PortfolioSummary | None, *, stale: bool = False) -> None:
        self._portfolio, self._stale, self._shown = portfolio, stale, True
        self.repaint()

    def compose_text(self) -> str | None:
        if not self._shown:
            return None
        p = self._portfolio
        if p is None:
            return "[$text-muted]waiting for the engine's first valuation…[/]"
        width = self.inner_width
        g = p.greeks
        bias = p.by_bias
        first = [
            (0, styled("Equity ") + styled(fmt.money(p.equity, 2), "b")),
            (2, styled(f"Cash {fmt.money(p.cash, 2)}")),
            (
                1,
                styled(f"Positions {p.open_positions} (")
                + styled(f"▲{bias.get('bullish', 0)}", "$pnl-up")
                + styled(" ")
                + styled(f"▼{bias.get('bearish', 0)}", "$pnl-down")
                + styled(f" ◆{bias.get('neutral', 0)})"),
            ),
        ]
        if self._stale:
            first.append((0, styled("STALE", "i $stale")))
        second = [
            (0, styled("Day ") + signed_piece(p.day_pnl)),
            (4, styled("Week ") + signed_piece(p.week_pnl)),
            (5, styled("YTD ") + signed_piece(p.ytd_pnl)),
            (2, styled("Realized ") + signed_piece(p.realized_pnl)),
            (1, styled("Unrealized ") + signed_piece(p.unrealized_pnl)),
            (6, styled(f"Comm {fmt.money(p.commissions, 2)}")),
        ]
        third = [
            (0, styled(f"Δ {fmt.num(g.delta, 0, sign=True)}")),
            (3, styled(f"Γ {fmt.num(g.gamma, 1, sign=True)}")),
            (1, styled("Θ/day ") + signed_piece(g.theta)),
            (2, styled(f"Vega {fmt.num(g.vega, 0, sign=True)}")),
            (4, styled(f"$Δ {fmt.compact(g.dollar_delta, sign=True)}")),
        ]
        if p.excluded_legs:
            third.append(
                (0, styled(f"{p.excluded_legs} leg(s) without a valid price excluded", "$warning"))
            )
        if p.unpriced_legs:
            # Equity would otherwise look exact: say that part of it is cost, not a price.
            second.append(
                (0, styled(f"{p.unpriced_legs} leg(s) never priced: carried at cost", "$warning"))
            )
        return "\n".join(fit_line(line, width) for line in (first, second, third))
