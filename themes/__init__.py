"""Provides the desk's themes: dark (default), light, high contrast and 16-colour ANSI.

Panes never name a colour: TCSS uses the theme variables ``$pnl-up``, ``$pnl-down``,
``$stale``, ``$warning`` and ``$critical`` (and Textual's own ``$primary`` and friends),
so a theme is the one place a colour is chosen. Each theme must keep gains, losses,
stale values and alarms apart; the panes also mark them in text, so colour is never the
only signal.
"""

from __future__ import annotations

from pathlib import Path

from textual.theme import Theme

STYLESHEET = Path(__file__).with_name("desk.tcss")

DARK = Theme(
    name="desk-dark",
    primary="#3B82F6",
    secondary="#60A5FA",
    accent="#F59E0B",
    warning="#F59E0B",
    error="#EF4444",
    success="#22C55E",
    foreground="#D4D8DE",
    background="#0E1116",
    surface="#151A21",
    panel="#1C222B",
    dark=True,
    variables={
        "pnl-up": "#22C55E",
        "pnl-down": "#F05252",
        "stale": "#8B93A1",
        "critical": "#FF3B3B",
        "footer-key-foreground": "#60A5FA",
    },
)

LIGHT = Theme(
    name="desk-light",
    primary="#1D4ED8",
    secondary="#2563EB",
    accent="#B45309",
    warning="#B45309",
    error="#B91C1C",
    success="#15803D",
    foreground="#1F2328",
    background="#F6F8FA",
    surface="#FFFFFF",
    panel="#EAEEF2",
    dark=False,
    variables={
        "pnl-up": "#15803D",
        "pnl-down": "#B91C1C",
        "stale": "#6E7781",
        "critical": "#A40E26",
    },
)

CONTRAST = Theme(
    name="desk-contrast",
    primary="#00BFFF",
    secondary="#FFFFFF",
    accent="#FFFF00",
    warning="#FFFF00",
    error="#FF0000",
    success="#00FF00",
    foreground="#FFFFFF",
    background="#000000",
    surface="#000000",
    panel="#1A1A1A",
    dark=True,
    variables={
        "pnl-up": "#00FF66",
        "pnl-down": "#FF4040",
        "stale": "#C0C0C0",
        "critical": "#FF00FF",
        "border": "#FFFFFF",
    },
)

# Only the sixteen ANSI colours: readable on a plain SSH session or a Linux console.
ANSI16 = Theme(
    name="desk-ansi16",
    ansi=True,
    primary="ansi_blue",
    secondary="ansi_cyan",
    accent="ansi_yellow",
    warning="ansi_yellow",
    error="ansi_red",
    success="ansi_green",
    foreground="ansi_default",
    background="ansi_default",
    surface="ansi_default",
    panel="ansi_default",
    boost="ansi_default",
    dark=True,
    variables={
        "pnl-up": "ansi_green",
        "pnl-down": "ansi_red",
        "stale": "ansi_bright_black",
        "critical": "ansi_bright_magenta",
        "ansi-background": "ansi_black",
        "ansi-foreground": "ansi_white",
        "border-blurred": "ansi_bright_black",
        "block-cursor-foreground": "ansi_black",
        "block-cursor-background": "ansi_white",
        "input-cursor-background": "ansi_black",
        "input-cursor-foreground": "ansi_bright_white",
        "input-selection-background": "ansi_bright_blue",
        "input-selection-foreground": "ansi_black",
    },
)

THEMES: tuple[Theme, ...] = (DARK, LIGHT, CONTRAST, ANSI16)
NAMES: tuple[str, ...] = tuple(theme.name for theme in THEMES)
