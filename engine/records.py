"""Provides the one schema: immutable records for state, events, commands and results.

Everything the engine shows or accepts is one of these records. The same types travel in
process (embedded desk) and over Redis (remote desk), so the UI can never depend on
something that only one transport carries. Times are integers in nanoseconds of the
engine clock; money is in dollars; Greeks use vollib's units (theta per calendar day,
vega and rho per one point). A value the engine cannot trust is ``None``, never NaN.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

SCHEMA_VERSION = 1

Right = Literal["C", "P"]
MarkState = Literal["ok", "stale", "invalid", "pending"]
OrderState = Literal[
    "new", "working", "partially_filled", "filled", "cancelled", "rejected", "unknown"
]
OrderIntent = Literal["open", "close", "roll", "adjust"]
Direction = Literal["bullish", "bearish", "neutral"]
SignalStatus = Literal["new", "proposed", "approved", "rejected", "executed", "phantom"]
ProposalStatus = Literal["pending", "approved", "rejected", "executed", "expired", "failed"]
AgentState = Literal["ACTIVE", "IDLE", "PAUSED", "ERROR"]
AgentKind = Literal["scanner", "analyst", "executor", "orchestrator"]
AlertLevel = Literal["info", "warning", "critical"]
LimitLevel = Literal["ok", "warning", "critical"]
Action = Literal["HOLD", "CLOSE", "ROLL"]


class Record(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every record: immutable, keyword-only, strict about unknown fields."""


# --- instruments -----------------------------------------------------------------------


class Stock(Record, tag="stock", frozen=True, kw_only=True):
    symbol: str
    multiplier: int = 1

    @property
    def key(self) -> str:
        return self.symbol

    @property
    def underlying(self) -> str:
        return self.symbol


class Option(Record, tag="option", frozen=True, kw_only=True):
    underlying: str
    expiry: dt.date
    strike: float
    right: Right
    multiplier: int = 100

    @property
    def key(self) -> str:
        """The OCC symbol: root padded to six, yymmdd, C/P, strike in thousandths."""
        return (
            f"{self.underlying:<6}{self.expiry:%y%m%d}{self.right}{round(self.strike * 1000):08d}"
        )

    def describe(self) -> str:
        strike = f"{self.strike:g}"
        return f"{self.underlying} {self.expiry:%d%b%y} {strike}{self.right}".upper()


Instrument = Stock | Option


class Leg(Record, frozen=True, kw_only=True):
    """One line of a combo order: ``ratio`` contracts per combo unit, signed (+ buys)."""

    instrument: Instrument
    ratio: int


# --- market ----------------------------------------------------------------------------


class Quote(Record, frozen=True, kw_only=True):
    """An underlying's top of book. ``prev_close`` anchors the day change."""

    symbol: str
    bid: float | None
    ask: float | None
    last: float | None
    prev_close: float | None = None
    bid_size: int = 0
    ask_size: int = 0
    volume: int = 0
    ts: int

    @property
    def mid(self) -> float | None:
        if self.bid is None or self.ask is None:
            return self.last
        return (self.bid + self.ask) / 2.0


class OptionQuote(Record, frozen=True, kw_only=True):
    """A listed option's quote with the model's implied vol and Greeks (per contract unit)."""

    instrument: Option
    bid: float | None
    ask: float | None
    mid: float | None
    iv: float | None
    delta: float | None
    gamma: float | None
    theta: float | None
    vega: float | None
    rho: float | None
    underlying_price: float | None
    bid_size: int = 0
    ask_size: int = 0
    volume: int = 0
    open_interest: int = 0
    ts: int


class FlowPrint(Record, frozen=True, kw_only=True):
    """One print on the options-flow tape."""

    ts: int
    instrument: Option
    side: Literal["buy", "sell", "mid"]
    kind: Literal["sweep", "block", "split"]
    size: int
    price: float
    premium: float
    underlying_price: float
    unusual: bool = False


class EarningsEvent(Record, frozen=True, kw_only=True):
    symbol: str
    date: dt.date
    timing: Literal["BMO", "AMC"]
    expected_move: float | None = None


# --- portfolio -------------------------------------------------------------------------


class Greeks(Record, frozen=True, kw_only=True):
    """Greek totals in position units (already × multiplier × quantity)."""

    delta: float = 0.0
    gamma: float = 0.0
    theta: float = 0.0
    vega: float = 0.0
    rho: float = 0.0
    dollar_delta: float = 0.0
    dollar_gamma: float = 0.0


class PositionLeg(Record, frozen=True, kw_only=True):
    instrument: Instrument
    quantity: int
    avg_price: float
    mark: float | None
    mark_state: MarkState
    iv: float | None = None
    greeks: Greeks = Greeks()
    market_value: float | None = None
    unrealized_pnl: float | None = None


class Recommendation(Record, frozen=True, kw_only=True):
    action: Action
    reason: str
    agent: str
    ts: int


class PositionView(Record, frozen=True, kw_only=True):
    """One position as the desk shows it. Money in dollars; ``None`` where unknown."""

    position_id: str
    underlying: str
    strategy: str
    bias: Direction
    quantity: int
    legs: tuple[PositionLeg, ...]
    opened_at: int
    expiry: dt.date | None
    dte: int | None
    cost_basis: float
    market_value: float | None
    unrealized_pnl: float | None
    realized_pnl: float
    day_pnl: float | None
    pnl_pct: float | None
    max_profit: float | None
    max_loss: float | None
    greeks: Greeks
    mark_state: MarkState
    excluded_legs: int = 0
    status: Literal["open", "closing", "rolling", "closed"] = "open"
    recommendation: Recommendation | None = None
    rolled_from: str | None = None
    ts: int


class UnderlyingGreeks(Record, frozen=True, kw_only=True):
    underlying: str
    spot: float | None
    greeks: Greeks
    positions: int


class PortfolioSummary(Record, frozen=True, kw_only=True):
    cash: float
    market_value: float
    equity: float
    initial_equity: float
    realized_pnl: float
    unrealized_pnl: float
    day_pnl: float
    week_pnl: float
    ytd_pnl: float
    commissions: float
    open_positions: int
    by_bias: dict[str, int]
    greeks: Greeks
    by_underlying: tuple[UnderlyingGreeks, ...]
    excluded_legs: int
    ts: int
    unpriced_legs: int = 0
    """Legs that never had a mark: carried at cost in cash and equity, never at zero."""


class PnlPoint(Record, frozen=True, kw_only=True):
    ts: int
    pnl: float
    equity: float
    drawdown: float
    greeks: Greeks | None = None
    """The book's Greeks at this point: the engine keeps their history, so every desk,
    however late it attached, draws the same trend."""


# --- orders and fills -------------------------------------------------------------------


class Order(Record, frozen=True, kw_only=True):
    """A combo order. ``limit`` is per combo unit: positive pays (debit), negative receives."""

    order_id: int
    command_id: str
    intent: OrderIntent
    position_id: str | None
    legs: tuple[Leg, ...]
    quantity: int
    limit: float | None
    state: OrderState
    filled_quantity: int = 0
    avg_fill_price: float | None = None
    working_price: float | None = None
    code: str = ""
    reason: str = ""
    created_at: int
    updated_at: int


class LegFill(Record, frozen=True, kw_only=True):
    instrument: Instrument
    quantity: int
    price: float


class Fill(Record, frozen=True, kw_only=True):
    """An execution. ``fill_id`` is the broker's execution id: the key that dedupes."""

    fill_id: str
    order_id: int
    command_id: str
    position_id: str
    intent: OrderIntent
    quantity: int
    net_price: float
    legs: tuple[LegFill, ...]
    commission: float
    ts: int
    source: Literal["broker", "demo", "reconciliation", "expiration"] = "broker"


# --- agents ------------------------------------------------------------------------------


class Vote(Record, frozen=True, kw_only=True):
    agent: str
    direction: Direction
    confidence: float
    weight: float


class Signal(Record, frozen=True, kw_only=True):
    signal_id: str
    ts: int
    agent: str
    symbol: str
    kind: str
    direction: Direction
    confidence: float
    description: str
    inputs: dict[str, float] = {}
    votes: tuple[Vote, ...] = ()
    status: SignalStatus = "new"


class Proposal(Record, frozen=True, kw_only=True):
    proposal_id: str
    ts: int
    signal_ids: tuple[str, ...]
    symbol: str
    strategy: str
    legs: tuple[Leg, ...]
    quantity: int
    limit: float | None
    max_profit: float | None
    max_loss: float | None
    probability_of_profit: float | None
    expected_value: float | None
    rationale: str
    status: ProposalStatus = "pending"
    reason: str = ""


class AgentStatus(Record, frozen=True, kw_only=True):
    name: str
    kind: AgentKind
    state: AgentState
    last_run: int | None
    next_run: int | None
    last_cycle_ms: float | None
    signals_emitted: int
    errors: int
    last_error: str = ""
    ts: int


# --- risk and status ---------------------------------------------------------------------


class RiskLimit(Record, frozen=True, kw_only=True):
    name: str
    value: float
    limit: float
    usage: float
    level: LimitLevel


class Scenario(Record, frozen=True, kw_only=True):
    spot_shift: float
    vol_shift: float
    pnl: float


class RiskSummary(Record, frozen=True, kw_only=True):
    limits: tuple[RiskLimit, ...]
    kill_switch: bool
    var_95: float | None = None
    cvar_95: float | None = None
    scenarios: tuple[Scenario, ...] = ()
    max_drawdown: float | None = None
    ts: int


class Alert(Record, frozen=True, kw_only=True):
    alert_id: str
    ts: int
    level: AlertLevel
    source: str
    code: str
    message: str


class RegimeState(Record, frozen=True, kw_only=True):
    label: str
    probabilities: dict[str, float]
    vol_forecast: float | None
    model: str
    ts: int


class EngineStatus(Record, frozen=True, kw_only=True):
    name: str
    version: str
    schema_version: int = SCHEMA_VERSION
    source: str
    clock_mode: Literal["live", "sim", "replay"]
    speed: float
    engine_time: int
    started_at: int
    kill_switch: bool
    broker: str
    broker_connected: bool
    trading_halted: str = ""
    ticks: int
    counters: dict[str, int] = {}
    ts: int


class Snapshot(Record, frozen=True, kw_only=True):
    """The full state at ``seq``: a client applies events with a larger seq on top."""

    seq: int
    ts: int
    status: EngineStatus
    quotes: tuple[Quote, ...]
    positions: tuple[PositionView, ...]
    portfolio: PortfolioSummary
    risk: RiskSummary
    orders: tuple[Order, ...]
    fills: tuple[Fill, ...]
    signals: tuple[Signal, ...]
    proposals: tuple[Proposal, ...]
    agents: tuple[AgentStatus, ...]
    alerts: tuple[Alert, ...]
    flow: tuple[FlowPrint, ...]
    earnings: tuple[EarningsEvent, ...]
    pnl_history: tuple[PnlPoint, ...]
    regime: RegimeState | None = None


# --- events: past-tense facts, each carrying the seq it advances the state to -------------


class Event(Record, tag_field="type", frozen=True, kw_only=True):
    seq: int = 0
    ts: int


class QuotesUpdated(Event, tag="quotes", frozen=True, kw_only=True):
    quotes: tuple[Quote, ...]


class PositionsUpdated(Event, tag="positions", frozen=True, kw_only=True):
    """The positions that changed since the last event, and the ids that went away."""

    changed: tuple[PositionView, ...]
    removed: tuple[str, ...] = ()


class PortfolioUpdated(Event, tag="portfolio", frozen=True, kw_only=True):
    portfolio: PortfolioSummary


class RiskUpdated(Event, tag="risk", frozen=True, kw_only=True):
    risk: RiskSummary


class OrderUpdated(Event, tag="order", frozen=True, kw_only=True):
    order: Order


class FillRecorded(Event, tag="fill", frozen=True, kw_only=True):
    fill: Fill


class SignalEmitted(Event, tag="signal", frozen=True, kw_only=True):
    signal: Signal


class ProposalUpdated(Event, tag="proposal", frozen=True, kw_only=True):
    proposal: Proposal


class AgentsUpdated(Event, tag="agents", frozen=True, kw_only=True):
    agents: tuple[AgentStatus, ...]


class AlertRaised(Event, tag="alert", frozen=True, kw_only=True):
    alert: Alert


class EngineStatusChanged(Event, tag="status", frozen=True, kw_only=True):
    status: EngineStatus


class FlowPrinted(Event, tag="flow", frozen=True, kw_only=True):
    prints: tuple[FlowPrint, ...]


class PnlRecorded(Event, tag="pnl", frozen=True, kw_only=True):
    point: PnlPoint


class RegimeChanged(Event, tag="regime", frozen=True, kw_only=True):
    regime: RegimeState


class CommandCompleted(Event, tag="command_result", frozen=True, kw_only=True):
    result: CommandResult


class ResyncRequired(Event, tag="resync", frozen=True, kw_only=True):
    """The stream cannot continue without a gap: the client must attach again."""

    reason: str


AnyEvent = (
    QuotesUpdated
    | PositionsUpdated
    | PortfolioUpdated
    | RiskUpdated
    | OrderUpdated
    | FillRecorded
    | SignalEmitted
    | ProposalUpdated
    | AgentsUpdated
    | AlertRaised
    | EngineStatusChanged
    | FlowPrinted
    | PnlRecorded
    | RegimeChanged
    | CommandCompleted
    | ResyncRequired
)


# --- commands: imperatives, each identified once and for all by command_id --------------


class Command(Record, tag_field="type", frozen=True, kw_only=True):
    command_id: str
    actor: str
    issued_at: int


class ClosePosition(Command, tag="close_position", frozen=True, kw_only=True):
    position_id: str
    quantity: int | None = None
    limit: float | None = None


class RollPosition(Command, tag="roll_position", frozen=True, kw_only=True):
    position_id: str
    to_expiry: dt.date
    strikes: tuple[float, ...] | None = None
    quantity: int | None = None
    limit: float | None = None


class ApproveProposal(Command, tag="approve_proposal", frozen=True, kw_only=True):
    proposal_id: str
    quantity: int | None = None
    limit: float | None = None


class RejectProposal(Command, tag="reject_proposal", frozen=True, kw_only=True):
    proposal_id: str
    reason: str = ""


class PauseAgent(Command, tag="pause_agent", frozen=True, kw_only=True):
    agent: str


class ResumeAgent(Command, tag="resume_agent", frozen=True, kw_only=True):
    agent: str


class SetKillSwitch(Command, tag="set_kill_switch", frozen=True, kw_only=True):
    on: bool
    reason: str = ""


class CancelOrder(Command, tag="cancel_order", frozen=True, kw_only=True):
    order_id: int


AnyCommand = (
    ClosePosition
    | RollPosition
    | ApproveProposal
    | RejectProposal
    | PauseAgent
    | ResumeAgent
    | SetKillSwitch
    | CancelOrder
)


class CommandResult(Record, frozen=True, kw_only=True):
    """The engine's answer. ``code`` is machine-readable, ``message`` is for the trader."""

    command_id: str
    accepted: bool
    code: str
    message: str
    ts: int = 0
    order_id: int | None = None
    net_price: float | None = None
    duplicate: bool = False


class RollCandidate(Record, frozen=True, kw_only=True):
    """One row of the roll dialog: what rolling to this expiry and strikes would do."""

    position_id: str
    to_expiry: dt.date
    strikes: tuple[float, ...]
    dte: int
    legs: tuple[Leg, ...]
    net_price: float | None
    credit_per_day: float | None
    greeks_change: Greeks
    mark_state: MarkState


class ProposalPreview(Record, frozen=True, kw_only=True):
    """What approving a proposal would open, for its confirm dialog."""

    proposal_id: str
    quantity: int
    mid: float | None
    natural: float | None
    estimated_fill: float | None
    """Per unit, as the paper broker would likely fill it (positive pays, negative receives)."""
    greeks: Greeks
    """The order's own Greeks once filled, for its whole quantity."""
    portfolio_greeks_before: Greeks
    portfolio_greeks_after: Greeks
    mark_state: MarkState
    message: str = ""


class ClosePreview(Record, frozen=True, kw_only=True):
    """What closing ``quantity`` of a position would do, for the confirm dialog."""

    position_id: str
    quantity: int
    max_quantity: int
    legs: tuple[Leg, ...]
    mid: float | None
    natural: float | None
    estimated_fill: float | None
    greeks_before: Greeks
    """The position's own Greeks now."""
    greeks_after: Greeks
    """The position's own Greeks once the close fills (zero for a full close)."""
    mark_state: MarkState
    message: str = ""
    portfolio_greeks_before: Greeks = Greeks()
    """The whole book's Greeks now, as the Greeks pane shows them."""
    portfolio_greeks_after: Greeks = Greeks()
    """The whole book's Greeks once the close fills."""
    greeks_change: Greeks = Greeks()
    """What the close changes: after minus before, the same for the position and the book."""
