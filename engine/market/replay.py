"""Provides the replay source: historical bars from CSV, options priced off a fitted surface.

Each step is the next bar time across all files (daily bars stand at 16:00 ET of their
date); quotes come from the bar close with a synthetic spread. Options use the sim's SSVI
smile on an ATM term structure fitted to realized volatility (see replaydata), listed as
the sim lists them relative to the replay date. A VIX file, when given, is quoted as the
index; otherwise the index is 100 x the 30-day ATM vol of ``index_underlying``. Nothing
random happens, so a replay is deterministic by construction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from pathlib import Path

import msgspec
import numpy as np

from engine.clock import exchange_date
from engine.market import calendar
from engine.market.base import MARK_INVALID, MARK_OK, Bars, MarketUpdate
from engine.market.config import ReplayConfig
from engine.market.csvbars import BarSeries, ReplayDataError, discover, load_csv
from engine.market.drills import FaultDrills
from engine.market.listing import Listing, auto_steps
from engine.market.quoting import PricingContext
from engine.market.replaydata import Daily, Fit, bars_until, daily, fit_variance
from engine.market.replaystate import ReplayCheckpoint, restore_replay, save_replay
from engine.market.surface import SurfaceParams, no_events
from engine.market.validate import count, empty_counters, validate_quote
from engine.market.venue import OptionVenue
from engine.records import EarningsEvent, Quote

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()  # datetime64[D] counts days from here

_INDEX_T = 30.0 / 365.0


class ReplayMarket(FaultDrills, OptionVenue):
    """``ReplayMarket(ReplayConfig(paths=("data/",)))``: one CSV per symbol."""

    name = "replay"

    def __init__(self, config: ReplayConfig) -> None:
        cfg = config
        self.config = cfg
        self.rate = cfg.rate
        self.counters = empty_counters()
        files = discover(cfg.paths, cfg.files)
        index_path = files.pop(cfg.index_symbol, None)
        if cfg.index_path is not None:
            index_path = Path(cfg.index_path).expanduser()
            if not index_path.is_file():
                raise ReplayDataError(f"{index_path}: no such file (market.replay.index_path)")
        if not files:
            raise ReplayDataError("replay: no symbol files found in " + ", ".join(cfg.paths))
        series = [self._load(symbol, path) for symbol, path in sorted(files.items())]
        self._derived_index = index_path is None
        if index_path is not None:
            series.append(self._load(cfg.index_symbol, index_path))
        self._series = series
        self.symbols = tuple(s.symbol for s in series[: len(files)])
        self.indices: tuple[str, ...] = (cfg.index_symbol,)
        n = self._n = len(self.symbols)
        self._index = {s: i for i, s in enumerate(self.symbols)}
        self._columns = {s: i for i, s in enumerate((*self.symbols, cfg.index_symbol))}
        self._seed = cfg.seed
        self._fits: list[Fit] = [
            fit_variance(s, cfg.ewma_halflife_days, cfg.initial_vol, cfg.overnight_share)
            for s in series[:n]
        ]
        self._daily: list[Daily] = [daily(s) for s in series]
        self._dividend = np.array([cfg.dividend_yields.get(s, 0.0) for s in self.symbols])
        self._oi_base = np.full(n, float(cfg.open_interest))
        self._listing = Listing(cfg.chain, lambda _sym, ref: auto_steps(ref), self._bars)
        self._volume: dict[tuple[int, int, int, bool], int] = {}
        self._instruments = {}
        self._key_cache = {}
        self._fingerprint = _data_fingerprint(cfg, series)
        self._timeline = np.unique(np.concatenate([s.ts for s in series]))
        # The data says which days traded (a calendar may not know them all, abroad or long
        # ago): a session is open on a day with bars.
        self._bar_days = frozenset(
            int(d) + _EPOCH_ORDINAL
            for d in np.unique(np.concatenate([s.date for s in series])).astype(np.int64)
        )
        start = calendar.open_ns(cfg.start) if cfg.start is not None else self._timeline[0]
        self._first = int(np.searchsorted(self._timeline, start))
        if self._first >= self._timeline.shape[0]:
            raise ReplayDataError(f"replay: no bars on or after {cfg.start}")
        self._reset()

    def _load(self, symbol: str, path: Path) -> BarSeries:
        cfg = self.config
        full = load_csv(path, symbol, self.counters, use_adjusted=cfg.use_adjusted)
        low = None if cfg.start is None else cfg.start - dt.timedelta(days=cfg.warmup_days)
        keep = np.ones(len(full), dtype=np.bool_)
        if low is not None:
            keep &= full.date >= np.datetime64(low, "D")
        if cfg.end is not None:
            keep &= full.date <= np.datetime64(cfg.end, "D")
        if not keep.any():
            raise ReplayDataError(f"{path}: no bars between {low} and {cfg.end}")
        return BarSeries(
            symbol=full.symbol,
            path=full.path,
            ts=full.ts[keep],
            date=full.date[keep],
            open=full.open[keep],
            high=full.high[keep],
            low=full.low[keep],
            close=full.close[keep],
            volume=full.volume[keep],
            intraday=full.intraday,
        )

    def _reset(self) -> None:
        columns = self._n + 1
        self._cursor = self._first
        self._t = int(self._timeline[self._first]) - 1
        self._started = False
        self._tick = 0
        self._last = [-1] * columns
        """Per column, the index of the last bar ingested (-1: none yet)."""
        self._quotes: list[Quote | None] = [None] * columns
        self._pub_spot = np.full(columns, np.nan)
        self._pub_ts = np.zeros(columns, dtype=np.int64)
        self._status = np.full(columns, MARK_INVALID, dtype=np.uint8)
        self._frozen: set[str] = set()
        self._injected: dict[str, tuple[float | None, float | None, float | None]] = {}
        self._ctx: PricingContext | None = None
        # Bars before the first replayed time only warm up the fit and the history.
        warm = int(self._timeline[self._first])
        for col, s in enumerate(self._series):
            last = int(np.searchsorted(s.ts, warm)) - 1
            if last >= 0:
                self._ingest(col, last, int(s.ts[last]))
        self._day = exchange_date(self._t + 1)
        if self._derived_index:
            self._derive_index(int(self._pub_ts[: self._n].max()))

    # --- stepping -------------------------------------------------------------------------

    def start_time(self) -> int:
        return int(self._timeline[self._first])

    def next_time(self, now_ns: int, step_ns: int) -> int | None:
        at = max(int(np.searchsorted(self._timeline, now_ns, side="right")), self._first)
        return int(self._timeline[at]) if at < self._timeline.shape[0] else None

    def session_open(self, now_ns: int) -> bool:
        day = exchange_date(now_ns)
        return day.toordinal() in self._bar_days and calendar.open_ns(
            day
        ) <= now_ns <= calendar.close_ns(day)

    def step(self, now_ns: int) -> MarketUpdate:
        end = int(np.searchsorted(self._timeline, now_ns, side="right"))
        if end <= self._cursor:
            return MarketUpdate()
        previous = self._t
        changed: dict[int, Quote] = {}
        for at in range(self._cursor, end):
            t = int(self._timeline[at])
            for col, s in enumerate(self._series):
                nxt = self._last[col] + 1
                if nxt < len(s) and int(s.ts[nxt]) == t:
                    quote = self._ingest(col, nxt, t)
                    if quote is not None:
                        changed[col] = quote
        self._cursor = end
        last_time = int(self._timeline[end - 1])
        self._t = max(now_ns, last_time)
        self._tick += 1
        self._ctx = None
        day = exchange_date(last_time)
        new_session = day if (not self._started or day != self._day) else None
        self._started = True
        self._day = day
        if self._derived_index and self.config.index_symbol not in self._frozen:
            quote = self._derive_index(last_time)
            if quote is not None:
                changed[self._n] = quote
        return MarketUpdate(
            quotes=tuple(changed[c] for c in sorted(changed)),
            new_session=new_session,
            expired=calendar.expired_between(previous, now_ns, self.config.chain.weekly_weeks > 0),
        )

    def _raw(self, col: int, bar: int) -> tuple[float, float, float]:
        close = float(self._series[col].close[bar])
        half = close * self.config.quote_spread_bps / 2e4
        bid = round(close - half, 2)
        ask = max(round(close + half, 2), round(bid + 0.01, 2))
        return bid, ask, close

    def _ingest(self, col: int, bar: int, t: int) -> Quote | None:
        """Take bar ``bar`` of column ``col`` as the latest data; publish its quote."""
        self._last[col] = bar
        symbol = self._symbol(col)
        if symbol in self._frozen:
            return None
        injected = self._injected.pop(symbol, None)
        raw = injected if injected is not None else self._raw(col, bar)
        return self._publish(col, raw, t)

    def _publish(
        self, col: int, raw: tuple[float | None, float | None, float | None], t: int
    ) -> Quote | None:
        rejection = validate_quote(*raw)
        if rejection is not None:
            count(self.counters, rejection)
            # A bad input (FAULTS row 28): nothing is priced from it, and every option on
            # it is excluded from the Greeks until a good quote arrives.
            self._status[col] = MARK_INVALID
            return None
        bid, ask, last = (float(v) for v in raw)  # type: ignore[arg-type]
        d = self._daily[col] if col < len(self._daily) else None
        bar = self._last[col]
        prev_close, volume = None, 0
        if d is not None and bar >= 0:
            day = int(d.bar_day[bar])
            prev_close = float(d.bars.close[day - 1]) if day > 0 else None
            volume = int(d.day_volume[bar])
        quote = Quote(
            symbol=self._symbol(col),
            bid=bid,
            ask=ask,
            last=last,
            prev_close=prev_close,
            bid_size=100,
            ask_size=100,
            volume=volume,
            ts=t,
        )
        self._quotes[col] = quote
        self._status[col] = MARK_OK
        self._pub_spot[col] = (bid + ask) / 2.0
        self._pub_ts[col] = t
        return quote

    def _derive_index(self, t: int) -> Quote | None:
        sym = self._index.get(self.config.index_underlying, 0)
        if self._status[sym] == MARK_INVALID:
            return None
        surface = self._context().surface
        v_long = float(surface.v_long[sym])
        y = float(surface.speed[sym]) * _INDEX_T
        variance = v_long + (float(surface.v0[sym]) - v_long) * (-math.expm1(-y) / y)
        level = round(100.0 * math.sqrt(variance) * float(surface.premium[sym]), 2)
        col = self._n
        injected = self._injected.pop(self.config.index_symbol, None)
        raw = (
            injected
            if injected is not None
            else (round(level - 0.05, 2), round(level + 0.05, 2), level)
        )
        return self._publish(col, raw, t)

    def _symbol(self, col: int) -> str:
        return self.symbols[col] if col < self._n else self.config.index_symbol

    # --- what the engine reads ------------------------------------------------------------

    def _market_time(self) -> int:
        return self._t

    def _listing_day(self) -> dt.date:
        return self._day

    def _fit_at(self, sym: int) -> tuple[float, float]:
        bar = self._last[sym]
        if bar < 0:
            v = self.config.initial_vol**2
            return v, v
        fit = self._fits[sym]
        return float(fit.v0[bar]), float(fit.v_long[bar])

    def _context(self) -> PricingContext:
        if self._ctx is not None:
            return self._ctx
        cfg, n = self.config, self._n
        fitted = np.array([self._fit_at(i) for i in range(n)]).reshape(n, 2)
        v0, v_long = fitted[:, 0], fitted[:, 1]
        event_ns, event_var = no_events(n)
        surface = SurfaceParams(
            v0=v0,
            v_long=v_long,
            speed=np.full(n, math.log(2.0) / cfg.vol_halflife_days * 252.0),
            premium=np.full(n, 1.0 + cfg.vol_premium),
            rho=np.full(n, cfg.skew_rho),
            eta=np.full(n, cfg.skew_eta),
            gamma=np.full(n, cfg.skew_gamma),
            event_ns=event_ns,
            event_var=event_var,
        )
        self._ctx = PricingContext(
            now_ns=self._t,
            rate=self.rate,
            spot=self._pub_spot[:n],
            spot_ts=self._pub_ts[:n],
            spot_state=self._status[:n],
            dividend=self._dividend,
            surface=surface,
            half_spread=np.full(n, cfg.option_half_spread),
            spread_pct=np.full(n, cfg.option_spread_pct),
            stress=np.clip(np.sqrt(v0 / v_long), 0.6, 4.0),
            widening=cfg.moneyness_widening,
            size=np.full(n, float(cfg.option_size)),
            seed=self._seed,
            tick=self._tick,
        )
        return self._ctx

    def fitted_vol(self, symbol: str) -> float:
        """The EWMA realized vol the surface is built on, at the current bar."""
        return math.sqrt(self._fit_at(self._index[symbol])[0])

    def quote(self, symbol: str) -> Quote | None:
        col = self._columns.get(symbol)
        return None if col is None else self._quotes[col]

    def quotes(self) -> tuple[Quote, ...]:
        return tuple(q for q in self._quotes if q is not None)

    def dividend_yield(self, symbol: str) -> float:
        return float(self.config.dividend_yields.get(symbol, 0.0))

    def earnings(self) -> tuple[EarningsEvent, ...]:
        return ()

    def _bars(self, sym: int) -> Bars:
        return bars_until(self._daily[sym], self._series[sym], self._last[sym])

    def daily_bars(self, symbol: str) -> Bars:
        col = self._columns.get(symbol)
        if col is None or col >= len(self._series):
            return Bars.empty()
        return bars_until(self._daily[col], self._series[col], self._last[col])

    # --- checkpoint -----------------------------------------------------------------------

    def checkpoint(self) -> bytes:
        return msgspec.msgpack.encode(save_replay(self))

    def restore(self, data: bytes) -> None:
        restore_replay(self, msgspec.msgpack.decode(data, type=ReplayCheckpoint))
        self._ctx = None
        self._clear_caches()


def _data_fingerprint(config: ReplayConfig, series: list[BarSeries]) -> str:
    digest = hashlib.sha256(msgspec.json.encode(config))
    for s in series:
        digest.update(s.symbol.encode())
        digest.update(s.ts.tobytes())
        digest.update(s.close.tobytes())
    return digest.hexdigest()[:16]
