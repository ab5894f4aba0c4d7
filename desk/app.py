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
import math
from collections.abc import Iterable
from functools import partial
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input, Static, Tab, Tabs

from desk import actions
from desk.config import DeskConfig
from desk.feeds import Feed, FeedError, FeedFatal
from desk.screens.main import DeskScreen
from desk.state import DeskState, SequenceGap
from desk.trading import TradingKeys
from desk.view_keys import ViewKeys
from themes import STYLESHEET, THEMES
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


def layout_mode(width: int, height: int) -> str:
    """small (too small to use), compact (one column, tabs), medium (two), or wide."""
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        return "small"
    if height < COMPACT_HEIGHT or width < MEDIUM_WIDTH:
        return "compact"
    return "medium" if width < WIDE_WIDTH else "wide"


def screen_classes(mode: str, height: int) -> dict[str, bool]:
    """The desk screen's classes for a ``layout_mode`` at this terminal height."""
    return {"-compact": mode == "compact", "-medium": mode == "medium", "-short": height < 26}


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
# A clock further off the engine's than this is shown in the header.
CLOCK_SKEW_SHOWN_S = 1.0


class DeskApp(TradingKeys, ViewKeys, App[None]):
    CSS_PATH = STYLESHEET
    TITLE = "desk"
    BINDINGS: ClassVar[list[BindingType]] = actions.bindings()  # type: ignore[assignment]
    # A zoomed pane keeps the header (LIVE / STALE / DOWN and the kill switch, which a
    # trader must never lose sight of) and the banner that says why a feed is down.
    ALLOW_IN_MAXIMIZED_VIEW: ClassVar[str] = "DeskHeader, #banner, Footer"
    PANES = PANES

    def __init__(self, config: DeskConfig, feed: Feed, *, actor: str | None = None) -> None:
        super().__init__()
        self.config = config
        # Before the first stylesheet parse: a theme set once mounted parses it all again.
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = config.ui.theme
        self.feed = feed
        self.actor = actor or getpass.getuser()
        self.state = DeskState()
        self.feed_state = "CONNECTING"
        self.feed_detail = ""
        self._dirty: set[str] = set()
        self._flush_pending = False
        self._sent: set[str] = set()
        self._stale_shown = False
        self._in_flight: set[str] = set()
        self._pressed: dict[str, float] = {}
        self._key_time: float | None = None
        self._last_hint: tuple[str, float] = ("", 0.0)
        self._held: list[Any] | None = None
        self._hold_timer: Any = None
        self._hold = 0
        self._skew_shown = ""
        self._banner_text = ""
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

    def get_default_screen(self) -> DeskScreen:
        # Each class set later restyles every widget: start with those the first frame
        # needs (the layout for this terminal; not LIVE until the feed attaches).
        width, height = self.size
        layout = screen_classes(layout_mode(width, height), height)
        classes = [name for name, on in layout.items() if on]
        return DeskScreen(id="_default", classes=" ".join(("-feed-problem", *classes)))

    def get_system_commands(self, screen: Any) -> Iterable[SystemCommand]:
        """The palette lists every desk action from the registry, then Textual's own."""
        for action in actions.ACTIONS:
            if not action.palette:
                continue
            name = action.action.split("(")[0]
            if self.check_action(name, ()) is not True:
                continue  # nothing selected for it: the palette offers only what can run
            yield SystemCommand(action.label, action.help, partial(self.run_action, action.action))
        for command in super().get_system_commands(screen):
            if command.title != "Quit":  # ours asks first when orders are working
                yield command

    def get_theme_variable_defaults(self) -> dict[str, str]:
        # Textual's own themes stay usable from the palette: give our variables a value.
        return {
            "pnl-up": "green",
            "pnl-down": "red",
            "stale": "ansi_bright_black",
            "critical": "magenta",
        }

    def on_mount(self) -> None:
        if self.config.ui.keys:
            self.set_keymap(dict(self.config.ui.keys))
        for number, pane_id, title, _ in PANES:
            self.query_one(f"#{pane_id}").border_title = f"{number} {title}"
        self.query_one("#summary").border_title = "Portfolio"
        self._focus_book()
        self._layout_for(self.size.width, self.size.height)
        self.set_interval(1.0, self._watch_staleness)
        self.consume_feed()

    def on_resize(self, event: Any) -> None:
        self._layout_for(event.size.width, event.size.height)

    def _layout_for(self, width: int, height: int) -> None:
        self.layout_mode = layout_mode(width, height)
        small = self.layout_mode == "small"
        too_small = self.query_one("#too-small", Static)
        too_small.display = small
        too_small.update(
            f"Terminal too small: {width}×{height}.\nThe desk needs at least "
            f"{MIN_WIDTH}×{MIN_HEIGHT}; q quits."
        )
        self.query_one("#columns").display = not small
        if not small and self.focused is None and not self._modal_open():
            # Hiding the panes (too small) dropped the focus: give the book its cursor back.
            self._focus_book()
        self.compact = self.layout_mode in ("compact", "medium")
        # The desk's own screen, even while a dialog is on top of it (self.screen). One
        # change of its classes restyles every widget: make it one change, not three.
        self.screen_stack[0].update_classes(screen_classes(self.layout_mode, height))
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
                self._repaint_panes()
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
            # A new journal: drawing the desk first (a frame, then the build holding the
            # loop) put the book on screen about 0.25 s later. Build at once instead.
            return
        self.state.positions = {view.position_id: view for view in views}
        self._set_feed("CONNECTING", "starting the engine…")
        self.query_one(PositionsGrid).show(views)
        await asyncio.sleep(0.03)  # one frame: let it reach the screen before the build

    def _set_feed(self, state: str, detail: str = "") -> None:
        self.feed_state = state
        self.feed_detail = detail
        self.screen_stack[0].set_class(state != "LIVE", "-feed-problem")
        self._render_header()

    def _show_banner(self) -> None:
        """One line for what the trader must know now: a feed problem, else a clock far
        enough off the engine's that commands will be refused."""
        state, detail = self.feed_state, self.feed_detail
        if state in ("DOWN", "RECONNECTING"):
            since = "" if self.state.status is None else " — values shown are as of the last update"
            text = f"FEED {state}: {detail}{since}"
        elif state == "STALE":
            text = (
                f"FEED STALE: nothing from the engine for "
                f"{self.state.quiet_for('status'):.0f}s — values may be old"
            )
        else:
            text = self._skew_warning()
        if text != self._banner_text:  # called at every status event: repaint on change only
            self._banner_text = text
            banner = self.query_one("#banner", Static)
            banner.update(text)
            banner.display = bool(text)

    def _clock_skew(self) -> float | None:
        """This machine's clock minus the engine's, as a remote feed measures it at each
        heartbeat it reads (less the beat's age); None within CLOCK_SKEW_SHOWN_S, or
        unknown."""
        skew = getattr(self.feed, "clock_skew_s", None)
        if not isinstance(skew, int | float) or not math.isfinite(skew):
            return None
        if abs(skew) <= CLOCK_SKEW_SHOWN_S:
            return None
        return float(skew)

    def _skew_text(self) -> str:
        skew = self._clock_skew()
        return "" if skew is None else f"clock {skew:+.0f}s vs engine"

    def _skew_warning(self) -> str:
        skew = self._clock_skew()
        redis = self.config.redis
        if skew is None:
            return ""
        if skew > redis.clock_skew_s:
            return (
                f"CLOCK: this machine is {skew:.0f}s ahead of the engine; it refuses commands "
                f"stamped over {redis.clock_skew_s:g}s ahead (CLOCK_SKEW): set this clock right"
            )
        if -skew > redis.command_ttl_s / 2:
            return (
                f"CLOCK: this machine is {-skew:.0f}s behind the engine; it refuses commands "
                f"older than {redis.command_ttl_s:g}s (EXPIRED): set this clock right"
            )
        return ""

    def _schedule_flush(self) -> None:
        if not self._flush_pending:
            self._flush_pending = True
            self.call_later(self._repaint_panes)

    def _repaint_panes(self) -> None:
        # Not _flush: App._flush(stderr=...) is Textual's, called for captured output.
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
        # A feed gone quiet (or back) changes every row's marker, not only changed rows'.
        if every or grid.stale != stale:
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
            self.focused,
        )
        if signature != self._keys_signature:
            self._keys_signature = signature
            self.refresh_bindings()

    @on(LineTable.Selected)
    def _selection_moved(self) -> None:
        self._refresh_keys()

    def _render_header(self) -> None:
        self._skew_shown = self._skew_text()
        self.query_one(DeskHeader).show(
            self.state.status,
            feed=self.feed.kind,
            state=self.feed_state,
            detail=self.feed_detail,
            clock=self._skew_shown,
        )
        self._show_banner()

    def _watch_staleness(self) -> None:
        """Once a second: a feed quiet past the limit is STALE, visibly and in words."""
        if self._skew_text() != self._skew_shown:
            self._render_header()  # the feed measured its clock again, at a heartbeat
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
            self._repaint_panes()

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

    async def on_unmount(self) -> None:
        await self.feed.close()
