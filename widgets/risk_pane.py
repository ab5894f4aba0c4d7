"""Provides the risk meter: limit use as bars, the kill switch, VaR and scenarios, alerts."""

from __future__ import annotations

from collections.abc import Sequence

from engine.records import Alert, RiskSummary
from widgets import _format as fmt
from widgets._markup import bar, level, signed, text
from widgets._pane import TextPane

ALERT_STYLES = {"info": "$text-muted", "warning": "$warning", "critical": "b $critical"}


class RiskPane(TextPane, can_focus=True):
    DEFAULT_CSS = """
    RiskPane { height: auto; min-height: 4; padding: 0 1; }
    """

    def show(
        self,
        risk: RiskSummary | None,
        alerts: Sequence[Alert],
        *,
        halted: str = "",
        alert_lines: int = 4,
    ) -> None:
        lines = []
        if risk is None:
            self.set_text("[$text-muted]no risk summary yet[/]")
            return
        switch = (
            "[b reverse $critical] KILL SWITCH ON [/] new risk refused, closing allowed"
            if risk.kill_switch
            else "Kill switch [$pnl-up]OFF[/]"
        )
        lines.append(switch)
        if halted:
            lines.append(f"[b $critical]HALTED[/] {text(halted)}")
        inner = max(self.size.width - 2, 20)  # the pane's padding
        for limit in risk.limits:
            amounts = f"{fmt.compact(abs(limit.value))}/{fmt.compact(limit.limit)}"
            # name, bar, percent and the word always show; the amounts when they fit.
            room = inner - 10 - 1 - 5 - 5
            show_amounts = room - len(amounts) - 1 >= 6
            width = min(room - (len(amounts) + 1 if show_amounts else 0), 20)
            lines.append(
                f"{limit.name:<10} {bar(limit.usage, max(width, 3), limit.level)} "
                f"{limit.usage:>4.0%} {level(limit.level):<4}"
                + (f" [$text-muted]{amounts}[/]" if show_amounts else "")
            )
        if risk.var_95 is not None:
            lines.append(
                f"VaR95 {signed(-abs(risk.var_95))}  CVaR95 {signed(-abs(risk.cvar_95 or 0))}"
            )
        if risk.max_drawdown is not None:
            lines.append(f"Drawdown today {signed(risk.max_drawdown)}")
        if risk.scenarios:
            worst = min(risk.scenarios, key=lambda s: s.pnl)
            lines.append(
                f"Worst scenario spot {worst.spot_shift:+.0%} vol {worst.vol_shift:+.0%}: "
                f"{signed(worst.pnl)}"
            )
        for alert in list(alerts)[-alert_lines:][::-1]:
            style = ALERT_STYLES.get(alert.level, "")
            lines.append(
                f"[{style}]{fmt.clock(alert.ts, seconds=False)} {alert.level.upper():<8}[/] "
                f"{text(alert.message)}"
            )
        self.set_text("\n".join(lines))
