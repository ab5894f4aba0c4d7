"""Provides the one action registry: bindings, footer, help screen and palette read it.

Importing it does not load textual, so desk.config can check ``[ui.keys]`` ids.

Every key the desk answers to is declared here once, with an id a user can remap in
desk.toml (``[ui.keys]``, e.g. ``close-position = "C"``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.binding import Binding


@dataclass(frozen=True, slots=True)
class DeskAction:
    id: str
    key: str
    action: str
    label: str
    help: str
    group: str
    show: bool = True
    priority: bool = False


ACTIONS: tuple[DeskAction, ...] = (
    DeskAction("close-position", "c", "close_position", "Close",
               "Close the selected position: preview legs, fill and Greeks, then confirm", "Trade"),
    DeskAction("roll-position", "r", "roll_position", "Roll",
               "Roll the selected position to a later expiry: choose, Enter sends", "Trade"),
    DeskAction("approve-proposal", "a", "approve_proposal", "Approve",
               "Approve the selected agent proposal (sends its order)", "Trade"),
    DeskAction("reject-proposal", "x", "reject_proposal", "Reject",
               "Reject the selected agent proposal", "Trade"),
    DeskAction("pause-agent", "p", "pause_agent", "Pause",
               "Pause or resume the selected agent", "Agents"),
    DeskAction("kill-switch", "K", "kill_switch", "Kill",
               "Pull the kill switch: cancel working orders, refuse new risk (asks first)", "Risk"),
    DeskAction("filter", "slash", "filter", "Filter",
               "Filter positions by symbol or strategy (Esc clears)", "View"),
    DeskAction("sort", "s", "sort", "Sort", "Sort positions by the next column", "View"),
    DeskAction("zoom", "z", "zoom", "Zoom", "Zoom the focused pane to the whole screen", "View"),
    DeskAction("next-theme", "t", "next_theme", "Theme", "Switch to the next theme", "View"),
    DeskAction("help", "question_mark", "help", "Help", "Show every key and what it does", "App"),
    DeskAction("quit", "q", "quit_desk", "Quit", "Quit (asks first if orders are working)", "App"),
    *(
        DeskAction(f"jump-{n}", str(n), f"jump({n})", f"Pane {n}", f"Focus pane {n}", "View",
                   show=False)
        for n in range(1, 10)
    ),
)  # fmt: skip


def bindings() -> list[Binding]:
    # Imported here so that desk.config can check key ids without loading textual.
    from textual.binding import Binding

    return [
        Binding(a.key, a.action, a.label, show=a.show, id=a.id, priority=a.priority, tooltip=a.help)
        for a in ACTIONS
    ]


def by_id(action_id: str) -> DeskAction | None:
    return next((a for a in ACTIONS if a.id == action_id), None)


def help_rows(keymap: dict[str, str]) -> Iterator[tuple[str, str, str]]:
    """(group, key as the user presses it, what it does), in registry order."""
    for action in ACTIONS:
        if action.id.startswith("jump-") and action.id != "jump-1":
            continue
        key = keymap.get(action.id, action.key)
        shown = _display(key)
        description = action.help
        if action.id == "jump-1":
            shown, description = "1–9", "Focus pane 1 to 9"
        yield action.group, shown, description
    yield "View", "tab / shift+tab", "Move focus between panes"
    yield "View", "enter", "Expand a position's legs, or a signal's reasons"
    yield "App", "ctrl+p", "Command palette: every action by name"


def _display(key: str) -> str:
    return {"slash": "/", "question_mark": "?"}.get(key, key)
