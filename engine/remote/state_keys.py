"""Provides the mapping between the engine's records and Redis state keys, both ways.

The publisher writes each event's effect on the per-topic keys in the same transaction
as the event itself, so at every transaction boundary the keys reflect exactly the
events up to the cursor. A client reads every key and the cursor in one transaction and
gets a snapshot that the stream continues without a gap or a duplicate.
"""

from __future__ import annotations

from typing import Any

from engine import codec
from engine.records import (
    AgentsUpdated,
    AlertRaised,
    AnyEvent,
    EarningsEvent,
    EngineStatusChanged,
    FillRecorded,
    FlowPrinted,
    OrderUpdated,
    PnlRecorded,
    PortfolioUpdated,
    PositionsUpdated,
    ProposalUpdated,
    QuotesUpdated,
    RegimeChanged,
    RiskUpdated,
    SignalEmitted,
    Snapshot,
)
from engine.remote.protocol import Keys

OPEN_STATES = frozenset({"new", "working", "partially_filled", "unknown"})
LIST_LIMITS = {"fills": 200, "alerts": 200, "flow": 200, "signals": 600, "pnl": 2000}
SCALARS = ("status", "portfolio", "risk", "regime", "agents", "earnings")
HASHES = ("positions", "quotes", "orders", "proposals")
LISTS = tuple(LIST_LIMITS)


def all_keys(keys: Keys) -> list[str]:
    return [keys.topic(t) for t in (*SCALARS, *HASHES, *LISTS)] + [keys.cursor]


class StateWrites:
    """The state-key writes a batch of events implies, merged: one command per key.

    Only the last value of a scalar topic matters, hash fields merge (a later write or
    delete of the same field wins), and list pushes concatenate; so a batch of N events
    costs N stream entries plus a handful of state writes, not two commands per event.
    """

    def __init__(self) -> None:
        # Records, not bytes: only the last value of a key is ever encoded.
        self.scalars: dict[str, object] = {}
        self.hashes: dict[str, dict[str, object | None]] = {t: {} for t in HASHES}
        self.lists: dict[str, list[object]] = {t: [] for t in LISTS}

    def add(self, event: AnyEvent) -> None:
        # One dict lookup, not a match over fifteen class patterns: this runs for every
        # event published, and the match cost as much as encoding small events.
        apply = _APPLY.get(type(event))
        if apply is not None:
            apply(self, event)

    def _quotes(self, event: QuotesUpdated) -> None:
        quotes = self.hashes["quotes"]
        for q in event.quotes:
            quotes[q.symbol] = q

    def _positions(self, event: PositionsUpdated) -> None:
        positions = self.hashes["positions"]
        for p in event.changed:
            positions[p.position_id] = p
        for gone in event.removed:
            positions[gone] = None

    def _order(self, event: OrderUpdated) -> None:
        open_ = event.order.state in OPEN_STATES
        self.hashes["orders"][str(event.order.order_id)] = event.order if open_ else None

    def _proposal(self, event: ProposalUpdated) -> None:
        self.hashes["proposals"][event.proposal.proposal_id] = event.proposal

    def queue(self, pipe: Any, keys: Keys) -> None:
        """Put the merged writes on ``pipe``."""
        for topic, value in self.scalars.items():
            pipe.set(keys.topic(topic), codec.encode(value))
        for topic, fields in self.hashes.items():
            written = {k: codec.encode(v) for k, v in fields.items() if v is not None}
            deleted = [k for k, v in fields.items() if v is None]
            if written:
                pipe.hset(keys.topic(topic), mapping=written)
            if deleted:
                pipe.hdel(keys.topic(topic), *deleted)
        for topic, values in self.lists.items():
            # Lists keep only their last LIST_LIMITS entries: encode no more than those.
            _push(pipe, keys, topic, [codec.encode(v) for v in values[-LIST_LIMITS[topic] :]])


def _scalar(topic: str, field: str) -> Any:
    def apply(writes: StateWrites, event: Any) -> None:
        writes.scalars[topic] = getattr(event, field)

    return apply


def _listed(topic: str, field: str, many: bool = False) -> Any:
    def apply(writes: StateWrites, event: Any) -> None:
        value = getattr(event, field)
        if many:
            writes.lists[topic].extend(value)
        else:
            writes.lists[topic].append(value)

    return apply


_APPLY: dict[type, Any] = {
    QuotesUpdated: StateWrites._quotes,
    PositionsUpdated: StateWrites._positions,
    OrderUpdated: StateWrites._order,
    ProposalUpdated: StateWrites._proposal,
    PortfolioUpdated: _scalar("portfolio", "portfolio"),
    RiskUpdated: _scalar("risk", "risk"),
    EngineStatusChanged: _scalar("status", "status"),
    RegimeChanged: _scalar("regime", "regime"),
    AgentsUpdated: _scalar("agents", "agents"),
    FillRecorded: _listed("fills", "fill"),
    AlertRaised: _listed("alerts", "alert"),
    SignalEmitted: _listed("signals", "signal"),
    FlowPrinted: _listed("flow", "prints", many=True),
    PnlRecorded: _listed("pnl", "point"),
}


def _push(pipe: Any, keys: Keys, topic: str, values: list[bytes]) -> None:
    if not values:
        return
    pipe.rpush(keys.topic(topic), *values)
    pipe.ltrim(keys.topic(topic), -LIST_LIMITS[topic], -1)


def write_snapshot(pipe: Any, keys: Keys, snapshot: Snapshot) -> None:
    """Queue a full rewrite of every state key from ``snapshot`` (after an outage)."""
    k = keys.topic
    pipe.delete(*all_keys(keys))
    pipe.set(k("status"), codec.encode(snapshot.status))
    pipe.set(k("portfolio"), codec.encode(snapshot.portfolio))
    pipe.set(k("risk"), codec.encode(snapshot.risk))
    pipe.set(k("agents"), codec.encode(snapshot.agents))
    pipe.set(k("earnings"), codec.encode(snapshot.earnings))
    if snapshot.regime is not None:
        pipe.set(k("regime"), codec.encode(snapshot.regime))
    for topic, mapping in (
        ("positions", {p.position_id: codec.encode(p) for p in snapshot.positions}),
        ("quotes", {q.symbol: codec.encode(q) for q in snapshot.quotes}),
        ("orders", {str(o.order_id): codec.encode(o) for o in snapshot.orders}),
        ("proposals", {p.proposal_id: codec.encode(p) for p in snapshot.proposals}),
    ):
        if mapping:
            pipe.hset(k(topic), mapping=mapping)
    _push(pipe, keys, "fills", [codec.encode(f) for f in snapshot.fills])
    _push(pipe, keys, "alerts", [codec.encode(a) for a in snapshot.alerts])
    _push(pipe, keys, "signals", [codec.encode(s) for s in snapshot.signals])
    _push(pipe, keys, "flow", [codec.encode(f) for f in snapshot.flow])
    _push(pipe, keys, "pnl", [codec.encode(p) for p in snapshot.pnl_history])


def read_pipeline(pipe: Any, keys: Keys) -> None:
    """Queue the reads that ``snapshot_from`` turns into a Snapshot (one transaction)."""
    k = keys.topic
    for topic in SCALARS:
        pipe.get(k(topic))
    for topic in HASHES:
        pipe.hgetall(k(topic))
    for topic in LISTS:
        pipe.lrange(k(topic), 0, -1)
    pipe.get(keys.cursor)


def snapshot_from(replies: list[Any]) -> tuple[Snapshot, str]:
    """The Snapshot and the stream id it reflects, from ``read_pipeline``'s replies.

    Raises codec.DecodeError (or SchemaVersionError) if a key holds something unreadable,
    and LookupError if the engine has not published yet.
    """
    from engine.records import (
        AgentStatus,
        Alert,
        EngineStatus,
        Fill,
        FlowPrint,
        Order,
        PnlPoint,
        PortfolioSummary,
        PositionView,
        Proposal,
        Quote,
        RegimeState,
        RiskSummary,
        Signal,
    )

    status_b, portfolio_b, risk_b, regime_b, agents_b, earnings_b = replies[:6]
    positions_h, quotes_h, orders_h, proposals_h = replies[6:10]
    fills_l, alerts_l, flow_l, signals_l, pnl_l = replies[10:15]
    cursor = replies[15]
    if cursor is None or status_b is None or portfolio_b is None or risk_b is None:
        raise LookupError("the engine has not published its state yet")
    seq_text, _, stream_id = cursor.decode().partition(" ")
    signals: dict[str, Signal] = {}
    for raw in signals_l:
        signal = codec.decode(raw, Signal)
        signals.pop(signal.signal_id, None)
        signals[signal.signal_id] = signal
    snapshot = Snapshot(
        seq=int(seq_text),
        ts=0,
        status=codec.decode(status_b, EngineStatus),
        quotes=tuple(codec.decode(v, Quote) for v in quotes_h.values()),
        positions=tuple(codec.decode(v, PositionView) for v in positions_h.values()),
        portfolio=codec.decode(portfolio_b, PortfolioSummary),
        risk=codec.decode(risk_b, RiskSummary),
        orders=tuple(codec.decode(v, Order) for v in orders_h.values()),
        fills=tuple(codec.decode(v, Fill) for v in fills_l),
        signals=tuple(signals.values()),
        proposals=tuple(codec.decode(v, Proposal) for v in proposals_h.values()),
        agents=codec.decode(agents_b, tuple[AgentStatus, ...]) if agents_b else (),
        alerts=tuple(codec.decode(v, Alert) for v in alerts_l),
        flow=tuple(codec.decode(v, FlowPrint) for v in flow_l),
        earnings=codec.decode(earnings_b, tuple[EarningsEvent, ...]) if earnings_b else (),
        pnl_history=tuple(codec.decode(v, PnlPoint) for v in pnl_l),
        regime=codec.decode(regime_b, RegimeState) if regime_b else None,
    )
    return snapshot, stream_id
