"""Provides the help screen: every key from the action registry, as the user has mapped it.

One text widget that lays its two columns out to its width (a long description wraps
under itself, not under the key), not a widget per row: over a slow SSH link the screen
must come up within the round trip and a frame, and mounting a hundred widgets did not.
"""

from __future__ import annotations

import textwrap
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Footer

from desk.actions import help_rows
from widgets._pane import TextPane

KEY_WIDTH = 18
NOTE = (
    "Values marked STALE have not updated within the staleness limit; a lost feed shows a "
    "banner at once. Esc closes this help."
)


class HelpBody(TextPane):
    def __init__(self, keymap: dict[str, str]) -> None:
        super().__init__(id="help-text")
        self.keymap = keymap

    def on_mount(self) -> None:
        self.repaint()

    def compose_text(self) -> str:
        width = max(self.inner_width, KEY_WIDTH + 20)
        wrap = textwrap.TextWrapper(
            width=width - KEY_WIDTH, break_on_hyphens=False, break_long_words=True
        )
        lines = ["[b]desk: keys[/]  (remap them in desk.toml under \\[ui.keys])"]
        group = None
        for section, key, what in help_rows(self.keymap):
            if section != group:
                lines += ["", f"[b $accent]{escape(section)}[/]"]
                group = section
            first, *rest = wrap.wrap(what) or [""]
            lines.append(f"[b]{escape(key.ljust(KEY_WIDTH))}[/]{escape(first)}")
            lines += [" " * KEY_WIDTH + escape(more) for more in rest]
        lines += ["", *(f"[$text-muted]{escape(n)}[/]" for n in textwrap.wrap(NOTE, width))]
        return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 84; max-width: 98%; height: 80%; border: thick $primary;
                                  background: $surface; padding: 0 2; }
    HelpScreen #help-text { height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, keymap: dict[str, str]) -> None:
        super().__init__()
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield HelpBody(self.keymap)
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)
