"""Provides DeskApp: the panes, the keys, and the worker that keeps them bound to a feed.

A worker attaches to the feed, loads the snapshot into DeskState, then applies events as
they come; each burst of events schedules one repaint of the panes whose topics changed.
Keys go through the action registry; destructive ones open a dialog that previews the
effect and sends one command with a fixed id.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
from collections.abc import Iterable
from functools import partial
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Footer, Input, Static, Tab, Tabs

from desk import actions
from desk.config import DeskConfig
from desk.feeds import Feed, FeedError, FeedFatal
from desk.screens.confirm import ConfirmModal
from desk.screens.help import HelpScreen
from desk.state import DeskState, SequenceGap
from desk.trading import TradingKeys
from themes import NAMES, STYLESHEET, THEMES
from widgets._table import LineTable
from widgets.agent_status import AgentStatusPane
from widgets.fills import RecentFills
from widgets.greeks_pane import GreeksPane
from widgets.header import DeskHeader
from widgets.pnl_chart import PnlChart
from widgets.portfolio_summary import PortfolioSummaryPane
from widgets.positions_grid import PositionsGrid
from widgets.proposals import ProposalsPane
from widgets.regime_pane import RegimePane
from widgets.risk_pane import RiskPane
from widgets.signal_feed import SignalFeed

log = logging.getLogger(__name__)

WIDE_WIDTH = 160
MEDIUM_WIDTH = 110
COMPACT_HEIGHT = 30
MIN_WIDTH = 50
MIN_HEIGHT = 12
# Pane number (the 1–9 keys), widget id, title, column.
PANES = (
    (1, "positions", "Positions", "middle"),
    (2, "proposals", "Proposals", "left"),
    (3, "signals", "Signals", "left"),
    (4, "agents", "Agents", "left"),
    (5, "fills", "Recent fills", "middle"),
    (6, "greeks", "Greeks", "right"),
    (7, "risk", "Risk", "right"),
    (8, "pnl", "P&L", "right"),
    (9, "regime", "Regime", "right"),
)
TABS = (("middle", "Book"), ("left", "Agents"), ("right", "Risk"))


class DeskApp(TradingKeys, App[None]):
    CSS_PATH = STYLESHEET
    TITLE = "desk"
    BINDINGS: ClassVar[list[BindingType]] = actions.bindings()  # type: ignore[assignment]

    def __init__(self, config: DeskConfig, feed: Feed, *, actor: str | None = None) -> None:
        super().__init__()
        self.config = config
        self.feed = feed
        self.actor = actor or getpass.getuser()
        self.state = DeskState()
        self.feed_state = "CONNECTING"
        self.feed_detail = ""
        self._dirty: set[str] = set()
        self._flush_pending = False
        self._sent: set[str] = set()
        self._stale_shown = False
        self._busy = False
        self.compact = False
        self.layout_mode = "wide"
        self._keys_signature: object = None
        self.attached = asyncio.Event()

    # --- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield DeskHeader(id="header")
        yield Static("", id="banner")
        yield Tabs(*(Tab(label, id=f"tab-{column}") for column, label in TABS), id="tabs")
        with Horizontal(id="columns"):
            with Vertical(id="left", classes="column"):
                yield AgentStatusPane(id="agents")
                yield SignalFeed(id="signals")
                yield ProposalsPane(id="proposals")
            with Vertical(id="middle", classes="column"):
                yield PortfolioSummaryPane(id="summary")
                yield PositionsGrid(id="positions")
                yield Input(
                    placeholder="filter positions: symbol or strategy (Esc clears)", id="filter"
                )
                yield RecentFills(id="fills")
            with Vertical(id="right", classes="column"):
                yield GreeksPane(id="greeks")
                yield RiskPane(id="risk")
                yield PnlChart(id="pnl")
                yield RegimePane(id="regime")
        yield Static("", id="too-small")
        yield Footer()

    def get_system_commands(self, screen: Any) -> Iterable[SystemCommand]:
        """The palette lists every desk action from the registry, then Textual's own."""
        for action in actions.ACTIONS:
            if action.id.startswith("jump-"):
                continue
            name = action.action.split("(")[0]
            if self.check_action(name, ()) is not True:
                continue  # nothing selected for it: the palette offers only what can run
            yield SystemCommand(action.label, action.help, partial(self.run_action, action.action))
        yield from super().get_system_commands(screen)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        # Textual's own themes stay usable from the palette: give our variables a value.
        return {"pnl-up": "green", "pnl-down": "red", "stale": "#808080", "critical": "magenta"}

    def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = self.config.ui.theme
        if self.config.ui.keys:
            self.set_keymap(dict(self.config.ui.keys))
        for number, pane_id, title, _ in PANES:
            self.query_one(f"#{pane_id}").border_title = f"{number} {title}"
        self.query_one("#summary").border_title = "Portfolio"
        self.query_one(PositionsGrid).focus()
        self._layout_for(self.size.width, self.size.height)
        self.set_interval(1.0, self._watch_staleness)
        self.consume_feed()

    def on_resize(self, event: Any) -> None:
        self._layout_for(event.size.width, event.size.height)

    def _layout_for(self, width: int, height: int) -> None:
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        too_small = self.query_one("#too-small", Static)
        too_small.display = small
        too_small.update(
            f"Terminal too small: {width}×{height}.\nThe desk needs at least "
            f"{MIN_WIDTH}×{MIN_HEIGHT}; q quits."
        )
        self.query_one("#columns").display = not small
        if not small and self.focused is None and not self._modal_open():
            # Hiding the panes (too small) dropped the focus: give the book its cursor back.
            self.query_one(PositionsGrid).focus()
        if small:
            self.layout_mode = "small"
        elif height < COMPACT_HEIGHT or width < MEDIUM_WIDTH:
            self.layout_mode = "compact"
        elif width < WIDE_WIDTH:
            self.layout_mode = "medium"
        else:
            self.layout_mode = "wide"
        self.compact = self.layout_mode in ("compact", "medium")
        # The desk's own screen, even while a dialog is on top of it (self.screen).
        desk = self.screen_stack[0]
        desk.set_class(self.layout_mode == "compact", "-compact")
        desk.set_class(self.layout_mode == "medium", "-medium")
        desk.set_class(height < 26, "-short")
        self.query_one("#tabs").display = self.compact
        self.query_one("#tab-right").display = self.layout_mode == "compact"
        active = (self.query_one(Tabs).active or "tab-middle").removeprefix("tab-")
        if self.layout_mode == "medium" and active == "right":
            active = "middle"
        self._show_column(active)

    def _show_column(self, column: str) -> None:
        """Compact: only ``column``. Medium: it and the risk column. Wide: all three."""
        for name, _ in TABS:
            shown = (
                self.layout_mode == "wide"
                or name == column
                or (self.layout_mode == "medium" and name == "right")
            )
            self.query_one(f"#{name}").display = shown

    @on(Tabs.TabActivated)
    def _tab(self, event: Tabs.TabActivated) -> None:
        if self.compact and event.tab.id:
            self._show_column(event.tab.id.removeprefix("tab-"))

    # --- feed -----------------------------------------------------------------------------

    @work(exclusive=True, group="feed", exit_on_error=False)
    async def consume_feed(self) -> None:
        backoff = 0.5
        await self._show_preview()
        while True:
            try:
                snapshot = await self.feed.attach()
                self.state.load(snapshot)
                self._set_feed("LIVE")
                backoff = 0.5
                self._dirty.update(("all",))
                self._flush()
                self.attached.set()
                async for event in self.feed.events():
                    topic = self.state.apply(event)
                    if topic:
                        self._dirty.add(topic)
                        if self.feed_state == "STALE":
                            # News arrived: say so now, not at the next staleness check.
                            self._set_feed("LIVE")
                            self._stale_shown = False
                            self._dirty.add("all")
                        self._schedule_flush()
            except SequenceGap as gap:
                log.warning("feed gap (%s): attaching again", gap)
                self._set_feed("RECONNECTING", f"resync: {gap}")
                continue
            except asyncio.CancelledError:
                raise
            except FeedFatal as exc:
                self.exit(return_code=exc.exit_code, message=f"desk: {exc}")
                return
            except (FeedError, ConnectionError, OSError, TimeoutError) as exc:
                self._set_feed("DOWN", str(exc))
            except Exception as exc:  # a feed bug must show, not kill the desk
                log.exception("feed failed")
                self._set_feed("DOWN", f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
            self._set_feed("RECONNECTING", self.feed_detail)

    async def _show_preview(self) -> None:
        """Draw the book from the journal alone while the engine is built: positions at
        once, each marked as pending a price, the figures a moment later."""
        preview = getattr(self.feed, "preview", None)
        views = preview() if preview is not None else ()
        if not views:
            return
        self.state.positions = {view.position_id: view for view in views}
        self._set_feed("CONNECTING", "starting the engine…")
        self.query_one(PositionsGrid).show(views)
        await asyncio.sleep(0.03)  # one frame: let it reach the screen before the build

    def _set_feed(self, state: str, detail: str = "") -> None:
        self.feed_state = state
        self.feed_detail = detail
        banner = self.query_one("#banner", Static)
        if state in ("DOWN", "RECONNECTING"):
            since = "" if self.state.status is None else " — values shown are as of the last update"
            banner.update(f"FEED {state}: {detail}{since}")
            banner.display = True
        elif state == "STALE":
            banner.update(
                f"FEED STALE: nothing from the engine for "
                f"{self.state.quiet_for('status'):.0f}s — values may be old"
            )
            banner.display = True
        else:
            banner.display = False
        self.screen_stack[0].set_class(state != "LIVE", "-feed-problem")
        self._render_header()

    def _schedule_flush(self) -> None:
        if not self._flush_pending:
            self._flush_pending = True
            self.call_later(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        if not self.is_running:
            return  # a flush scheduled just before quitting: the panes are already gone
        topics, self._dirty = self._dirty, set()
        every = "all" in topics
        state = self.state
        stale = self._stale_shown
        if every or topics & {"status"}:
            self._render_header()
        grid = self.query_one(PositionsGrid)
        if every:
            state.take_position_changes()
            grid.show(state.positions.values(), stale=stale)
        elif "positions" in topics:
            grid.update(*state.take_position_changes())
        if every or topics & {"portfolio"}:
            self.query_one(PortfolioSummaryPane).show(state.portfolio, stale=stale)
            self.query_one(GreeksPane).show(
                state.portfolio, list(state.greeks_history), stale=stale
            )
        if every or topics & {"risk", "alerts", "status"}:
            halted = state.status.trading_halted if state.status else ""
            self.query_one(RiskPane).show(state.risk, list(state.alerts), halted=halted)
        if every or topics & {"agents", "status"}:
            now = state.status.engine_time if state.status else None
            self.query_one(AgentStatusPane).show(state.agents.values(), now)
        if every or topics & {"signals"}:
            self.query_one(SignalFeed).show(state.signals.values())
        if every or topics & {"proposals"}:
            self.query_one(ProposalsPane).show(state.proposals.values())
        if every or topics & {"fills"}:
            self.query_one(RecentFills).show(state.fills)
        if every or topics & {"pnl"}:
            self.query_one(PnlChart).show(list(state.pnl))
        if every or topics & {"regime", "quotes"}:
            vix = state.quotes.get("VIX")
            self.query_one(RegimePane).show(state.regime, vix.last if vix else None)
        if "results" in topics:
            self._announce_results()
        self._refresh_keys()

    def _refresh_keys(self) -> None:
        """Re-evaluate which keys can act (the footer dims the others), only when the
        selection they depend on changed: refreshing the footer costs a restyle."""
        if not self.is_running or not self.query(PositionsGrid):
            return  # quitting: the panes are already gone
        position = self.selected_position()
        signature = (
            None if position is None else (position.position_id, position.status),
            self.selected_proposal() is not None,
            self.selected_agent(),
        )
        if signature != self._keys_signature:
            self._keys_signature = signature
            self.refresh_bindings()

    @on(LineTable.Selected)
    def _selection_moved(self) -> None:
        self._refresh_keys()

    def _render_header(self) -> None:
        self.query_one(DeskHeader).show(
            self.state.status, feed=self.feed.kind, state=self.feed_state, detail=self.feed_detail
        )

    def _watch_staleness(self) -> None:
        """Once a second: a feed quiet past the limit is STALE, visibly and in words."""
        if self.feed_state not in ("LIVE", "STALE"):
            return
        quiet = self.state.quiet_for("status") > self.config.ui.stale_after_s
        if quiet != (self.feed_state == "STALE"):
            self._set_feed("STALE" if quiet else "LIVE")
        elif quiet:
            self._set_feed("STALE")
        if quiet != self._stale_shown:
            self._stale_shown = quiet
            self._dirty.update(("positions", "portfolio"))
            self._flush()

    def _announce_results(self) -> None:
        """Results of commands sent from another terminal are news here; ours we showed."""
        for result in list(self.state.results):
            if result.command_id in self._sent:
                continue
            self._sent.add(result.command_id)
            verdict = "done" if result.accepted else f"refused ({result.code})"
            self.notify(
                f"{verdict}: {result.message}",
                title="command from another desk",
                severity="information" if result.accepted else "warning",
            )

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.query_one(PositionsGrid).set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one(PositionsGrid).focus()

    def on_key(self, event: Any) -> None:
        box = self.query_one("#filter", Input)
        if event.key == "escape" and box.has_focus:
            box.value = ""
            box.display = False
            self.query_one(PositionsGrid).focus()
            event.stop()

    def action_sort(self) -> None:
        label = self.query_one(PositionsGrid).cycle_sort()
        self.notify(f"positions sorted by {label}", timeout=2)

    def action_jump(self, number: int) -> None:
        for pane_number, pane_id, _, column in PANES:
            if pane_number == number:
                if self.compact and not (self.layout_mode == "medium" and column == "right"):
                    self.query_one(Tabs).active = f"tab-{column}"
                    self._show_column(column)
                widget = self.query_one(f"#{pane_id}", Widget)
                widget.focus()
                return

    def action_zoom(self) -> None:
        if self.screen.maximized is not None:
            self.screen.minimize()
            return
        focused = self.focused
        if focused is not None:
            self.screen.maximize(focused)

    def action_next_theme(self) -> None:
        index = NAMES.index(self.theme) if self.theme in NAMES else -1
        self.theme = NAMES[(index + 1) % len(NAMES)]
        self.notify(f"theme {self.theme}", timeout=2)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(dict(self.config.ui.keys)))

    def action_quit_desk(self) -> None:
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
            ConfirmModal(
                "Quit with orders working?",
                f"{len(working)} order(s) are working; {where}.",
                confirm="Quit",
            ),
            lambda yes: self.exit() if yes else None,
        )

    async def on_unmount(self) -> None:
        await self.feed.close()
