"""Provides the desk's view keys: filter, sort, focus, zoom, theme, help and quit.

A mixin of DeskApp. Keys typed ahead (over SSH they arrive in one batch) keep their order
across a focus change: a key is resolved against the focus it finds when it has bubbled
up to the app, but a printable key is typed into whatever had focus when it arrived. So
while the filter opens or closes, the keys behind the one that does it are held, and
replayed in order once that key has been handled: when the filter has opened, or closed,
or (the key did neither) when a marker posted behind it has bubbled up too. No timer
decides it: a busy pane can take most of a second to pass a key up.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input, Tabs

from desk.screens.confirm import ConfirmModal
from desk.screens.help import HelpScreen
from themes import NAMES
from widgets._table import LineTable
from widgets.positions_grid import PositionsGrid

# Only a key lost with its widget leaves keys held: they go on after this, late but in order.
HOLD_LIMIT_S = 5.0


class KeyHandled(Message):
    """Posted to a widget right behind a key it was sent: reaching the app, it says that
    key has been handled all the way up (the queues keep their order)."""

    def __init__(self, hold: int) -> None:
        super().__init__()
        self.hold = hold


class ViewKeys:
    """The keys that change what the desk shows, and quitting."""

    config: Any
    feed: Any
    state: Any
    compact: bool
    layout_mode: str
    _held: list[events.Key] | None
    _hold_timer: Timer | None
    _hold: int

    # --- key order across the filter --------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            if self._held is not None:
                self._held.append(event)
                return
            closing = self._moves_filter_focus(event.key)
            if closing is not None:
                self._held = []
                self._hold += 1
                hold = self._hold
                self._hold_timer = self.set_timer(HOLD_LIMIT_S, lambda: self._release_keys(hold))
                target = self.focused or self.screen
                await super().on_event(event)  # type: ignore[misc]
                if closing != "enter":
                    # Enter is handled when the box's Submitted comes back, behind this.
                    target.post_message(KeyHandled(hold))
                return
        await super().on_event(event)  # type: ignore[misc]

    async def on_key_handled(self, message: KeyHandled) -> None:
        await self._release_keys(message.hold)

    def _moves_filter_focus(self, key: str) -> str | None:
        """ "open", "enter" or "escape" if this key opens or closes the filter, else None."""
        box = self._filter_box()
        desk = self.screen_stack[0] if box is not None else None
        if desk is None or self.screen is not desk:
            return None
        if desk.focused is box:
            return key if key in ("enter", "escape") else None
        bound = desk.active_bindings.get(key)
        opens = bound is not None and bound.enabled and bound.binding.id == "filter"
        return "open" if opens else None

    async def _release_keys(self, hold: int | None = None) -> None:
        """Replay the held keys; ``hold`` names the hold a late marker or timer ends."""
        if hold is not None and hold != self._hold:
            return  # that hold ended already, and the keys now held wait for another
        if self._hold_timer is not None:
            self._hold_timer.stop()
            self._hold_timer = None
        held, self._held = self._held, None
        while held:
            key = held.pop(0)
            await self.on_event(key)
            if self._held is not None:
                # That key opened or closed the filter again: the rest wait behind it.
                self._held[:0] = held
                return

    # --- filter ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "filter":
            desk = self.screen_stack[0]
            return self.screen is desk and self.layout_mode != "small"
        if action == "expand":
            return True if isinstance(self.focused, LineTable) else None
        return super().check_action(action, parameters)  # type: ignore[misc,no-any-return]

    async def action_filter(self) -> None:
        desk = self.screen_stack[0]
        if desk.maximized is not None:
            desk.minimize()  # the box sits under the grid: a zoomed pane would hide it
        if self.compact:
            self.query_one(Tabs).active = "tab-middle"
            self._show_column("middle")
        box = self.query_one("#filter", Input)
        box.display = True
        desk.set_focus(box)  # now, not at the next idle: the held keys must reach the box
        await self._release_keys()

    # Named handlers, not @on: Textual collects @on only from a MessagePump's own class.
    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input is self._filter_box():
            self.query_one(PositionsGrid).set_filter(event.value)

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input is self._filter_box():
            self._focus_book()
            await self._release_keys()

    async def on_key(self, event: events.Key) -> None:
        box = self._filter_box()
        if box is not None and event.key == "escape" and self.screen_stack[0].focused is box:
            event.stop()
            box.value = ""
            box.display = False
            self._focus_book()
            await self._release_keys()

    def _filter_box(self) -> Input | None:
        # None while quitting: the desk's widgets go before the last messages are handled.
        if not self.screen_stack:
            return None
        return self.screen_stack[0].query_one_optional("#filter", Input)

    def _focus_book(self) -> None:
        grid = self.query_one(PositionsGrid)
        self.screen_stack[0].set_focus(grid)

    # --- view ------------------------------------------------------------------------------

    # No toast: the grid's border names the sort (also when its column is hidden), and a
    # toast per press stacked over the grid while the trader cycled to the column wanted.
    def action_sort(self) -> None:
        self.query_one(PositionsGrid).cycle_sort()

    def action_reverse_sort(self) -> None:
        self.query_one(PositionsGrid).reverse_sort()

    def action_jump(self, number: int) -> None:
        for pane_number, pane_id, _, column in self.PANES:
            if pane_number == number:
                if self.compact and not (self.layout_mode == "medium" and column == "right"):
                    self.query_one(Tabs).active = f"tab-{column}"
                    self._show_column(column)
                desk = self.screen_stack[0]
                if desk.maximized is not None:
                    desk.minimize()  # a zoomed pane would hide the one asked for
                # At once: a key typed right behind this one acts on the pane it names.
                desk.set_focus(self.query_one(f"#{pane_id}", Widget))
                return

    def action_expand(self) -> None:
        focused = self.focused
        if isinstance(focused, LineTable):
            focused.action_toggle()

    def action_zoom(self) -> None:
        desk = self.screen_stack[0]
        if desk.maximized is not None:
            desk.minimize()
            return
        focused = desk.focused
        if focused is not None:
            desk.maximize(focused)

    def action_next_theme(self) -> None:
        index = NAMES.index(self.theme) if self.theme in NAMES else -1
        self.theme = NAMES[(index + 1) % len(NAMES)]
        self.notify(f"theme {self.theme}", timeout=2)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(dict(self.config.ui.keys)))

    # --- quit ------------------------------------------------------------------------------

    async def action_quit(self) -> None:
        """Textual's own way out (ctrl+q, the palette's Quit) asks like ``q`` does."""
        self.action_quit_desk()

    def action_quit_desk(self) -> None:
        if isinstance(self.screen, QuitModal):
            return
        working = self.state.working_orders()
        if not working:
            self.exit()
            return
        where = (
            "they stay with the broker and resume when the desk starts again"
            if self.feed.kind == "embedded"
            else "they keep working in the engine"
        )
        self.push_screen(
            QuitModal(
                "Quit with orders working?",
                f"{len(working)} order(s) are working; {where}.",
                confirm="Quit",
            ),
            lambda yes: self.exit() if yes else None,
        )

    # Provided by DeskApp and App.
    PANES: Any
    screen: Any
    screen_stack: Any
    focused: Any
    theme: Any
    query_one: Any
    notify: Any
    push_screen: Any
    exit: Any
    set_timer: Any
    _show_column: Any


class QuitModal(ConfirmModal):
    """The working-orders question, told apart so that a second way out does not ask twice."""
