"""Provides small Textual-markup helpers: signed amounts in theme colours, markers, bars,
and pieces of styled text that know their width, to lay out lines to a pane's width.

Colour always comes with text: a sign on amounts, a word on states, so nothing depends
on colour alone (NO_COLOR, 8-colour terminals, colour-blind traders).

Widths are counted on the plain text as the pieces are built: parsing markup back to
measure it costs a third of a millisecond a line, several times a tick.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from textual.markup import escape

from widgets import _format as fmt

LEVEL_WORDS = {"ok": "OK", "warning": "WARN", "critical": "CRIT"}
LEVEL_STYLES = {"ok": "$pnl-up", "warning": "$warning", "critical": "b $critical"}
TONE_STYLES = {"up": "$pnl-up", "down": "$pnl-down"}


@dataclass(frozen=True, slots=True)
class Piece:
    """Markup and the number of terminal cells it takes once drawn."""

    markup: str
    width: int

    def __add__(self, other: Piece) -> Piece:
        return Piece(self.markup + other.markup, self.width + other.width)


def styled(value: str, style: str = "") -> Piece:
    body = escape(value)
    return Piece(f"[{style}]{body}[/]" if style else body, cell_len(value))


def signed_piece(value: float | None, decimals: int = 0, width: int = 0) -> Piece:
    """A signed amount in its tone's colour, right-aligned in ``width`` cells."""
    amount = fmt.money(value, decimals, sign=True)
    return styled(amount.rjust(width), TONE_STYLES.get(fmt.tone(value), ""))


def flow(pieces: Iterable[Piece], width: int, spacing: int = 2) -> list[str]:
    """Pieces left to right, ``spacing`` apart, onto as many lines as ``width`` needs."""
    lines: list[str] = []
    markup, used = "", 0
    for piece in pieces:
        if used and used + spacing + piece.width > width:
            lines.append(markup)
            markup, used = "", 0
        if used:
            markup += " " * spacing
            used += spacing
        markup += piece.markup
        used += piece.width
    if used:
        lines.append(markup)
    return lines


def fit_line(pieces: Iterable[tuple[int, Piece]], width: int, spacing: int = 2) -> str:
    """One line of ``(drop, piece)``: while it is too wide, the piece with the highest
    ``drop`` goes (the first of equals); pieces with drop 0 always stay."""
    kept = list(pieces)
    while len(kept) > 1 and sum(p.width for _, p in kept) + spacing * (len(kept) - 1) > width:
        worst = max(range(len(kept)), key=lambda i: kept[i][0])
        if kept[worst][0] == 0:
            break
        del kept[worst]
    return (" " * spacing).join(piece.markup for _, piece in kept)


def wrap(value: str, width: int, *, lead: Piece | None = None, style: str = "") -> list[str]:
    """``value`` wrapped to ``width``, after ``lead`` on the first line; later lines are
    indented under the text so a message reads as one block beside its time and level."""
    indent = lead.width if lead is not None else 0
    room = max(width - indent, 8)
    chunks = textwrap.wrap(value, room, break_long_words=True, break_on_hyphens=False) or [""]
    lines = []
    for n, chunk in enumerate(chunks):
        head = (lead.markup if lead is not None else "") if n == 0 else " " * indent
        body = escape(chunk)
        lines.append(head + (f"[{style}]{body}[/]" if style else body))
    return lines


def fit(value: str, width: int) -> str:
    """Plain text cut to ``width`` cells with an ellipsis (or padded to it)."""
    if cell_len(value) <= width:
        return value + " " * (width - cell_len(value))
    return set_cell_size(value, max(width - 1, 0)) + "…" if width > 0 else ""


def signed(value: float | None, decimals: int = 0) -> str:
    return signed_piece(value, decimals).markup


def stale_tag(stale: bool) -> str:
    return "  [i $stale]STALE[/]" if stale else ""


def bar(fraction: float, width: int, level: str) -> str:
    """A limit-use bar: filled cells in the level's colour, then the word."""
    fraction = max(0.0, min(fraction, 1.0))
    filled = round(fraction * width)
    style = LEVEL_STYLES.get(level, "")
    body = "█" * filled + "░" * (width - filled)
    return f"[{style}]{body}[/]" if style else body


def level(level_name: str, width: int = 0) -> str:
    """The level's word in its colour, padded (outside the markup) to ``width`` cells."""
    word = LEVEL_WORDS.get(level_name, level_name)
    return styled(word, LEVEL_STYLES.get(level_name, "")).markup + " " * (width - len(word))


def text(value: str) -> str:
    return escape(value)
