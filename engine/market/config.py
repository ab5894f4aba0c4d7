"""Provides the market sources' configuration: frozen structs that refuse unknown keys.

They are loaded from the ``[market]`` section of desk.toml. Each field is documented where
it is declared. Vols, drifts and rates are annual and continuous; a "day" is a trading day
unless a field says calendar days. Bounds are enforced when a config is decoded
(``msgspec.convert``); cross-field rules are checked in ``__post_init__`` either way.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

REGIME_NAMES = ("calm", "normal", "stressed", "crisis")
RegimeName = Literal["calm", "normal", "stressed", "crisis"]

Positive = Annotated[float, Meta(gt=0)]
NonNegative = Annotated[float, Meta(ge=0)]
Fraction = Annotated[float, Meta(ge=0, le=1)]
Vol = Annotated[float, Meta(gt=0, le=5)]
Rate = Annotated[float, Meta(ge=-0.05, le=0.5)]
Skew = Annotated[float, Meta(gt=-1, lt=1)]
SkewEta = Annotated[float, Meta(gt=0, le=4)]
SkewGamma = Annotated[float, Meta(gt=0, le=0.5)]
PositiveInt = Annotated[int, Meta(ge=1)]


class Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every market configuration section."""


def _check_ssvi(where: str, rho: float, eta: float, gamma: float) -> None:
    # Gatheral-Jacquier: the power-law SSVI is free of static arbitrage under these bounds.
    if not -1 < rho < 1:
        raise ValueError(f"{where}: skew_rho must lie in (-1, 1), got {rho}")
    if not 0 < gamma <= 0.5:
        raise ValueError(f"{where}: skew_gamma must lie in (0, 0.5], got {gamma}")
    if eta <= 0 or eta * (1 + abs(rho)) > 2 + 1e-12:
        raise ValueError(
            f"{where}: skew_eta * (1 + |skew_rho|) must be in (0, 2] for an arbitrage-free "
            f"surface, got {eta} * {1 + abs(rho)} = {eta * (1 + abs(rho)):.3f}"
        )


class ChainConfig(Section, frozen=True, kw_only=True):
    weekly_weeks: Annotated[int, Meta(ge=0, le=26)] = 8
    """Friday expiries are listed this many weeks ahead."""
    monthly_months: Annotated[int, Meta(ge=1, le=36)] = 13
    """Third-Friday expiries are listed this many months ahead."""
    leaps_years: Annotated[int, Meta(ge=0, le=3)] = 2
    """January LEAPS are listed this many years beyond the current one."""
    near_band: Annotated[float, Meta(gt=0, le=1)] = 0.10
    """Fine strikes cover +-this fraction of the reference price."""
    far_band: Annotated[float, Meta(gt=0, lt=1)] = 0.30
    """Coarse strikes cover +-this fraction of the reference price."""

    def __post_init__(self) -> None:
        if self.far_band < self.near_band:
            raise ValueError("chain: far_band must be at least near_band")


class UnderlyingConfig(Section, frozen=True, kw_only=True):
    symbol: Annotated[str, Meta(min_length=1, max_length=6, pattern=r"^[A-Z][A-Z0-9.]*$")]
    """Ticker (upper case, at most six characters: the OCC root)."""
    price: Positive
    """Opening price on the start date."""
    vol: Vol
    """Close-to-close realized vol in the normal regime; other regimes scale it."""
    beta: Annotated[float, Meta(ge=0, le=4)] = 1.0
    """Sensitivity to market-wide jumps."""
    dividend_yield: Annotated[float, Meta(ge=0, le=0.2)] = 0.0
    """Continuous dividend yield."""
    skew_rho: Skew = -0.6
    """SSVI correlation: negative gives equity put skew."""
    skew_eta: SkewEta = 1.1
    """SSVI curvature level; eta * (1 + |rho|) <= 2."""
    skew_gamma: SkewGamma = 0.45
    """SSVI power: how fast the skew flattens with maturity (0 < gamma <= 0.5)."""
    earnings_move: Annotated[float, Meta(ge=0, le=0.5)] = 0.0
    """Typical earnings gap (std of the log move); 0 means no earnings (ETFs)."""
    strike_step_near: Positive = 1.0
    """Strike spacing near the money."""
    strike_step_far: Positive = 5.0
    """Strike spacing away from the money."""
    quote_spread: Positive = 0.01
    """Stock bid/ask spread in dollars in the normal regime."""
    option_half_spread: NonNegative = 0.01
    """Option half-spread floor in dollars, before stress and moneyness widening."""
    option_spread_pct: Annotated[float, Meta(ge=0, le=0.5)] = 0.004
    """Option half-spread as a fraction of the option's value, added to the floor."""
    option_size: PositiveInt = 100
    """Typical displayed option size (contracts) at the money in calm markets."""
    open_interest: PositiveInt = 5000
    """Typical open interest of a near-dated at-the-money contract."""
    avg_volume: Positive = 30e6
    """Average daily share volume."""
    flow_weight: NonNegative = 1.0
    """Relative share of the options-flow tape."""

    def __post_init__(self) -> None:
        _check_ssvi(self.symbol, self.skew_rho, self.skew_eta, self.skew_gamma)
        if self.strike_step_far < self.strike_step_near:
            raise ValueError(f"{self.symbol}: strike_step_far must be >= strike_step_near")


class RegimeConfig(Section, frozen=True, kw_only=True):
    drift: Annotated[float, Meta(ge=-2, le=2)]
    """Expected annual log return before the volatility drag."""
    vol_multiplier: Annotated[float, Meta(gt=0, le=10)]
    """Each underlying's vol in this regime is its ``vol`` times this."""
    correlation: Annotated[float, Meta(ge=0, lt=1)]
    """Pairwise correlation of diffusive returns (one-factor model: always PSD)."""
    jump_intensity: NonNegative
    """Market-wide jumps per year; each name moves beta times the jump."""
    mean_duration_days: Annotated[float, Meta(ge=1)]
    """Expected length of a stay in this regime, in trading days."""
    next_weights: tuple[NonNegative, NonNegative, NonNegative, NonNegative]
    """Relative odds of the next regime (calm, normal, stressed, crisis) when leaving."""
    put_share: Fraction = 0.45
    """Share of puts on the options-flow tape."""
    vol_premium: Annotated[float, Meta(ge=0, le=1)] = 0.10
    """Implied vol exceeds expected realized vol by this fraction."""


class RegimeSet(Section, frozen=True, kw_only=True):
    calm: RegimeConfig = RegimeConfig(
        drift=0.14,
        vol_multiplier=0.7,
        correlation=0.35,
        jump_intensity=1.0,
        mean_duration_days=60,
        next_weights=(0, 0.9, 0.1, 0),
        put_share=0.35,
        vol_premium=0.12,
    )
    """Low vol, rising prices, loose correlations."""
    normal: RegimeConfig = RegimeConfig(
        drift=0.08,
        vol_multiplier=1.0,
        correlation=0.5,
        jump_intensity=2.0,
        mean_duration_days=45,
        next_weights=(0.5, 0, 0.45, 0.05),
        put_share=0.42,
        vol_premium=0.10,
    )
    """The base case: each underlying's configured vol."""
    stressed: RegimeConfig = RegimeConfig(
        drift=-0.08,
        vol_multiplier=1.5,
        correlation=0.65,
        jump_intensity=5.0,
        mean_duration_days=25,
        next_weights=(0.1, 0.6, 0, 0.3),
        put_share=0.55,
        vol_premium=0.10,
    )
    """Higher vol, falling prices, tighter correlations."""
    crisis: RegimeConfig = RegimeConfig(
        drift=-0.35,
        vol_multiplier=2.4,
        correlation=0.8,
        jump_intensity=12.0,
        mean_duration_days=20,
        next_weights=(0, 0.3, 0.7, 0),
        put_share=0.65,
        vol_premium=0.08,
    )
    """Vol spikes, everything falls together, frequent jumps."""

    def ordered(self) -> tuple[RegimeConfig, RegimeConfig, RegimeConfig, RegimeConfig]:
        return (self.calm, self.normal, self.stressed, self.crisis)

    def __post_init__(self) -> None:
        for name, regime in zip(REGIME_NAMES, self.ordered(), strict=True):
            others = [w for j, w in enumerate(regime.next_weights) if REGIME_NAMES[j] != name]
            if sum(others) <= 0:
                raise ValueError(f"regimes.{name}: next_weights must favour another regime")


DEFAULT_UNDERLYINGS: tuple[UnderlyingConfig, ...] = (
    UnderlyingConfig(
        symbol="SPY",
        price=580.0,
        vol=0.16,
        beta=1.0,
        dividend_yield=0.012,
        skew_rho=-0.7,
        skew_eta=1.15,
        strike_step_near=1.0,
        strike_step_far=5.0,
        option_half_spread=0.005,
        option_spread_pct=0.0025,
        option_size=500,
        open_interest=20000,
        avg_volume=60e6,
        flow_weight=0.28,
    ),
    UnderlyingConfig(
        symbol="QQQ",
        price=500.0,
        vol=0.21,
        beta=1.15,
        dividend_yield=0.006,
        skew_rho=-0.65,
        skew_eta=1.15,
        strike_step_near=1.0,
        strike_step_far=5.0,
        option_half_spread=0.005,
        option_spread_pct=0.003,
        option_size=400,
        open_interest=10000,
        avg_volume=40e6,
        flow_weight=0.14,
    ),
    UnderlyingConfig(
        symbol="IWM",
        price=220.0,
        vol=0.22,
        beta=1.15,
        dividend_yield=0.011,
        skew_rho=-0.6,
        skew_eta=1.2,
        strike_step_near=1.0,
        strike_step_far=5.0,
        option_half_spread=0.005,
        option_spread_pct=0.004,
        option_size=300,
        open_interest=8000,
        avg_volume=30e6,
        flow_weight=0.08,
    ),
    UnderlyingConfig(
        symbol="AAPL",
        price=230.0,
        vol=0.26,
        beta=1.1,
        dividend_yield=0.0045,
        skew_rho=-0.45,
        skew_eta=1.2,
        earnings_move=0.04,
        strike_step_near=2.5,
        strike_step_far=5.0,
        option_half_spread=0.01,
        option_spread_pct=0.004,
        option_size=150,
        open_interest=8000,
        avg_volume=50e6,
        flow_weight=0.16,
    ),
    UnderlyingConfig(
        symbol="NVDA",
        price=135.0,
        vol=0.50,
        beta=1.8,
        dividend_yield=0.0003,
        skew_rho=-0.3,
        skew_eta=1.3,
        earnings_move=0.08,
        strike_step_near=1.0,
        strike_step_far=5.0,
        option_half_spread=0.01,
        option_spread_pct=0.005,
        option_size=200,
        open_interest=12000,
        avg_volume=250e6,
        flow_weight=0.18,
    ),
    UnderlyingConfig(
        symbol="TSLA",
        price=380.0,
        vol=0.60,
        beta=2.0,
        dividend_yield=0.0,
        skew_rho=-0.2,
        skew_eta=1.4,
        earnings_move=0.09,
        strike_step_near=2.5,
        strike_step_far=10.0,
        quote_spread=0.02,
        option_half_spread=0.02,
        option_spread_pct=0.005,
        option_size=100,
        open_interest=10000,
        avg_volume=90e6,
        flow_weight=0.16,
    ),
)


class SimConfig(Section, frozen=True, kw_only=True):
    seed: Annotated[int, Meta(ge=0, le=2**63 - 1)] = 7
    """Same seed, same market, bit for bit."""
    start_date: dt.date | None = None
    """The first session opens at 09:30 ET on this day (or the next weekday). Unset: the
    day the journal was started (so a new desk opens on today's date, and a restarted
    one keeps its own calendar)."""
    rate: Rate = 0.04
    """Risk-free rate, continuous."""
    history_days: Annotated[int, Meta(ge=0, le=5000)] = 300
    """Trading days of daily bars generated before the start, for scanners."""
    underlyings: tuple[UnderlyingConfig, ...] = DEFAULT_UNDERLYINGS
    """The optionable underlyings."""
    index_symbol: Annotated[str, Meta(min_length=1, max_length=8)] = "VIX"
    """The volatility index: 100 x the first underlying's 30-day ATM implied vol."""
    regimes: RegimeSet = RegimeSet()
    """The hidden regime chain."""
    pin_regime: RegimeName | None = None
    """Stay in this regime for ever, history included (tests)."""
    initial_regime: RegimeName | None = None
    """Start the session in this regime; otherwise wherever the history ended."""
    jump_mean: Annotated[float, Meta(ge=-0.5, le=0.5)] = -0.015
    """Mean market-wide jump (log return)."""
    jump_sd: Annotated[float, Meta(ge=0, le=0.5)] = 0.025
    """Standard deviation of a market-wide jump (log return)."""
    vol_halflife_days: Annotated[float, Meta(gt=0, le=250)] = 5.0
    """Half-life of the vol state's pull toward the current regime's vol."""
    vol_of_vol: Annotated[float, Meta(ge=0, le=1)] = 0.15
    """Stationary std of the log vol state around its regime level."""
    term_halflife_days: Annotated[float, Meta(gt=0, le=1000)] = 25.0
    """Half-life with which the option market expects vol to return to its long-run
    level: it sets the slope of the term structure."""
    overnight_share: Annotated[float, Meta(ge=0, lt=1)] = 0.2
    """Share of a day's variance that arrives overnight, as the opening gap."""
    earnings: bool = True
    """Single names report earnings: a surface bump, a gap at the open, then the crush."""
    chain: ChainConfig = ChainConfig()
    """Which expiries and strikes are listed."""
    moneyness_widening: Annotated[float, Meta(ge=0, le=2)] = 0.12
    """Option half-spreads grow by this fraction per standard deviation of moneyness."""
    flow_rate: NonNegative = 30.0
    """Options-flow prints per market minute in the normal regime."""
    flow_max_per_step: Annotated[int, Meta(ge=0, le=1000)] = 40
    """At most this many prints per step (long steps would print thousands)."""
    unusual_probability: Fraction = 0.02
    """Chance a print is an outsized order (10-40x its usual size)."""
    unusual_premium: Positive = 500_000.0
    """A print with at least this premium in dollars is flagged unusual."""
    vix_noise: Annotated[float, Meta(ge=0, le=0.5)] = 0.02
    """Relative noise of the volatility index around 100 x the 30-day ATM vol."""

    def __post_init__(self) -> None:
        if not self.underlyings:
            raise ValueError("sim: at least one underlying is needed")
        symbols = [u.symbol for u in self.underlyings]
        if len(set(symbols)) != len(symbols) or self.index_symbol in symbols:
            raise ValueError(f"sim: symbols must be unique, got {symbols} + {self.index_symbol}")


class ReplayConfig(Section, frozen=True, kw_only=True):
    paths: tuple[str, ...] = ()
    """CSV files or directories of them; each file's name (stem) is its symbol."""
    files: dict[str, str] = {}
    """Explicit symbol -> CSV file, for files not named after their symbol."""
    index_path: str | None = None
    """CSV of the volatility index (e.g. VIX daily); without it the index is derived."""
    index_symbol: Annotated[str, Meta(min_length=1, max_length=8)] = "VIX"
    """Symbol the index is quoted under."""
    index_underlying: str = "SPY"
    """Derive the index from this symbol's 30-day ATM vol (else the first symbol)."""
    start: dt.date | None = None
    """First replayed day; earlier bars (within warmup_days) only warm the model up."""
    end: dt.date | None = None
    """Last replayed day (inclusive)."""
    warmup_days: Annotated[int, Meta(ge=0, le=40000)] = 450
    """Calendar days before ``start`` kept for the vol fit and the scanners' history."""
    use_adjusted: bool = True
    """Scale OHLC by Adj Close / Close when the file has it (no split gaps)."""
    rate: Rate = 0.04
    """Risk-free rate, continuous."""
    dividend_yields: dict[str, Annotated[float, Meta(ge=0, le=0.2)]] = {}
    """Continuous dividend yield per symbol (default 0)."""
    ewma_halflife_days: Annotated[float, Meta(gt=0, le=500)] = 20.0
    """Half-life of the EWMA of squared log returns that sets the ATM level."""
    vol_halflife_days: Annotated[float, Meta(gt=0, le=500)] = 20.0
    """Half-life with which the term structure reverts to the long-run realized vol."""
    initial_vol: Vol = 0.2
    """Vol assumed before a symbol has any return."""
    vol_premium: Annotated[float, Meta(ge=0, le=1)] = 0.10
    """Implied vol exceeds the fitted realized vol by this fraction."""
    overnight_share: Annotated[float, Meta(ge=0, lt=1)] = 0.2
    """Share of a day's variance assigned to the overnight gap (for intraday bars)."""
    skew_rho: Skew = -0.6
    """SSVI correlation, as in the sim."""
    skew_eta: SkewEta = 1.1
    """SSVI curvature level; eta * (1 + |rho|) <= 2."""
    skew_gamma: SkewGamma = 0.45
    """SSVI power (0 < gamma <= 0.5)."""
    quote_spread_bps: Annotated[float, Meta(gt=0, le=500)] = 2.0
    """Synthetic stock bid/ask spread around the bar close, in basis points."""
    option_half_spread: NonNegative = 0.01
    """Option half-spread floor in dollars."""
    option_spread_pct: Annotated[float, Meta(ge=0, le=0.5)] = 0.005
    """Option half-spread as a fraction of the option's value."""
    option_size: PositiveInt = 100
    """Typical displayed option size."""
    open_interest: PositiveInt = 5000
    """Typical open interest of a near-dated at-the-money contract."""
    moneyness_widening: Annotated[float, Meta(ge=0, le=2)] = 0.12
    """Option half-spreads grow by this fraction per standard deviation of moneyness."""
    chain: ChainConfig = ChainConfig()
    """Which expiries and strikes are listed, relative to the replay date."""
    seed: Annotated[int, Meta(ge=0, le=2**63 - 1)] = 7
    """Seeds the deterministic open interest and displayed sizes."""

    def __post_init__(self) -> None:
        _check_ssvi("replay", self.skew_rho, self.skew_eta, self.skew_gamma)
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError("replay: end is before start")


class MarketConfig(Section, frozen=True, kw_only=True):
    source: Literal["sim", "replay"] = "sim"
    """Which source drives the engine."""
    sim: SimConfig = SimConfig()
    """The synthetic market."""
    replay: ReplayConfig = ReplayConfig()
    """Historical bars from CSV."""

    def __post_init__(self) -> None:
        if self.source == "replay" and not (self.replay.paths or self.replay.files):
            raise ValueError("market.replay: give paths or files to replay")
