"""Provides the sim source: a seeded synthetic market of correlated underlyings and a VIX.

One numpy Generator drives everything after the start; the history before it comes from a
separate stream spawned from the same seed, so it is regenerated on restore instead of
being stored. Nothing the engine reads (quotes, chains, marks) consumes random numbers, so
looking at the market never changes it: same seed and same steps give the same market.
"""

from __future__ import annotations

import datetime as dt
import math

import msgspec
import numpy as np

from engine.clock import EXCHANGE_TZ, NS_PER_DAY, exchange_date
from engine.market import calendar, earnings
from engine.market.base import Bars, FloatArray, MarketUpdate
from engine.market.config import REGIME_NAMES, SimConfig
from engine.market.history import Days, bridge_extremes, earnings_gaps, simulate_days
from engine.market.intraday import WARMUP_SESSIONS, IntradayTape
from engine.market.listing import Listing
from engine.market.quoting import PricingContext
from engine.market.regime import MarketState, RegimeModel, evolve, initial_state
from engine.market.simfeed import SimFeed
from engine.market.simstate import SimCheckpoint, restore_sim, save_sim
from engine.market.surface import SurfaceParams
from engine.market.validate import empty_counters
from engine.records import EarningsEvent, Quote

_INDEX_DAYS = 30.0
_INDEX_NOISE_HALFLIFE = 0.2
"""Trading days: the index's noise around the model is short-lived."""
_EARNINGS_HORIZON_DAYS = 100


class SimMarket(SimFeed):
    """The default market source. ``SimMarket(SimConfig(seed=...))``."""

    name = "sim"

    def __init__(self, config: SimConfig | None = None) -> None:
        cfg = config if config is not None else SimConfig()
        if cfg.start_date is None:
            # Unset means today; the engine pins it in its journal before building us.
            cfg = msgspec.structs.replace(cfg, start_date=dt.datetime.now(EXCHANGE_TZ).date())
        self.config = cfg
        under = cfg.underlyings
        self.symbols = tuple(u.symbol for u in under)
        self.indices: tuple[str, ...] = (cfg.index_symbol,)
        self.rate = cfg.rate
        self.counters = empty_counters()
        self._n = n = len(under)
        self._index = {s: i for i, s in enumerate(self.symbols)}
        self._columns = {s: i for i, s in enumerate((*self.symbols, *self.indices))}
        self._seed = cfg.seed
        self._model = RegimeModel.from_config(cfg)
        self._long_var = self._model.long_run_variance()
        self._speed = np.full(n, math.log(2.0) / cfg.term_halflife_days * 252.0)
        regimes = cfg.regimes.ordered()
        order = np.argsort(self._model.vol_multiplier)
        self._premium_x = self._model.vol_multiplier[order]
        self._premium_y = np.array([1.0 + r.vol_premium for r in regimes])[order]
        self._normal_x = float(self._model.vol_multiplier[1])
        self._put_share = np.array([r.put_share for r in regimes])

        def column(field: str) -> FloatArray:
            return np.array([float(getattr(u, field)) for u in under])

        self._price0 = column("price")
        self._dividend = column("dividend_yield")
        self._rho, self._eta, self._gamma = (column(f"skew_{p}") for p in ("rho", "eta", "gamma"))
        self._half_spread = column("option_half_spread")
        self._spread_pct = column("option_spread_pct")
        self._size = column("option_size")
        self._oi_base = column("open_interest")
        self._quote_spread = column("quote_spread")
        self._avg_volume = column("avg_volume")
        self._flow_weight = column("flow_weight")
        self._steps_near = column("strike_step_near")
        self._steps_far = column("strike_step_far")
        self._listing = Listing(cfg.chain, self._strike_steps, self._bars)
        self._volume: dict[tuple[int, int, int, bool], int] = {}
        self._instruments = {}
        self._key_cache = {}

        assert cfg.start_date is not None
        self._start = calendar.start_ns(cfg.start_date)
        start_day = exchange_date(self._start)
        history = calendar.trading_days_before(start_day, cfg.history_days)
        names = [(i, u.symbol, u.earnings_move) for i, u in enumerate(under)]
        first = history[0] if history else start_day
        last = start_day + dt.timedelta(days=3660)
        self._events = earnings.schedule(cfg.seed, names, first, last) if cfg.earnings else []
        history_seed, live_seed = np.random.SeedSequence(cfg.seed).spawn(2)
        self._hist_dates = np.array(history, dtype="datetime64[D]")
        self._generate_history(np.random.Generator(np.random.PCG64(history_seed)), start_day)
        self._rng = np.random.Generator(np.random.PCG64(live_seed))
        self._reset_live(start_day)

    # --- construction ---------------------------------------------------------------------

    def _generate_history(self, rng: np.random.Generator, start_day: dt.date) -> None:
        cfg, n = self.config, self._n
        state = initial_state(self._model, rng)
        days = [d.astype(dt.date) for d in self._hist_dates]
        past = self._simulate(state, rng, days, np.ones(n))
        last_close = past.close[-1] if days else np.ones(n)
        gap = evolve(self._model, state, cfg.overnight_share, rng)
        gap += earnings_gaps(self._events, start_day, n, rng)
        # The path is drawn from 1 and scaled so the start day opens at the configured prices.
        scale = self._price0 / (last_close * np.exp(gap))
        self._hist = past.stacked(scale)
        self._hist_prev_close = np.append(last_close * scale, past.index[-1, 3] if days else 0.0)
        if cfg.initial_regime is not None and cfg.pin_regime is None:
            state.regime = REGIME_NAMES.index(cfg.initial_regime)
            state.log_x = self._model.log_level(state.regime)
        self._state0 = (state.regime, state.log_x)

    def _reset_live(self, start_day: dt.date) -> None:
        n = self._n
        self._state = MarketState(*self._state0)
        self._t = self._start
        self._day = start_day
        self._started = False
        self._tick = 0
        self._spot = self._price0.copy()
        self._index_noise = 0.0
        self._bar = np.zeros((5, n + 1))
        self._bar[:4, :n] = self._spot
        self._bar[:4, n] = self._index_level(self._state)
        self._prev_close = self._hist_prev_close.copy()
        if self._prev_close[n] <= 0:
            self._prev_close[n] = self._bar[3, n]
        self._post_dates: list[dt.date] = []
        self._post: list[FloatArray] = []
        self._post_cache: tuple[int, FloatArray] | None = None
        self._frozen: set[str] = set()
        self._injected: dict[str, tuple[float | None, float | None, float | None]] = {}
        self._volume.clear()
        self._tape = IntradayTape(n, self._seed)
        self._status = np.zeros(n + 1, dtype=np.uint8)
        self._pub_ts = np.full(n + 1, self._start, dtype=np.int64)
        self._pub_spot = np.full(n + 1, np.nan)
        self._refresh_events()
        self._ctx: PricingContext | None = None
        self._quotes: list[Quote] = []
        bid, ask, last, bid_size, ask_size = self._raw_quotes()
        for col, symbol in enumerate(self._columns):
            b, a, t = float(bid[col]), float(ask[col]), float(last[col])
            sizes = int(bid_size[col]), int(ask_size[col])
            self._quotes.append(self._make_quote(symbol, col, b, a, t, *sizes))
            self._pub_spot[col] = (b + a) / 2.0

    def _strike_steps(self, sym: int, reference: float) -> tuple[float, float]:
        return float(self._steps_near[sym]), float(self._steps_far[sym])

    # --- the process ----------------------------------------------------------------------

    def _premium(self, x: float) -> float:
        return float(np.interp(x, self._premium_x, self._premium_y))

    def _index_level(self, state: MarketState) -> float:
        """100 x the first underlying's 30-day ATM implied vol (no earnings: an index ETF)."""
        x = state.x
        v0 = (float(self._model.vol[0]) * x) ** 2
        v_long = float(self._long_var[0])
        y = float(self._speed[0]) * _INDEX_DAYS / 365.0
        variance = v_long + (v0 - v_long) * (-math.expm1(-y) / y)
        return 100.0 * math.sqrt(variance) * self._premium(x)

    def _stress(self) -> float:
        return min(max(self._state.x / self._normal_x, 0.6), 4.0)

    def _advance(self, t0: int, t1: int) -> int:
        """Diffuse the session between t0 and t1 (clipped to the session); its length in ns."""
        start = max(t0, calendar.open_ns(self._day))
        end = min(t1, calendar.close_ns(self._day))
        if end <= start:
            return 0
        n, cfg = self._n, self.config
        fraction = (end - start) / calendar.SESSION_NS
        days = fraction * (1.0 - cfg.overnight_share)
        variance = (self._model.vol * self._state.x) ** 2 * days / calendar.TRADING_DAYS_PER_YEAR
        move = evolve(self._model, self._state, days, self._rng)
        top, bottom = bridge_extremes(move, variance, self._rng)
        before = self._spot
        self._spot = before * np.exp(move)
        bar = self._bar
        high, low = before * np.exp(top), before * np.exp(bottom)
        bar[1, :n] = np.maximum(bar[1, :n], high)
        bar[2, :n] = np.minimum(bar[2, :n], low)
        bar[3, :n] = self._spot
        activity = self._state.x / self._normal_x
        volume = np.round(
            self._avg_volume * fraction * activity * self._rng.lognormal(0.0, 0.25, n)
        )
        bar[4, :n] += volume
        self._tape.record(self._day, end, before, high, low, self._spot, volume)
        decay = math.exp(-math.log(2.0) * days / _INDEX_NOISE_HALFLIFE)
        shock = cfg.vix_noise * math.sqrt(1.0 - decay * decay) * float(self._rng.standard_normal())
        self._index_noise = self._index_noise * decay + shock
        level = self._index_level(self._state) * math.exp(self._index_noise)
        bar[1, n], bar[2, n], bar[3, n] = max(bar[1, n], level), min(bar[2, n], level), level
        return end - start

    def _finish_session(self) -> int:
        elapsed = self._advance(self._t, calendar.close_ns(self._day))
        self._post_dates.append(self._day)
        self._post.append(self._bar.copy())
        self._prev_close = self._bar[3].copy()
        self._t = max(self._t, calendar.close_ns(self._day))
        return elapsed

    def _simulate(
        self, state: MarketState, rng: np.random.Generator, days: list[dt.date], close: FloatArray
    ) -> Days:
        cfg = self.config
        return simulate_days(
            self._model,
            state,
            rng,
            days,
            close,
            self._events,
            cfg.overnight_share,
            self._avg_volume,
            self._index_level,
            cfg.vix_noise,
        )

    def _skip_days(self, days: list[dt.date]) -> None:
        """Days the engine stepped over entirely, simulated a day at a time."""
        past = self._simulate(self._state, self._rng, days, self._spot)
        bars = past.stacked()
        for i, day in enumerate(days):
            self._post_dates.append(day)
            self._post.append(bars[:, i, :].copy())
        self._spot = past.close[-1].copy()
        self._prev_close = self._post[-1][3].copy()

    def _open_session(self, day: dt.date) -> None:
        n, cfg = self._n, self.config
        gap = evolve(self._model, self._state, cfg.overnight_share, self._rng)
        gap += earnings_gaps(self._events, day, n, self._rng)
        self._spot = self._spot * np.exp(gap)
        self._day = day
        self._t = calendar.open_ns(day)
        self._bar = np.zeros((5, n + 1))
        self._bar[:4, :n] = self._spot
        self._bar[:4, n] = self._index_level(self._state) * math.exp(self._index_noise)
        self._volume.clear()
        self._refresh_events()

    def _refresh_events(self) -> None:
        horizon = self._t + 3 * 366 * NS_PER_DAY
        upcoming = [e for e in self._events if e.gap_ns <= horizon]
        self._event_ns, self._event_var = earnings.event_arrays(upcoming, self._n, self._t)

    # --- stepping -------------------------------------------------------------------------

    def start_time(self) -> int:
        return self._start

    def next_time(self, now_ns: int, step_ns: int) -> int | None:
        return calendar.next_step_ns(now_ns, step_ns)

    def session_open(self, now_ns: int) -> bool:
        return calendar.session_open(now_ns)

    def step(self, now_ns: int) -> MarketUpdate:
        if now_ns < self._t or (self._started and now_ns == self._t):
            return MarketUpdate()
        previous = self._t if self._started else self._t - 1
        new_session: dt.date | None = None
        if not self._started:
            self._started = True
            new_session = self._day
        elapsed = 0
        target = calendar.latest_session_day(now_ns)
        if target > self._day:
            elapsed += self._finish_session()
            skipped: list[dt.date] = []
            day = calendar.next_trading_day(self._day)
            while day < target:
                skipped.append(day)
                day = calendar.next_trading_day(day)
            if skipped:
                self._skip_days(skipped)
                elapsed = 0
            self._open_session(target)
            new_session = target
        if new_session is not None:
            self._tape.open_print(self._day, self._spot)
        elapsed += self._advance(self._t, now_ns)
        crossed_close = new_session is not None or now_ns >= calendar.close_ns(self._day)
        self._t = max(self._t, now_ns)
        self._tick += 1
        self._ctx = None
        quotes = self._publish(now_ns)
        return MarketUpdate(
            quotes=quotes,
            flow=self._flow(now_ns, elapsed / 60e9),
            new_session=new_session,
            expired=calendar.expired_between(previous, now_ns, self.config.chain.weekly_weeks > 0)
            if crossed_close
            else (),
        )

    # --- what the engine reads ------------------------------------------------------------

    def _market_time(self) -> int:
        return self._t

    def _listing_day(self) -> dt.date:
        return self._day

    def _context(self) -> PricingContext:
        if self._ctx is not None:
            return self._ctx
        n, x = self._n, self._state.x
        surface = SurfaceParams(
            v0=(self._model.vol * x) ** 2,
            v_long=self._long_var,
            speed=self._speed,
            premium=np.full(n, self._premium(x)),
            rho=self._rho,
            eta=self._eta,
            gamma=self._gamma,
            event_ns=self._event_ns,
            event_var=self._event_var,
        )
        self._ctx = PricingContext(
            now_ns=self._t,
            rate=self.rate,
            spot=self._pub_spot[:n],
            spot_ts=self._pub_ts[:n],
            spot_state=self._status[:n],
            dividend=self._dividend,
            surface=surface,
            half_spread=self._half_spread,
            spread_pct=self._spread_pct,
            stress=np.full(n, self._stress()),
            widening=self.config.moneyness_widening,
            size=self._size,
            seed=self._seed,
            tick=self._tick,
        )
        return self._ctx

    def quote(self, symbol: str) -> Quote | None:
        col = self._columns.get(symbol)
        return None if col is None else self._quotes[col]

    def quotes(self) -> tuple[Quote, ...]:
        return tuple(self._quotes)

    def dividend_yield(self, symbol: str) -> float:
        sym = self._index.get(symbol)
        return 0.0 if sym is None else float(self._dividend[sym])

    def earnings(self) -> tuple[EarningsEvent, ...]:
        """Reports from today (a BMO report this morning included) to 100 days ahead."""
        last = self._day + dt.timedelta(days=_EARNINGS_HORIZON_DAYS)
        ahead = [e.event for e in self._events if self._day <= e.event.date <= last]
        return tuple(sorted(ahead, key=lambda e: (e.date, e.symbol)))

    def _bars(self, sym: int) -> Bars:
        return self.daily_bars(self.symbols[sym])

    def intraday_bars(self, symbol: str) -> Bars:
        """Minute bars: the last completed sessions, then today's (see market.intraday)."""
        sym = self._index.get(symbol)
        if sym is None:
            return Bars.empty()
        return self._tape.bars(sym, self._day, self._started, self._completed_days())

    def _completed_days(self) -> list[tuple[dt.date, FloatArray]]:
        """The last sessions before today, each as [field (o, h, l, c, v), symbol]."""
        n = self._n
        days = [(d, bar[:, :n]) for d, bar in zip(self._post_dates, self._post, strict=True)]
        missing = WARMUP_SESSIONS - len(days)
        if missing > 0 and self._hist.shape[1]:
            dates = self._hist_dates[-missing:]
            hist = self._hist[:, -len(dates) :, :n]
            days = [(d.astype(dt.date), hist[:, i]) for i, d in enumerate(dates)] + days
        return days[-WARMUP_SESSIONS:]

    def daily_bars(self, symbol: str) -> Bars:
        col = self._columns.get(symbol)
        if col is None:
            return Bars.empty()
        if self._post_cache is None or self._post_cache[0] != len(self._post):
            stacked = np.stack(self._post, axis=1) if self._post else np.zeros((5, 0, self._n + 1))
            self._post_cache = (len(self._post), stacked)
        post = self._post_cache[1]
        dates = np.concatenate(
            [
                self._hist_dates,
                np.array(self._post_dates, dtype="datetime64[D]"),
                np.array([self._day], dtype="datetime64[D]"),
            ]
        )
        rows = [
            np.concatenate([self._hist[r, :, col], post[r, :, col], self._bar[r, col : col + 1]])
            for r in range(5)
        ]
        return Bars(
            date=dates, open=rows[0], high=rows[1], low=rows[2], close=rows[3], volume=rows[4]
        )

    # --- for tests and fault drills -------------------------------------------------------

    def regime_truth(self) -> str:
        """The hidden regime. Tests only: nothing the engine reads exposes it."""
        return REGIME_NAMES[self._state.regime]

    def vol_state(self) -> float:
        """The hidden vol multiplier x (tests only)."""
        return self._state.x

    # --- checkpoint -----------------------------------------------------------------------

    def checkpoint(self) -> bytes:
        return msgspec.msgpack.encode(save_sim(self))

    def restore(self, data: bytes) -> None:
        saved = msgspec.msgpack.decode(data, type=SimCheckpoint)
        restore_sim(self, saved)
        # Minute bars are not in the checkpoint: today's so far are drawn from its bar.
        self._tape = IntradayTape(self._n, self._seed)
        if self._started:
            self._tape.draw_until(self._day, self._t, self._bar[:, : self._n])
        self._ctx = None
        self._clear_caches()
        self._post_cache = None
