"""Provides the desk's view of the engine: a snapshot with events applied, and what changed.

Pure Python, no Textual: the app feeds it the snapshot and then every event, and asks
which topics changed so it repaints only those panes. It checks that event sequence
numbers follow on from the snapshot; a gap means something was missed and the feed must
attach again. It also remembers, per topic, when it last heard anything, so values that
have gone quiet can be marked stale on screen.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.records import (
    AgentStatus,
    AgentsUpdated,
    Alert,
    AlertRaised,
    AnyEvent,
    CommandCompleted,
    CommandResult,
    EngineStatus,
    EngineStatusChanged,
    Fill,
    FillRecorded,
    FlowPrint,
    FlowPrinted,
    Order,
    OrderUpdated,
    PnlPoint,
    PnlRecorded,
    PortfolioSummary,
    PortfolioUpdated,
    PositionsUpdated,
    PositionView,
    Proposal,
    ProposalUpdated,
    Quote,
    QuotesUpdated,
    RegimeChanged,
    RegimeState,
    ResyncRequired,
    RiskSummary,
    RiskUpdated,
    Signal,
    SignalEmitted,
    Snapshot,
)

TOPICS = (
    "status", "quotes", "positions", "portfolio", "risk", "orders", "fills", "signals",
    "proposals", "agents", "alerts", "flow", "pnl", "regime", "results",
)  # fmt: skip
OPEN_ORDER_STATES = frozenset({"new", "working", "partially_filled", "unknown"})


class SequenceGap(Exception):
    """Events arrived out of order or with a hole: attach again from a snapshot."""


@dataclass
class DeskState:
    status: EngineStatus | None = None
    quotes: dict[str, Quote] = field(default_factory=dict)
    positions: dict[str, PositionView] = field(default_factory=dict)
    portfolio: PortfolioSummary | None = None
    risk: RiskSummary | None = None
    orders: dict[int, Order] = field(default_factory=dict)
    fills: deque[Fill] = field(default_factory=lambda: deque(maxlen=200))
    signals: OrderedDict[str, Signal] = field(default_factory=OrderedDict)
    proposals: OrderedDict[str, Proposal] = field(default_factory=OrderedDict)
    agents: dict[str, AgentStatus] = field(default_factory=dict)
    alerts: deque[Alert] = field(default_factory=lambda: deque(maxlen=200))
    flow: deque[FlowPrint] = field(default_factory=lambda: deque(maxlen=200))
    pnl: deque[PnlPoint] = field(default_factory=lambda: deque(maxlen=2_000))
    greeks_history: deque[tuple[int, float, float, float, float]] = field(
        default_factory=lambda: deque(maxlen=120)
    )
    regime: RegimeState | None = None
    results: deque[CommandResult] = field(default_factory=lambda: deque(maxlen=50))
    seq: int = 0
    changed_positions: dict[str, PositionView] = field(default_factory=dict)
    """Positions changed since the app last took them (see take_position_changes)."""
    removed_positions: set[str] = field(default_factory=set)
    heard: dict[str, float] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    max_signals: int = 300

    def load(self, snapshot: Snapshot) -> None:
        """Replace everything with the snapshot; events after ``snapshot.seq`` follow."""
        self.status = snapshot.status
        self.quotes = {q.symbol: q for q in snapshot.quotes}
        self.positions = {p.position_id: p for p in sorted(snapshot.positions, key=book_order)}
        self.portfolio = snapshot.portfolio
        self.risk = snapshot.risk
        self.orders = {o.order_id: o for o in snapshot.orders}
        self.fills = deque(snapshot.fills, maxlen=200)
        self.signals = OrderedDict((s.signal_id, s) for s in snapshot.signals)
        self.proposals = OrderedDict((p.proposal_id, p) for p in snapshot.proposals)
        self.agents = {a.name: a for a in snapshot.agents}
        self.alerts = deque(snapshot.alerts, maxlen=200)
        self.flow = deque(snapshot.flow, maxlen=200)
        self.pnl = deque(snapshot.pnl_history, maxlen=2_000)
        self.greeks_history.clear()
        for point in snapshot.pnl_history:
            self._record_greeks(point)
        self.regime = snapshot.regime
        self.seq = snapshot.seq
        self.changed_positions.clear()
        self.removed_positions.clear()
        now = self.clock()
        self.heard = dict.fromkeys(TOPICS, now)

    def apply(self, event: AnyEvent) -> str:
        """Apply one event; return the topic it changed. Raises SequenceGap on a hole."""
        if isinstance(event, ResyncRequired):
            raise SequenceGap(event.reason)
        if event.seq <= self.seq:
            return ""  # already reflected in the snapshot: an attach race, not an error
        if event.seq != self.seq + 1:
            raise SequenceGap(f"expected event {self.seq + 1}, got {event.seq}")
        self.seq = event.seq
        topic = self._apply(event)
        self.heard[topic] = self.clock()
        return topic

    def _apply(self, event: AnyEvent) -> str:
        match event:
            case QuotesUpdated():
                for quote in event.quotes:
                    self.quotes[quote.symbol] = quote
                return "quotes"
            case PositionsUpdated():
                for view in event.changed:
                    self.positions[view.position_id] = view
                    self.changed_positions[view.position_id] = view
                    self.removed_positions.discard(view.position_id)
                for gone in event.removed:
                    self.positions.pop(gone, None)
                    self.changed_positions.pop(gone, None)
                    self.removed_positions.add(gone)
                return "positions"
            case PortfolioUpdated():
                self.portfolio = event.portfolio
                return "portfolio"
            case RiskUpdated():
                self.risk = event.risk
                return "risk"
            case OrderUpdated():
                self.orders[event.order.order_id] = event.order
                if event.order.state not in OPEN_ORDER_STATES:
                    self.orders.pop(event.order.order_id, None)
                return "orders"
            case FillRecorded():
                self.fills.append(event.fill)
                return "fills"
            case SignalEmitted():
                self.signals[event.signal.signal_id] = event.signal
                self.signals.move_to_end(event.signal.signal_id)
                while len(self.signals) > self.max_signals:
                    self.signals.popitem(last=False)
                return "signals"
            case ProposalUpdated():
                self.proposals[event.proposal.proposal_id] = event.proposal
                return "proposals"
            case AgentsUpdated():
                self.agents = {a.name: a for a in event.agents}
                return "agents"
            case AlertRaised():
                self.alerts.append(event.alert)
                return "alerts"
            case EngineStatusChanged():
                self.status = event.status
                return "status"
            case FlowPrinted():
                self.flow.extend(event.prints)
                return "flow"
            case PnlRecorded():
                self.pnl.append(event.point)
                self._record_greeks(event.point)
                return "pnl"
            case RegimeChanged():
                self.regime = event.regime
                return "regime"
            case CommandCompleted():
                self.results.append(event.result)
                return "results"
        return ""

    def _record_greeks(self, point: PnlPoint) -> None:
        # From the engine's P&L history (a point per engine minute), not from what this
        # desk happened to see: two desks, or one that attached again, draw one trend.
        g = point.greeks
        if g is not None:
            self.greeks_history.append((point.ts, g.delta, g.gamma, g.theta, g.vega))

    def take_position_changes(self) -> tuple[list[PositionView], list[str]]:
        """The positions changed and removed since the last call, and forget them."""
        changed = list(self.changed_positions.values())
        removed = list(self.removed_positions)
        self.changed_positions.clear()
        self.removed_positions.clear()
        return changed, removed

    def quiet_for(self, topic: str) -> float:
        """Seconds since the topic last changed (infinite if never heard)."""
        heard = self.heard.get(topic)
        return float("inf") if heard is None else self.clock() - heard

    def working_orders(self) -> list[Order]:
        return [o for o in self.orders.values() if o.state in OPEN_ORDER_STATES]

    def pending_proposals(self) -> list[Proposal]:
        return [p for p in self.proposals.values() if p.status == "pending"]


def book_order(view: PositionView) -> tuple[int, int, str]:
    """Oldest first, as the engine keeps its book: by opening time, then by the number of
    the order that opened it (ids are ``SYMBOL-ORDER``). A remote snapshot comes from a
    Redis hash, which has no order, so both desks sort the same way."""
    _, _, number = view.position_id.rpartition("-")
    return view.opened_at, int(number) if number.isdigit() else 0, view.position_id
