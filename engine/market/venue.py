"""Provides the option side every model-priced source shares: listings, marks and chains.

A source (sim, replay) supplies its market time, the listing day, its daily bars and a
pricing context; this mixin answers the listed-option questions of the MarketSource
interface from them, vectorized over whole books.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

from engine.market import calendar
from engine.market.base import Bars, FloatArray, IntArray, OptionMarks
from engine.market.listing import Listing
from engine.market.quoting import (
    BoolArray,
    Contracts,
    PricingContext,
    open_interest,
    option_arrays,
    option_quotes,
    price,
    strike_key,
)
from engine.market.surface import atm_total_variance, total_variance
from engine.records import Option, OptionQuote

_PAIR = 10_000_000
"""Packs (symbol, expiry ordinal) into one integer; ordinals stay below 10^7."""
_KEYS = 1_000_000_000
"""Then (pair, strike in thousandths) into one int64: strikes stay below _STRIKE_LIMIT."""
_STRIKE_LIMIT = 999_999.0


class OptionVenue:
    """Listed options priced off a source's surface. Subclasses provide the hooks."""

    symbols: tuple[str, ...]
    _index: dict[str, int]
    _listing: Listing
    _oi_base: FloatArray
    _seed: int
    _volume: dict[tuple[int, int, int, bool], int]
    _instruments: dict[tuple[int, dt.date, dt.date], list[Option]]
    _key_cache: dict[object, object]

    def _market_time(self) -> int:
        raise NotImplementedError

    def _listing_day(self) -> dt.date:
        raise NotImplementedError

    def _context(self) -> PricingContext:
        raise NotImplementedError

    def _bars(self, sym: int) -> Bars:
        raise NotImplementedError

    def _clear_caches(self) -> None:
        """After a restore: listings and instruments were built on another path."""
        self._listing.clear()
        self._key_cache.clear()
        self._instruments.clear()

    # --- listings -------------------------------------------------------------------------

    def expiries(self, symbol: str) -> tuple[dt.date, ...]:
        if symbol not in self._index:
            return ()
        return self._listing.expiries(self._listing_day(), self._market_time())

    def strikes(self, symbol: str, expiry: dt.date) -> tuple[float, ...]:
        sym = self._index.get(symbol)
        if sym is None or expiry not in self.expiries(symbol):
            return ()
        listed = self._listing.strikes(sym, expiry, self._listing_day())
        return tuple(listed.tolist())

    def is_listed(self, option: Option) -> bool:
        return bool(self._contracts(*option_arrays([option], self._index)).listed[0])

    def _contracts(
        self,
        sym: IntArray,
        strike: FloatArray,
        ordinal: IntArray,
        call: BoolArray,
        standard: BoolArray,
    ) -> Contracts:
        day = self._listing_day()
        live = [e.toordinal() for e in self._listing.expiries(day, self._market_time())]
        with np.errstate(invalid="ignore"):
            sane = (strike > 0) & (strike < _STRIKE_LIMIT)
        listed = standard & (sym >= 0) & sane & np.isin(ordinal, live)
        rows = np.flatnonzero(listed)
        if rows.size:
            pairs = sym[rows] * _PAIR + ordinal[rows]
            wanted = pairs * _KEYS + strike_key(strike[rows])
            known = self._listed_keys(tuple(np.unique(pairs).tolist()), day)
            at = np.minimum(np.searchsorted(known, wanted), max(known.size - 1, 0))
            listed[rows] = (known[at] == wanted) if known.size else False
        return Contracts(
            sym=sym,
            strike=strike,
            expiry_ord=ordinal,
            expiry_ns=calendar.expiry_close_ns(ordinal),
            call=call,
            listed=listed,
        )

    def _listed_keys(self, pairs: tuple[int, ...], day: dt.date) -> IntArray:
        """Sorted (symbol, expiry, strike) keys of every listed strike of these pairs."""
        cache = self._key_cache
        if cache.get("day") != day or len(cache) > 64:
            cache.clear()
            cache["day"] = day
        found = cache.get(pairs)
        if isinstance(found, np.ndarray):
            return found
        parts = [
            pair * _KEYS + self._listing.keys(pair // _PAIR, dt.date.fromordinal(pair % _PAIR), day)
            for pair in pairs
        ]
        keys: IntArray = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        cache[pairs] = keys
        return keys

    # --- marks and chains -----------------------------------------------------------------

    def option_marks(self, options: Sequence[Option]) -> OptionMarks:
        contracts = self._contracts(*option_arrays(options, self._index))
        return price(self._context(), contracts)[0]

    def chain(self, symbol: str, expiry: dt.date) -> tuple[OptionQuote, ...]:
        """Every listed strike of one expiry, calls and puts, by strike (call first)."""
        sym = self._index.get(symbol)
        if sym is None or expiry not in self.expiries(symbol):
            return ()
        day = self._listing_day()
        bars = self._bars(sym)
        strikes = self._listing.strikes(sym, expiry, day)
        m = strikes.shape[0]
        instruments = self._instruments.get((sym, expiry, day))
        if instruments is None:
            if len(self._instruments) > 512:
                self._instruments.clear()
            instruments = [
                Option(underlying=symbol, expiry=expiry, strike=k, right=right)
                for k in strikes.tolist()
                for right in ("C", "P")
            ]
            self._instruments[(sym, expiry, day)] = instruments
        ordinal = np.full(2 * m, expiry.toordinal(), dtype=np.int64)
        contracts = Contracts(
            sym=np.full(2 * m, sym, dtype=np.int64),
            strike=np.repeat(strikes, 2),
            expiry_ord=ordinal,
            expiry_ns=np.full(2 * m, calendar.close_ns(expiry), dtype=np.int64),
            call=np.tile(np.array([True, False]), m),
            listed=np.ones(2 * m, dtype=np.bool_),
        )
        ctx = self._context()
        marks, _ = price(ctx, contracts)
        T = (contracts.expiry_ns - ctx.now_ns) / calendar.NS_PER_YEAR
        reference = float(bars.open[-1]) if len(bars) else float("nan")
        with np.errstate(invalid="ignore", divide="ignore"):
            moneyness = np.nan_to_num(np.log(contracts.strike / reference))
        oi = open_interest(
            self._seed,
            np.full(2 * m, self._oi_base[sym]),
            contracts,
            moneyness,
            T,
            np.full(2 * m, calendar.is_monthly(expiry)),
        )
        keys = strike_key(contracts.strike).tolist()
        ordinal_value = expiry.toordinal()
        volume = [
            self._volume.get((sym, ordinal_value, key, right), 0)
            for key, right in zip(keys, contracts.call.tolist(), strict=True)
        ]
        return option_quotes(instruments, marks, volume, oi)

    # --- the surface, for tests and analytics ---------------------------------------------

    def total_variance(
        self, symbol: str, expiry: dt.date, log_moneyness: Sequence[float] | FloatArray
    ) -> FloatArray:
        """Model total implied variance w(k, T) at log-forward-moneyness k for one expiry."""
        sym = self._index[symbol]
        k = np.asarray(log_moneyness, dtype=np.float64)
        ctx = self._context()
        expiry_ns = np.full(k.shape, calendar.close_ns(expiry), dtype=np.int64)
        T = (expiry_ns - ctx.now_ns) / calendar.NS_PER_YEAR
        syms = np.full(k.shape, sym, dtype=np.int64)
        return total_variance(ctx.surface, syms, k, T, expiry_ns, ctx.now_ns)

    def atm_vol(self, symbol: str, expiry: dt.date) -> float:
        """ATM (forward) implied vol of one expiry; NaN once expired."""
        sym = self._index[symbol]
        ctx = self._context()
        expiry_ns = np.array([calendar.close_ns(expiry)], dtype=np.int64)
        T = (expiry_ns - ctx.now_ns) / calendar.NS_PER_YEAR
        if T[0] <= 0:
            return float("nan")
        theta = atm_total_variance(ctx.surface, np.array([sym]), T, expiry_ns, ctx.now_ns)
        return float(np.sqrt(theta[0] / T[0]))
