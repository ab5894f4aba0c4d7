"""Provides the help screen: every key from the action registry, as the user has mapped it."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from desk.actions import help_rows


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 84; max-width: 98%; height: 80%; border: thick $primary;
                                  background: $surface; padding: 0 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, keymap: dict[str, str]) -> None:
        super().__init__()
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        lines = ["[b]desk: keys[/]  (remap them in desk.toml under \\[ui.keys])", ""]
        group = None
        for section, key, what in help_rows(self.keymap):
            if section != group:
                lines.append(f"\n[b $accent]{section}[/]")
                group = section
            lines.append(f"  [b]{key:<16}[/] {what}")
        lines += [
            "",
            "[$text-muted]Values marked STALE have not updated within the staleness "
            "limit; a lost feed shows a banner at once. Esc closes this help.[/]",
        ]
        with VerticalScroll():
            yield Static("\n".join(lines), id="help-body")

    def action_close(self) -> None:
        self.dismiss(None)
