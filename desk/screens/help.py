"""Provides the help screen: every key from the action registry, as the user has mapped it."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from desk.actions import help_rows


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 84; max-width: 98%; height: 80%; border: thick $primary;
                                  background: $surface; padding: 0 2; }
    HelpScreen .group { text-style: bold; color: $accent; margin-top: 1; }
    HelpScreen Horizontal { height: auto; }
    HelpScreen .key { width: 18; text-style: bold; }
    HelpScreen .what { width: 1fr; }
    HelpScreen .note { color: $text-muted; margin-top: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, keymap: dict[str, str]) -> None:
        super().__init__()
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static("[b]desk: keys[/]  (remap them in desk.toml under \\[ui.keys])")
            group = None
            for section, key, what in help_rows(self.keymap):
                if section != group:
                    yield Static(section, classes="group", markup=False)
                    group = section
                # Two columns: a long description wraps under itself, not under the key.
                with Horizontal(classes="row"):
                    yield Static(key, classes="key", markup=False)
                    yield Static(what, classes="what", markup=False)
            yield Static(
                "Values marked STALE have not updated within the staleness limit; a lost "
                "feed shows a banner at once. Esc closes this help.",
                classes="note",
            )
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)
