"""Provides the regime pane: the detected market regime and its probabilities, if any.

Laid out to the pane's width: the headline figures flow onto a second line rather than
being cut, probability bars take the width the name and percentage leave, and the note
when no model runs wraps.
"""

from __future__ import annotations

from engine.records import RegimeState
from widgets import _format as fmt
from widgets._markup import fit, flow, styled, text, wrap
from widgets._pane import TextPane

REGIME_STYLES = {
    "calm": "$pnl-up",
    "normal": "$foreground",
    "stressed": "$warning",
    "crisis": "b $critical",
}
NAME = 9
NO_MODEL = "No regime model is running: the engine publishes none."


class RegimePane(TextPane, can_focus=True):
    DEFAULT_CSS = """
    RegimePane { height: auto; min-height: 2; padding: 0 1; }
    """

    _regime: RegimeState | None = None
    _vix: float | None = None
    _shown = False

    def show(self, regime: RegimeState | None, vix: float | None) -> None:
        self._regime, self._vix, self._shown = regime, vix, True
        self.repaint()

    def compose_text(self) -> str | None:
        if not self._shown:
            return None
        width = self.inner_width
        regime = self._regime
        vix = self._vix
        index = [styled("VIX ") + styled(fmt.price(vix), "b")] if vix is not None else []
        if regime is None:
            note = styled(NO_MODEL, "$text-muted")
            if note.width <= width:
                return "\n".join(flow([*index, note], width))
            return "\n".join(flow(index, width) + wrap(NO_MODEL, width, style="$text-muted"))
        label = regime.label.upper()
        headline = [
            styled("Regime ") + styled(label, REGIME_STYLES.get(regime.label, "")),
            styled("vol forecast ") + styled(fmt.pct(regime.vol_forecast, 0, sign=False)),
            *index,
        ]
        lines = flow(headline, width)
        cells = max(width - NAME - 1 - 5, 4)
        bars = []
        for name, p in sorted(regime.probabilities.items(), key=lambda kv: -kv[1]):
            filled = round(max(0.0, min(p, 1.0)) * cells)
            bars.append(
                f"{text(fit(name, NAME))} {'█' * filled}{'░' * (cells - filled)} "
                f"{fmt.pct(p, 0, sign=False):>4}"
            )
        model = wrap(f"{regime.model} · {fmt.clock(regime.ts)}", width, style="$text-muted")
        room = self.room()
        if room is not None and len(lines) + len(bars) + len(model) > room:
            # Short of room the model's name goes first, then the least likely regimes.
            model = []
            bars = bars[: max(room - len(lines), 1)]
        return "\n".join(lines + bars + model)
