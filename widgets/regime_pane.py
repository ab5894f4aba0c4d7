"""Provides the regime pane: the detected market regime and its probabilities, if any."""

from __future__ import annotations

from engine.records import RegimeState
from widgets import _format as fmt
from widgets._markup import text
from widgets._pane import TextPane

REGIME_STYLES = {
    "calm": "$pnl-up",
    "normal": "$foreground",
    "stressed": "$warning",
    "crisis": "b $critical",
}


class RegimePane(TextPane, can_focus=True):
    DEFAULT_CSS = """
    RegimePane { height: auto; min-height: 2; padding: 0 1; }
    """

    def show(self, regime: RegimeState | None, vix: float | None) -> None:
        index = f"  VIX {fmt.price(vix)}" if vix is not None else ""
        if regime is None:
            self.set_text(
                f"[$text-muted]No regime model is running: the engine publishes none.[/]{index}"
            )
            return
        style = REGIME_STYLES.get(regime.label, "")
        lines = [
            f"Regime [{style}]{text(regime.label.upper())}[/]  "
            f"vol forecast {fmt.pct(regime.vol_forecast, 0, sign=False)}{index}"
        ]
        width = max(self.size.width - 22, 6)
        for name, p in sorted(regime.probabilities.items(), key=lambda kv: -kv[1]):
            filled = round(p * width)
            lines.append(f"{text(name):<9} {'█' * filled}{'░' * (width - filled)} {p:>4.0%}")
        lines.append(f"[$text-muted]{text(regime.model)} · {fmt.clock(regime.ts)}[/]")
        self.set_text("\n".join(lines))
