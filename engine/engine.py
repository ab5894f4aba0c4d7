"""Provides the Engine: market, book, broker, journal and agents driven tick by tick.

Everything runs on one asyncio loop, one tick at a time, so state never changes under a
reader's feet: a snapshot and the subscription that follows it are taken in one turn.
Facts are journaled before they are published; the broker's callbacks land here.
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter, OrderedDict, deque
from typing import TYPE_CHECKING, Literal

import msgspec

from engine import __version__
from engine.broker.base import Broker, BrokerOrder, Execution, OrderStatus
from engine.bus import EventBus
from engine.clock import NS_PER_SECOND, Clock, exchange_date
from engine.config import EngineConfig
from engine.expiry import settle_expired
from engine.faults import crash_point
from engine.journal import (
    AgentControlled,
    Journal,
    KillSwitchChanged,
    PositionChanged,
    SessionStarted,
)
from engine.market.base import MarketSource, MarketUpdate
from engine.portfolio import Book
from engine.records import (
    AgentStatus,
    AgentsUpdated,
    Alert,
    AlertLevel,
    AlertRaised,
    AnyCommand,
    CommandCompleted,
    CommandResult,
    EngineStatus,
    EngineStatusChanged,
    Fill,
    FillRecorded,
    FlowPrinted,
    Leg,
    Order,
    OrderIntent,
    OrderUpdated,
    PnlPoint,
    PnlRecorded,
    PortfolioUpdated,
    PositionsUpdated,
    PositionView,
    Proposal,
    ProposalUpdated,
    QuotesUpdated,
    Recommendation,
    RiskUpdated,
    Signal,
    SignalEmitted,
    Snapshot,
)
from engine.risk import LimitWatch, risk_summary
from engine.valuation import Valuation, Valuer

if TYPE_CHECKING:
    from engine.agents.base import Agent

log = logging.getLogger(__name__)

OPEN_ORDER_STATES = ("new", "working", "partially_filled", "unknown")
_PNL_EVERY_NS = 60 * NS_PER_SECOND
_CHECKPOINT_EVERY_TICKS = 20
_SOURCES: dict[str, Literal["broker", "demo", "reconciliation", "expiration"]] = {
    "demo": "demo",
    "reconciliation": "reconciliation",
    "expiration": "expiration",
}


class Engine:
    def __init__(
        self,
        config: EngineConfig,
        *,
        market: MarketSource,
        broker: Broker,
        journal: Journal,
        clock: Clock,
        mode: str = "headless",
    ) -> None:
        self.config = config
        self.market = market
        self.broker = broker
        self.journal = journal
        self.clock = clock
        self.mode = mode
        self.bus = EventBus()
        self.stale_ns = int(config.risk.stale_after_s * NS_PER_SECOND)
        self.book = Book(config.demo.initial_cash)
        self.valuer = Valuer(self.stale_ns)
        self.valuation: Valuation | None = None
        self.orders: dict[int, Order] = {}
        self.lookups: dict[int, tuple[int, int]] = {}
        self.commands: dict[str, AnyCommand] = {}
        self.results: dict[str, CommandResult] = {}
        self.kill_switch = False
        self.halt_reason = ""
        self.paused: set[str] = set()
        self.signals: OrderedDict[str, Signal] = OrderedDict()
        self.proposals: OrderedDict[str, Proposal] = OrderedDict()
        self.alerts: deque[Alert] = deque(maxlen=200)
        self.fills: deque[Fill] = deque(maxlen=200)
        self.pnl: deque[PnlPoint] = deque(maxlen=2_000)
        self.sessions: list[SessionStarted] = []
        self.recommendations: dict[str, Recommendation] = {}
        self.counters: Counter[str] = Counter()
        self.agents: list[Agent] = []
        self.ticks = 0
        self.started_at = clock.now_ns()
        self.session_date = exchange_date(clock.now_ns())
        self.alert_ids = itertools.count(1)
        self._last_pnl_ns = 0
        self._peak_equity: float | None = None
        self._published_positions: set[str] = set()
        self._published_agents: tuple[AgentStatus, ...] = ()
        self.limit_watch = LimitWatch()
        self.stopped = False
        from engine.commands import CommandHandler  # the handler needs the whole engine

        self.handler = CommandHandler(self)

    # --- facts: journal first, then memory, then the bus ----------------------------------

    def now(self) -> int:
        return self.clock.now_ns()

    def alert(self, level: AlertLevel, source: str, code: str, message: str) -> Alert:
        alert = Alert(
            alert_id=f"A{next(self.alert_ids)}",
            ts=self.now(),
            level=level,
            source=source,
            code=code,
            message=message,
        )
        self.journal.append("alert", alert.alert_id, alert, alert.ts)
        self.alerts.append(alert)
        self.counters[f"alerts_{level}"] += 1
        log.log(
            logging.WARNING if level != "info" else logging.INFO,
            "alert %s %s: %s",
            level.upper(),
            code,
            message,
        )
        self.bus.publish(AlertRaised(ts=alert.ts, alert=alert))
        return alert

    def record_order(self, order: Order) -> None:
        self.journal.append("order", str(order.order_id), order, order.updated_at)
        self.orders[order.order_id] = order
        self.bus.publish(OrderUpdated(ts=order.updated_at, order=order))

    def record_result(self, result: CommandResult) -> CommandResult:
        self.journal.append("result", result.command_id, result, result.ts)
        self.results[result.command_id] = result
        self.counters["commands_accepted" if result.accepted else "commands_rejected"] += 1
        log.info(
            "command %s %s %s: %s",
            result.command_id,
            "ACCEPTED" if result.accepted else "REJECTED",
            result.code,
            result.message,
        )
        self.bus.publish(CommandCompleted(ts=result.ts, result=result))
        return result

    def record_signal(self, signal: Signal) -> None:
        if signal.status == "new" and signal.agent in self.paused:
            # A paused agent's signal is recorded and tracked on paper, never acted on.
            signal = msgspec.structs.replace(signal, status="phantom")
            self.counters["signals_while_paused"] += 1
        self.journal.append("signal", signal.signal_id, signal, signal.ts)
        self.signals[signal.signal_id] = signal
        self.signals.move_to_end(signal.signal_id)
        while len(self.signals) > 500:
            self.signals.popitem(last=False)
        self.bus.publish(SignalEmitted(ts=signal.ts, signal=signal))

    def record_proposal(self, proposal: Proposal) -> None:
        self.journal.append("proposal", proposal.proposal_id, proposal, proposal.ts)
        self.proposals[proposal.proposal_id] = proposal
        while len(self.proposals) > 200:
            self.proposals.popitem(last=False)
        self.bus.publish(ProposalUpdated(ts=proposal.ts, proposal=proposal))

    def set_kill_switch(self, on: bool, reason: str, actor: str) -> None:
        change = KillSwitchChanged(on=on, reason=reason, actor=actor, ts=self.now())
        self.journal.append("kill_switch", "kill_switch", change, change.ts)
        self.kill_switch = on
        self.publish_status()

    def set_paused(self, agent: str, paused: bool, actor: str) -> None:
        change = AgentControlled(agent=agent, paused=paused, actor=actor, ts=self.now())
        self.journal.append("agent", agent, change, change.ts)
        if paused:
            self.paused.add(agent)
        else:
            self.paused.discard(agent)
        self.publish_agents()

    # --- commands -------------------------------------------------------------------------

    def execute(self, command: AnyCommand) -> CommandResult:
        return self.handler.execute(command)

    # --- broker callbacks -----------------------------------------------------------------

    def on_execution(self, execution: Execution) -> None:
        if execution.exec_id in self.book.fill_ids:
            self.counters["duplicate_executions"] += 1
            return
        fill = fill_from(execution)
        self.apply_fill(fill)

    def apply_fill(self, fill: Fill) -> None:
        crash_point("after_broker_execution")
        with self.journal.batch():
            self.journal.append("fill", fill.fill_id, fill, fill.ts)
            position = self.book.apply_fill(fill)
            change = PositionChanged(
                position_id=position.position_id,
                legs={k: leg.quantity for k, leg in position.legs.items()},
                cash_cents=self.book.cash_cents,
                fill_id=fill.fill_id,
                ts=fill.ts,
            )
            self.journal.append("position", position.position_id, change, fill.ts)
        crash_point("after_fill_journal")
        self.fills.append(fill)
        self.counters["fills"] += 1
        order = self.orders.get(fill.order_id)
        if order is not None:
            filled = order.filled_quantity + fill.quantity
            avg = (
                fill.net_price
                if not order.filled_quantity
                else (
                    (order.avg_fill_price or 0.0) * order.filled_quantity
                    + fill.net_price * fill.quantity
                )
                / filled
            )
            state = "filled" if filled >= order.quantity else "partially_filled"
            self.record_order(
                msgspec.structs.replace(
                    order,
                    filled_quantity=filled,
                    avg_fill_price=round(avg, 4),
                    state=state,
                    updated_at=fill.ts,
                )
            )
        log.info(
            "fill %s %s %s x%d @ %.2f (commission %.2f)",
            fill.fill_id,
            fill.position_id,
            fill.intent,
            fill.quantity,
            fill.net_price,
            fill.commission,
        )
        self.bus.publish(FillRecorded(ts=fill.ts, fill=fill))

    def on_order_status(self, status: OrderStatus) -> None:
        order = self.orders.get(status.order_id)
        if order is None:
            self.counters["unknown_order_status"] += 1
            return
        self.lookups.pop(status.order_id, None)
        # Filled quantities come from executions: a fill status ahead of them waits for them.
        if status.state in ("filled", "partially_filled") and order.filled_quantity < status.filled:
            return
        if order.state == status.state and order.reason == status.reason:
            return
        self.record_order(
            msgspec.structs.replace(
                order,
                state=status.state,
                code=status.code or order.code,
                reason=status.reason or order.reason,
                working_price=status.working_price,
                updated_at=self.now(),
            )
        )
        if status.state == "rejected":
            self.alert(
                "warning",
                "broker",
                status.code or "ORDER_REJECTED",
                f"order {status.order_id} rejected by the broker: {status.reason}",
            )

    def on_connection(self, connected: bool) -> None:
        if not connected:
            self.alert(
                "critical",
                "broker",
                "BROKER_DISCONNECTED",
                "broker disconnected: new orders are refused until it is back",
            )
        else:
            from engine.recovery import check_positions, reconcile_broker

            # Executions, orders, then positions: all before a new order can go out.
            reconcile_broker(self, reason="broker reconnected")
            check_positions(self)
            self.alert(
                "info",
                "broker",
                "BROKER_RECONNECTED",
                "broker reconnected: orders and executions reconciled",
            )
        self.publish_status()

    # --- the tick -------------------------------------------------------------------------

    def tick(self) -> None:
        self.process(self.market.step(self.now()))

    def process(self, update: MarketUpdate) -> None:
        """Everything one market step sets off, in an order that never reads stale state."""
        now = self.now()
        if update.new_session is not None:
            self.start_session()
        if update.expired or update.new_session is not None or self.ticks == 0:
            settle_expired(self)
        self.broker_tick(now)
        self.handler.check_unacknowledged(now)
        self.revalue()
        for agent in self.agents:
            if agent.name not in self.paused and agent.due(now):
                agent.run(self)
        self.ticks += 1
        self.publish_tick(update)
        if self.ticks % _CHECKPOINT_EVERY_TICKS == 0:
            self.checkpoint()

    def broker_tick(self, now: int) -> None:
        on_tick = getattr(self.broker, "on_tick", None)
        if on_tick is not None:
            on_tick(now, self.market)

    def revalue(self) -> Valuation:
        year_open, week_open, session_open = self.equity_anchors()
        self.valuation = self.valuer.revalue(
            self.book,
            self.market,
            self.now(),
            session_open_equity=session_open,
            week_open_equity=week_open,
            year_open_equity=year_open,
            recommendations=self.recommendations,
        )
        return self.valuation

    def equity_anchors(self) -> tuple[float, float, float]:
        """Equity at the first session of the year, of the week, and of today."""
        initial = self.book.initial_cash_cents / 100.0
        if not self.sessions:
            return initial, initial, initial
        today = self.sessions[-1]
        iso = today.date.isocalendar()
        week = next((s for s in self.sessions if s.date.isocalendar()[:2] == iso[:2]), today)
        year = next((s for s in self.sessions if s.date.year == today.date.year), today)
        return year.equity, week.equity, today.equity

    def start_session(self) -> None:
        valuation = self.valuation or self.revalue()
        self.book.forget_closed_before(self.now() - 1)
        self.book.start_session(valuation.position_values)
        equity = valuation.summary.equity
        mark = SessionStarted(
            date=self.clock.today(), equity=equity, values=valuation.position_values, ts=self.now()
        )
        self.journal.append("session", mark.date.isoformat(), mark, mark.ts)
        self.sessions.append(mark)
        self.session_date = mark.date
        self.pnl.clear()
        self._peak_equity = equity
        log.info("session %s opens, equity %.2f", mark.date, equity)

    # --- publishing -----------------------------------------------------------------------

    def publish_tick(self, update: MarketUpdate) -> None:
        now = self.now()
        if update.quotes:
            self.bus.publish(QuotesUpdated(ts=now, quotes=update.quotes))
        if update.flow:
            self.bus.publish(FlowPrinted(ts=now, prints=update.flow))
        valuation = self.valuation
        if valuation is None:
            return
        views = self.position_views()
        gone = self._published_positions - {v.position_id for v in views}
        self._published_positions = {v.position_id for v in views}
        self.bus.publish(
            PositionsUpdated(ts=now, changed=tuple(views), removed=tuple(sorted(gone)))
        )
        self.bus.publish(PortfolioUpdated(ts=now, portfolio=valuation.summary))
        risk = risk_summary(self)
        self.limit_watch.check(self, risk)
        self.bus.publish(RiskUpdated(ts=now, risk=risk))
        if now - self._last_pnl_ns >= _PNL_EVERY_NS:
            self._last_pnl_ns = now
            point = self.pnl_point()
            self.pnl.append(point)
            self.bus.publish(PnlRecorded(ts=now, point=point))
        self.publish_status()
        self.publish_agents(only_if_changed=True)

    def position_views(self) -> list[PositionView]:
        if self.valuation is None:
            return []
        working = self.working_positions()
        views = []
        for view in self.valuation.views.values():
            if view.status == "closed":
                continue
            status = working.get(view.position_id)
            views.append(msgspec.structs.replace(view, status=status) if status else view)
        return views

    def working_positions(self) -> dict[str, str]:
        """Positions with an open closing or rolling order, and which it is."""
        found: dict[str, str] = {}
        for order in self.orders.values():
            if order.state in OPEN_ORDER_STATES and order.position_id:
                if order.intent == "close":
                    found[order.position_id] = "closing"
                elif order.intent == "roll":
                    found[order.position_id] = "rolling"
        return found

    def pnl_point(self) -> PnlPoint:
        assert self.valuation is not None
        summary = self.valuation.summary
        self._peak_equity = max(self._peak_equity or summary.equity, summary.equity)
        return PnlPoint(
            ts=self.now(),
            pnl=summary.day_pnl,
            equity=summary.equity,
            drawdown=summary.equity - self._peak_equity,
            greeks=summary.greeks,
        )

    def status(self) -> EngineStatus:
        return EngineStatus(
            name=self.config.name,
            version=__version__,
            source=self.market.name,
            clock_mode=self.clock.mode,
            speed=self.clock.speed,
            engine_time=self.now(),
            started_at=self.started_at,
            kill_switch=self.kill_switch,
            broker=self.broker.name,
            broker_connected=self.broker.connected,
            trading_halted=self.halt_reason,
            ticks=self.ticks,
            counters=dict(self.counters)
            | {f"market_{k}": v for k, v in self.market.counters.items()},
            ts=self.now(),
        )

    def publish_status(self) -> None:
        self.bus.publish(EngineStatusChanged(ts=self.now(), status=self.status()))

    def agent_statuses(self) -> tuple[AgentStatus, ...]:
        return tuple(agent.status(self) for agent in self.agents)

    def publish_agents(self, *, only_if_changed: bool = False) -> None:
        """Publish every agent's status; on a tick, only when one of them changed (a run
        finished, a state changed), so the desk's "last run" is never a tick counter late
        and an idle engine publishes nothing: at most one event per tick."""
        statuses = self.agent_statuses()
        seen = tuple(msgspec.structs.replace(status, ts=0) for status in statuses)
        if only_if_changed and seen == self._published_agents:
            return
        self._published_agents = seen
        self.bus.publish(AgentsUpdated(ts=self.now(), agents=statuses))

    def snapshot(self) -> Snapshot:
        valuation = self.valuation or self.revalue()
        return Snapshot(
            seq=self.bus.seq,
            ts=self.now(),
            status=self.status(),
            quotes=self.market.quotes(),
            positions=tuple(self.position_views()),
            portfolio=valuation.summary,
            risk=risk_summary(self),
            orders=tuple(o for o in self.orders.values() if o.state in OPEN_ORDER_STATES),
            fills=tuple(self.fills),
            signals=tuple(self.signals.values()),
            proposals=tuple(self.proposals.values()),
            agents=self.agent_statuses(),
            alerts=tuple(self.alerts),
            flow=(),
            earnings=self.market.earnings(),
            pnl_history=tuple(self.pnl),
        )

    # --- lifecycle ------------------------------------------------------------------------

    def checkpoint(self) -> None:
        self.journal.set_meta("engine_time", self.now())
        self.journal.set_meta("market", self.market.checkpoint())

    def next_order_id(self) -> int:
        high_water = max(self.orders, default=0)
        persisted = int(self.journal.get_meta("order_high_water") or 0)
        order_id = max(self.broker.next_valid_id(), high_water + 1, persisted + 1)
        self.journal.set_meta("order_high_water", order_id)
        return order_id

    def submit(self, order: Order) -> None:
        """Send a journaled order; a refusal here becomes the order's rejected state."""
        broker_order = BrokerOrder(
            order_id=order.order_id,
            order_ref=order.command_id,
            position_id=order.position_id or "",
            intent=order.intent,
            legs=order.legs,
            quantity=order.quantity,
            limit=order.limit,
            ts=self.now(),
        )
        try:
            self.broker.submit(broker_order)
        except ConnectionError as exc:
            self.record_order(
                msgspec.structs.replace(
                    order,
                    state="rejected",
                    code="BROKER_DISCONNECTED",
                    reason=str(exc),
                    updated_at=self.now(),
                )
            )
            return
        crash_point("after_submit")
        if order.intent == "roll":
            crash_point("after_roll_submit")
        self.lookups[order.order_id] = (self.now(), 0)

    def book_at_prices(
        self,
        *,
        tag: str,
        intent: OrderIntent,
        position_id: str | None,
        legs: tuple[Leg, ...],
        quantity: int,
        prices: dict[str, float],
        source: str,
        commission: float = 0.0,
    ) -> Order | None:
        """Book an execution at given leg prices through the broker (demo book, expiries).

        The order is journaled first, as every order is; the broker books it on its own
        ledger and the execution comes back through ``on_execution``. Returns None if the
        broker cannot book at set prices (only the paper broker can).
        """
        settle = getattr(self.broker, "settle", None)
        if settle is None:
            return None
        now = self.now()
        order_id = self.next_order_id()
        position = position_id or f"{legs[0].instrument.underlying}-{order_id}"
        order = Order(
            order_id=order_id,
            command_id=f"{tag}-{order_id}",
            intent=intent,
            position_id=position,
            legs=legs,
            quantity=quantity,
            limit=None,
            state="filled",
            created_at=now,
            updated_at=now,
        )
        self.record_order(order)
        broker_order = BrokerOrder(
            order_id=order_id,
            order_ref=order.command_id,
            position_id=position,
            intent=intent,
            legs=legs,
            quantity=quantity,
            limit=None,
            ts=now,
        )
        self.on_execution(settle(broker_order, prices, now, source=source, commission=commission))
        return order

    def shutdown(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.checkpoint()
        self.journal.close()
        self.broker.close()


def fill_from(execution: Execution) -> Fill:
    return Fill(
        fill_id=execution.exec_id,
        order_id=execution.order_id,
        command_id=execution.order_ref,
        position_id=execution.position_id,
        intent=execution.intent,
        quantity=execution.quantity,
        net_price=execution.net_price,
        legs=execution.legs,
        commission=execution.commission,
        ts=execution.ts,
        source=_SOURCES.get(execution.source, "broker"),
    )
