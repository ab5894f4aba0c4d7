"""Provides the market-source interface the engine drives, and its update and array types.

A source owns the market: it steps to an engine time and answers questions about quotes,
listed options and history. Option marks come back as numpy arrays aligned with the
request, so a whole book is valued in one call. ``state`` says how far a mark can be
trusted: 0 ok, 1 stale (priced from the last good underlying after a bad input), 2 invalid
(unknown, unlisted or expired instrument, or no good input at all); arrays carry NaN only
where the state is not ok.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import msgspec
import numpy as np
import numpy.typing as npt

from engine.records import EarningsEvent, FlowPrint, Option, OptionQuote, Quote

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
StateArray = npt.NDArray[np.uint8]

MARK_OK = 0
MARK_STALE = 1
MARK_INVALID = 2
MARK_STATE_NAMES = ("ok", "stale", "invalid")


class MarketUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """What one step changed: quotes ingested, flow printed, a session opened, expiries passed."""

    quotes: tuple[Quote, ...] = ()
    flow: tuple[FlowPrint, ...] = ()
    new_session: dt.date | None = None
    """Set on the first step of a trading day, to that day's date."""
    expired: tuple[dt.date, ...] = ()
    """Expiry dates whose 16:00 ET close fell within this step."""


@dataclass(frozen=True, slots=True)
class OptionMarks:
    """Marks per contract unit (not × multiplier), aligned with the options asked for.

    ``mid`` is the model's fair value, which lies inside [bid, ask]; ``ts`` is the time of
    the underlying quote the option was priced from.
    """

    bid: FloatArray
    ask: FloatArray
    mid: FloatArray
    iv: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray
    rho: FloatArray
    underlying_price: FloatArray
    ts: IntArray
    state: StateArray
    bid_size: IntArray
    ask_size: IntArray

    def __len__(self) -> int:
        return int(self.state.shape[0])

    @classmethod
    def invalid(cls, n: int) -> OptionMarks:
        nan = np.full(n, np.nan)
        zero = np.zeros(n, dtype=np.int64)
        return cls(
            bid=nan,
            ask=nan.copy(),
            mid=nan.copy(),
            iv=nan.copy(),
            delta=nan.copy(),
            gamma=nan.copy(),
            vega=nan.copy(),
            theta=nan.copy(),
            rho=nan.copy(),
            underlying_price=nan.copy(),
            ts=zero,
            state=np.full(n, MARK_INVALID, dtype=np.uint8),
            bid_size=zero.copy(),
            ask_size=zero.copy(),
        )


@dataclass(frozen=True, slots=True)
class Bars:
    """Daily OHLCV bars, oldest first; the last one may be today's partial bar."""

    date: npt.NDArray[np.datetime64]
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __len__(self) -> int:
        return int(self.close.shape[0])

    @classmethod
    def empty(cls) -> Bars:
        nothing = np.zeros(0)
        return cls(
            date=np.zeros(0, dtype="datetime64[D]"),
            open=nothing,
            high=nothing.copy(),
            low=nothing.copy(),
            close=nothing.copy(),
            volume=nothing.copy(),
        )


@runtime_checkable
class MarketSource(Protocol):
    """The market as the engine sees it. Every source (sim, replay, ibkr) implements it."""

    name: str
    symbols: tuple[str, ...]
    indices: tuple[str, ...]
    rate: float
    counters: dict[str, int]

    def start_time(self) -> int: ...

    def next_time(self, now_ns: int, step_ns: int) -> int | None: ...

    def step(self, now_ns: int) -> MarketUpdate: ...

    def quote(self, symbol: str) -> Quote | None: ...

    def quotes(self) -> tuple[Quote, ...]: ...

    def dividend_yield(self, symbol: str) -> float: ...

    def expiries(self, symbol: str) -> tuple[dt.date, ...]: ...

    def strikes(self, symbol: str, expiry: dt.date) -> tuple[float, ...]: ...

    def is_listed(self, option: Option) -> bool: ...

    def option_marks(self, options: Sequence[Option]) -> OptionMarks: ...

    def chain(self, symbol: str, expiry: dt.date) -> tuple[OptionQuote, ...]: ...

    def earnings(self) -> tuple[EarningsEvent, ...]: ...

    def daily_bars(self, symbol: str) -> Bars: ...

    def session_open(self, now_ns: int) -> bool: ...

    def checkpoint(self) -> bytes: ...

    def restore(self, data: bytes) -> None: ...


@runtime_checkable
class FaultSwitches(Protocol):
    """Faults the engine's tests switch on: a frozen feed and raw bad quotes."""

    def freeze(self, symbols: Iterable[str] | None = None) -> None: ...

    def unfreeze(self) -> None: ...

    def inject_quote(
        self, symbol: str, bid: float | None, ask: float | None, last: float | None
    ) -> None: ...


class CheckpointError(ValueError):
    """A checkpoint that this source cannot continue from (other config, data or version)."""
