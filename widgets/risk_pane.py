"""Provides the risk meter: limit use as bars, the kill switch, VaR and scenarios, alerts.

Every line is laid out to the pane's width: bars shrink (and the amounts beside them
go) before a name, a percentage or a level word is cut, and sentences (the kill switch,
a halt, alerts) wrap under their own start. Alerts are newest first; with room to spare
(zoomed, or a grid cell) the pane shows as many as fit.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.records import Alert, RiskLimit, RiskSummary
from widgets import _format as fmt
from widgets._markup import bar, fit, flow, level, signed_piece, styled, text, wrap
from widgets._pane import TextPane

ALERT_STYLES = {"info": "$text-muted", "warning": "$warning", "critical": "b $critical"}
NAME = 10


class RiskPane(TextPane, can_focus=True):
    DEFAULT_CSS = """
    RiskPane { height: auto; min-height: 4; padding: 0 1; }
    """

    _risk: RiskSummary | None = None
    _alerts: Sequence[Alert] = ()
    _halted = ""
    _alert_lines = 4
    _shown = False

    def show(
        self,
        risk: RiskSummary | None,
        alerts: Sequence[Alert],
        *,
        halted: str = "",
        alert_lines: int = 4,
    ) -> None:
        self._risk, self._alerts, self._halted = risk, alerts, halted
        self._alert_lines = alert_lines
        self._shown = True
        self.repaint()

    def compose_text(self) -> str | None:
        if not self._shown:
            return None
        risk = self._risk
        if risk is None:
            return "[$text-muted]no risk summary yet[/]"
        width = self.inner_width
        lines = _switch(risk.kill_switch, width)
        if self._halted:
            lines += wrap(self._halted, width, lead=styled("HALTED", "b $critical") + styled(" "))
        lines += _limit_lines(risk.limits, width)
        figures = []
        if risk.var_95 is not None:
            figures.append(styled("VaR95 ") + signed_piece(-abs(risk.var_95)))
            if risk.cvar_95 is not None:
                figures.append(styled("CVaR95 ") + signed_piece(-abs(risk.cvar_95)))
        if risk.max_drawdown is not None:
            figures.append(styled("Drawdown today ") + signed_piece(risk.max_drawdown))
        lines += flow(figures, width)
        if risk.scenarios:
            worst = min(risk.scenarios, key=lambda s: s.pnl)
            lines += flow(
                [
                    styled("Worst scenario ") + signed_piece(worst.pnl),
                    styled(
                        f"spot {fmt.pct(worst.spot_shift, 0)} vol {fmt.pct(worst.vol_shift, 0)}",
                        "$text-muted",
                    ),
                ],
                width,
            )
        lines += self._alert_block(width, len(lines))
        return "\n".join(lines)

    def _alert_block(self, width: int, used: int) -> list[str]:
        room = self.room()
        newest = list(self._alerts)[::-1]
        if room is None:
            newest = newest[: self._alert_lines]
        block: list[str] = []
        for alert in newest:
            lead = styled(
                f"{fmt.clock(alert.ts, seconds=False)} {alert.level.upper():<8}",
                ALERT_STYLES.get(alert.level, ""),
            ) + styled(" ")
            lines = wrap(alert.message, width, lead=lead)
            if room is not None and used + len(block) + len(lines) > room:
                block += lines[: max(room - used - len(block), 0)]
                break
            block += lines
        return block


def _switch(on: bool, width: int) -> list[str]:
    if not on:
        return ["Kill switch [$pnl-up]OFF[/]"]
    lead = styled(" KILL SWITCH ON ", "b reverse $critical") + styled(" ")
    return wrap("new risk refused, closing allowed", width, lead=lead)


def _limit_lines(limits: Sequence[RiskLimit], width: int) -> list[str]:
    """One line a limit, the bars all of one length: name, bar, percent and the word
    always show; the amounts (used/limit) only if every line keeps a 6-cell bar."""
    amounts = [f"{fmt.compact(abs(lim.value))}/{fmt.compact(lim.limit)}" for lim in limits]
    longest = max((len(a) for a in amounts), default=0)
    room = width - NAME - 1 - 1 - 4 - 1 - 4
    show_amounts = room - longest - 1 >= 6
    cells = max(min(room - (longest + 1 if show_amounts else 0), 20), 3)
    return [
        f"{text(fit(limit.name, NAME))} {bar(limit.usage, cells, limit.level)} "
        f"{fmt.pct(limit.usage, 0, sign=False):>4} {level(limit.level, 4)}"
        + (f" [$text-muted]{amount:>{longest}}[/]" if show_amounts else "")
        for limit, amount in zip(limits, amounts, strict=True)
    ]
