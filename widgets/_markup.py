"""Provides small Textual-markup helpers: signed amounts in theme colours, markers, bars.

Colour always comes with text: a sign on amounts, a word on states, so nothing depends
on colour alone (NO_COLOR, 8-colour terminals, colour-blind traders).
"""

from __future__ import annotations

from textual.markup import escape

from widgets import _format as fmt

LEVEL_WORDS = {"ok": "OK", "warning": "WARN", "critical": "CRIT"}
LEVEL_STYLES = {"ok": "$pnl-up", "warning": "$warning", "critical": "b $critical"}


def signed(value: float | None, decimals: int = 0) -> str:
    text = fmt.money(value, decimals, sign=True)
    style = {"up": "$pnl-up", "down": "$pnl-down"}.get(fmt.tone(value))
    return f"[{style}]{text}[/]" if style else text


def stale_tag(stale: bool) -> str:
    return "  [i $stale]STALE[/]" if stale else ""


def bar(fraction: float, width: int, level: str) -> str:
    """A limit-use bar: filled cells in the level's colour, then the word."""
    fraction = max(0.0, min(fraction, 1.0))
    filled = round(fraction * width)
    style = LEVEL_STYLES.get(level, "")
    body = "█" * filled + "░" * (width - filled)
    return f"[{style}]{body}[/]" if style else body


def level(level_name: str) -> str:
    return f"[{LEVEL_STYLES.get(level_name, '')}]{LEVEL_WORDS.get(level_name, level_name)}[/]"


def text(value: str) -> str:
    return escape(value)
