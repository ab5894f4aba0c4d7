"""Provides the Greeks pane: portfolio Greeks, dollar delta, per-underlying, and a trend."""

from __future__ import annotations

from collections.abc import Sequence

from engine.records import PortfolioSummary
from widgets import _format as fmt
from widgets._markup import signed, stale_tag
from widgets._pane import TextPane


class GreeksPane(TextPane, can_focus=True):
    DEFAULT_CSS = """
    GreeksPane { height: auto; min-height: 4; padding: 0 1; }
    """

    def show(
        self,
        portfolio: PortfolioSummary | None,
        history: Sequence[tuple[int, float, float, float, float]],
        *,
        stale: bool = False,
    ) -> None:
        if portfolio is None:
            self.set_text("[$text-muted]no valuation yet[/]")
            return
        g = portfolio.greeks
        width = max(self.size.width - 14, 8)
        trend = fmt.sparkline([h[1] for h in history], width)
        lines = [
            f"Δ [b]{fmt.num(g.delta, 0, sign=True):>7}[/]  Γ {fmt.num(g.gamma, 1, sign=True):>6}  "
            f"Θ/day {signed(g.theta)}{stale_tag(stale)}",
            f"Vega {fmt.num(g.vega, 0, sign=True):>6}  ρ {fmt.num(g.rho, 0, sign=True):>6}",
            f"$Δ {fmt.compact(g.dollar_delta, sign=True):>7}  "
            f"$Γ per 1% {fmt.compact(g.dollar_gamma, sign=True)}",
            f"Δ trend [$accent]{trend}[/]" if trend else "Δ trend [$text-muted]building…[/]",
        ]
        for u in portfolio.by_underlying:
            ug = u.greeks
            lines.append(
                f"[b]{u.underlying:<5}[/]{fmt.price(u.spot):>8} "
                f"Δ{fmt.num(ug.delta, 0, sign=True):>6} "
                f"Θ{fmt.num(ug.theta, 0, sign=True):>5} V{fmt.num(ug.vega, 0, sign=True):>5}"
            )
        if portfolio.excluded_legs:
            lines.append(f"[$warning]{portfolio.excluded_legs} leg(s) excluded: no valid price[/]")
        self.set_text("\n".join(lines))
