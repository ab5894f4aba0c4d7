"""Provides the portfolio summary: cash, equity, P&L by horizon, bias and Greek totals."""

from __future__ import annotations

from engine.records import PortfolioSummary
from widgets import _format as fmt
from widgets._markup import signed, stale_tag
from widgets._pane import TextPane


class PortfolioSummaryPane(TextPane):
    DEFAULT_CSS = """
    PortfolioSummaryPane { height: auto; min-height: 3; padding: 0 1; }
    """

    def show(self, portfolio: PortfolioSummary | None, *, stale: bool = False) -> None:
        if portfolio is None:
            self.set_text("[$text-muted]waiting for the engine's first valuation…[/]")
            return
        p = portfolio
        g = p.greeks
        bias = p.by_bias
        excluded = (
            f"  [$warning]{p.excluded_legs} leg(s) without a valid price excluded[/]"
            if p.excluded_legs
            else ""
        )
        lines = [
            f"Equity [b]{fmt.money(p.equity, 2)}[/]  Cash {fmt.money(p.cash, 2)}  "
            f"Positions {p.open_positions} "
            f"([$pnl-up]▲{bias.get('bullish', 0)}[/] [$pnl-down]▼{bias.get('bearish', 0)}[/] "
            f"◆{bias.get('neutral', 0)}){stale_tag(stale)}",
            f"Day {signed(p.day_pnl)}  Week {signed(p.week_pnl)}  YTD {signed(p.ytd_pnl)}  "
            f"Realized {signed(p.realized_pnl)}  Unrealized {signed(p.unrealized_pnl)}  "
            f"Comm {fmt.money(p.commissions, 2)}",
            f"Δ {fmt.num(g.delta, 0, sign=True)}  Γ {fmt.num(g.gamma, 1, sign=True)}  "
            f"Θ/day {signed(g.theta)}  Vega {fmt.num(g.vega, 0, sign=True)}  "
            f"$Δ {fmt.compact(g.dollar_delta, sign=True)}{excluded}",
        ]
        self.set_text("\n".join(lines))
