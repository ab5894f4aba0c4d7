"""Provides the one action registry: bindings, footer, help screen and palette read it.

Importing it does not load textual, so desk.config can check ``[ui.keys]`` ids.

Every key the desk answers to is declared here once, with an id a user can remap in
desk.toml (``[ui.keys]``, e.g. ``close-position = "C"``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from textual.binding import Binding

Scope = Literal["app", "screen"]


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
    scope: Scope = "app"
    """"screen": bound on the desk's screen, where it replaces Textual's binding for the
    same key (tab and shift+tab), so that remapping it moves the key rather than adding one."""
    palette: bool = True
    """Listed in the command palette (moving focus from the palette means nothing)."""


ACTIONS: tuple[DeskAction, ...] = (
    # First, so the footer shows it at 80 columns, where only about eight keys fit.
    DeskAction("help", "question_mark", "help", "Help", "Show every key and what it does", "App"),
    DeskAction("close-position", "c", "close_position", "Close",
               "Close the selected position: preview legs, fill and Greeks, then confirm", "Trade"),
    DeskAction("roll-position", "r", "roll_position", "Roll",
               "Roll the selected position to a later expiry: choose, Enter sends", "Trade"),
    DeskAction("approve-proposal", "a", "approve_proposal", "Approve",
               "Approve the proposal selected in the Proposals pane: preview, then confirm "
               "(sends its order)", "Trade"),
    DeskAction("reject-proposal", "x", "reject_proposal", "Reject",
               "Reject the proposal selected in the Proposals pane", "Trade"),
    DeskAction("pause-agent", "p", "pause_agent", "Pause",
               "Pause or resume the agent selected in the Agents pane", "Agents"),
    DeskAction("kill-switch", "K", "kill_switch", "Kill",
               "Pull the kill switch: cancel working orders, refuse new risk (asks first)", "Risk"),
    DeskAction("filter", "slash", "filter", "Filter",
               "Filter positions by symbol or strategy (Enter keeps it, Esc clears)", "View"),
    DeskAction("sort", "s", "sort", "Sort", "Sort positions by the next column", "View"),
    DeskAction("reverse-sort", "S", "reverse_sort", "Reverse",
               "Reverse the sort (worst P&L first, say)", "View", show=False),
    DeskAction("zoom", "z", "zoom", "Zoom",
               "Zoom the focused pane to the whole screen; again restores", "View"),
    DeskAction("next-theme", "t", "next_theme", "Theme", "Switch to the next theme", "View"),
    DeskAction("focus-next", "tab", "app.focus_next", "Next pane", "Move focus to the next pane",
               "Move", show=False, scope="screen", palette=False),
    DeskAction("focus-previous", "shift+tab", "app.focus_previous", "Previous pane",
               "Move focus to the previous pane", "Move", show=False, scope="screen",
               palette=False),
    *(
        DeskAction(f"jump-{n}", str(n), f"jump({n})", f"Pane {n}", f"Focus pane {n}", "Move",
                   show=False, palette=False)
        for n in range(1, 10)
    ),
    DeskAction("expand", "enter", "expand", "Expand",
               "Expand or fold a position's legs, a proposal's legs or a signal's reasons",
               "Move", show=False, palette=False),
    # Textual's own palette binding is left out when one with this action exists; the
    # footer shows it on the right, labelled as Textual labels it.
    DeskAction("command-palette", "ctrl+p", "command_palette", "palette",
               "Command palette: every action by name", "App", show=False, priority=True,
               palette=False),
    DeskAction("quit", "q", "quit_desk", "Quit", "Quit (asks first if orders are working)", "App"),
)  # fmt: skip


def bindings(scope: Scope = "app") -> list[Binding]:
    # Imported here so that desk.config can check key ids without loading textual.
    from textual.binding import Binding

    return [
        Binding(a.key, a.action, a.label, show=a.show, id=a.id, priority=a.priority, tooltip=a.help)
        for a in ACTIONS
        if a.scope == scope
    ]


def by_id(action_id: str) -> DeskAction | None:
    return next((a for a in ACTIONS if a.id == action_id), None)


def key_for(action_id: str, keymap: dict[str, str]) -> str:
    """The key as the user presses it, after ``[ui.keys]``: "/", "?", "C", "shift+tab"."""
    action = by_id(action_id)
    default = action.key if action is not None else action_id
    return display(keymap.get(action_id, default))


def help_rows(keymap: dict[str, str]) -> Iterator[tuple[str, str, str]]:
    """(group, key as the user presses it, what it does): one run per group, trading
    first and the app's own keys last (the registry's order is the footer's)."""
    groups: dict[str, list[tuple[str, str]]] = {g: [] for g in HELP_GROUPS}
    jumps = [a for a in ACTIONS if a.id.startswith("jump-")]
    for action in ACTIONS:
        rows = groups.setdefault(action.group, [])
        if action in jumps and not any(a.id in keymap for a in jumps):
            if action is jumps[0]:
                rows.append((f"{jumps[0].key}–{jumps[-1].key}", "Focus pane 1 to 9"))
            continue
        rows.append((key_for(action.id, keymap), action.help))
    for group, rows in groups.items():
        for key, what in rows:
            yield group, key, what


HELP_GROUPS = ("Trade", "Agents", "Risk", "View", "Move", "App")


def display(key: str) -> str:
    names = {"slash": "/", "question_mark": "?"}
    return ",".join(names.get(k.strip(), k.strip()) for k in key.split(","))
