"""Provides the engine's configuration: frozen structs that refuse unknown keys.

Each field is documented where it is declared; ``desk.toml`` mirrors these sections and
``desk config`` prints the effective values. Times are engine-clock seconds unless a
field says wall seconds.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from engine.broker.config import PaperBrokerConfig
from engine.market.config import MarketConfig
from engine.remote.config import RedisConfig

Positive = Annotated[float, Meta(gt=0)]
NonNegative = Annotated[float, Meta(ge=0)]
Fraction = Annotated[float, Meta(ge=0, le=1)]
PositiveInt = Annotated[int, Meta(ge=1)]


class Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every configuration section."""


class ClockConfig(Section, frozen=True, kw_only=True):
    speed: NonNegative = 60.0
    """Engine seconds per wall second (sim and replay; 0 replays as fast as possible)."""
    tick_rate: Annotated[float, Meta(gt=0, le=100)] = 4.0
    """Market steps per wall second."""


class BrokerConfig(Section, frozen=True, kw_only=True):
    kind: Literal["paper", "ibkr"] = "paper"
    """Which broker trades: the paper broker, or Interactive Brokers (extra 'ibkr')."""
    ledger: str = ""
    """Paper broker's own ledger file; empty puts it next to the journal."""
    paper: PaperBrokerConfig = PaperBrokerConfig()
    ack_timeout_s: Positive = 10.0
    """An order unacknowledged this long is marked 'unknown' and looked up by its ref."""
    lookup_interval_s: Positive = 2.0
    """Engine seconds between look-ups of an order in the 'unknown' state."""
    lookup_attempts: PositiveInt = 5
    """Look-ups before an order the broker never saw is declared rejected."""
    reconcile: Literal["halt", "adopt"] = "halt"
    """At start, if the broker's positions differ from the journal's: halt trading until
    someone looks, or adopt the broker's positions with a reconciliation fill."""


class JournalConfig(Section, frozen=True, kw_only=True):
    path: str = ""
    """SQLite journal; empty means $XDG_STATE_HOME/desk/<engine name>.journal.db."""


class RiskConfig(Section, frozen=True, kw_only=True):
    stale_after_s: Positive = 60.0
    """A quote older than this is STALE: flagged on screen, and not traded on."""
    max_order_quantity: PositiveInt = 100
    """Largest order the engine sends, in combo units."""
    fat_finger_widths: Positive = 2.0
    """A limit more than this many mid→natural widths through natural is refused."""
    fat_finger_fraction: Positive = 0.25
    """…or more than this fraction of the combo's mid through natural, whichever is larger."""
    max_abs_delta: Positive = 2_000.0
    """Portfolio delta limit, in shares."""
    max_abs_vega: Positive = 5_000.0
    """Portfolio vega limit, dollars per vol point."""
    max_daily_loss: Positive = 10_000.0
    """Loss on the day, in dollars, that uses the whole limit."""
    max_positions: PositiveInt = 50
    """Open positions limit."""
    warning_level: Fraction = 0.8
    """Limit use at which the meter turns to warning."""


class ScannerConfig(Section, frozen=True, kw_only=True):
    enabled: bool = True
    interval_s: Positive = 300.0
    """Engine seconds between scans."""
    ma_fast: PositiveInt = 20
    ma_slow: PositiveInt = 50
    rsi_period: PositiveInt = 14
    rsi_low: Annotated[float, Meta(ge=0, le=50)] = 30.0
    rsi_high: Annotated[float, Meta(ge=50, le=100)] = 70.0
    breakout_lookback: PositiveInt = 20
    """Days whose high a breakout must clear."""
    breakout_volume: Positive = 1.5
    """Volume, as a multiple of its 20-day average, that confirms a breakout."""


class PositionManagerConfig(Section, frozen=True, kw_only=True):
    enabled: bool = True
    interval_s: Positive = 60.0
    profit_target: Fraction = 0.5
    """Close at this fraction of the position's max profit; with unlimited max profit (a
    long call, stock), when it is up this fraction of the debit paid."""
    credit_stop: Positive = 2.0
    """Close a credit position when the loss reaches this multiple of the credit."""
    debit_stop: Fraction = 0.5
    """Close a debit position when it has lost this fraction of what was paid."""
    roll_dte: PositiveInt = 21
    """Days to expiry at or below which a position is a candidate to roll."""
    close_dte: Annotated[int, Meta(ge=0)] = 1
    """Days to expiry at or below which a position should be closed, not held."""


class AnalystConfig(Section, frozen=True, kw_only=True):
    enabled: bool = True
    interval_s: Positive = 60.0
    min_confidence: Fraction = 0.6
    """Signals below this confidence are not turned into proposals."""
    target_dte: PositiveInt = 35
    """Days to expiry the proposed spreads aim for."""
    short_delta: Annotated[float, Meta(gt=0, lt=1)] = 0.30
    """Absolute delta of the option sold."""
    width_strikes: PositiveInt = 5
    """Listed strikes between the sold and the bought option."""
    proposal_ttl_s: Positive = 3_600.0
    """A proposal not approved within this time expires."""


class OrchestratorConfig(Section, frozen=True, kw_only=True):
    enabled: bool = True
    interval_s: Positive = 60.0
    """Engine seconds between votes."""
    window_s: Positive = 3_600.0
    """Signals older than this do not vote."""
    weights: dict[str, Annotated[float, Meta(ge=0)]] = {}
    """Weight per agent name (default 1.0)."""


class AgentsConfig(Section, frozen=True, kw_only=True):
    scanner: ScannerConfig = ScannerConfig()
    orchestrator: OrchestratorConfig = OrchestratorConfig()
    analyst: AnalystConfig = AnalystConfig()
    position_manager: PositionManagerConfig = PositionManagerConfig()
    auto_execute: bool = False
    """Let agents act without approval (paper broker only). Off: recommendations only."""


class DemoConfig(Section, frozen=True, kw_only=True):
    enabled: bool = True
    """Open the demo book on a new journal, so the desk is never empty."""
    initial_cash: Positive = 100_000.0


class EngineConfig(Section, frozen=True, kw_only=True):
    name: str = "desk"
    """Engine name: it names the journal and, on Redis, the keys."""
    market: MarketConfig = MarketConfig()
    clock: ClockConfig = ClockConfig()
    broker: BrokerConfig = BrokerConfig()
    journal: JournalConfig = JournalConfig()
    risk: RiskConfig = RiskConfig()
    agents: AgentsConfig = AgentsConfig()
    demo: DemoConfig = DemoConfig()
    redis: RedisConfig = RedisConfig()
