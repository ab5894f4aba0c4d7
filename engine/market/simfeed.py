"""Provides the sim's feed: quotes through validation, the fault switches, the flow tape.

Every simulated quote goes through the same validation as a live feed's. A frozen symbol
publishes nothing (its quote and time stand still while the clock runs on, as a dead feed
on a healthy connection does); an injected raw quote replaces the simulated one at the
next step and, if good, moves the market there.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from engine.market import calendar, flow
from engine.market.base import MARK_INVALID, MARK_OK, FloatArray, IntArray, StateArray
from engine.market.config import SimConfig
from engine.market.drills import FaultDrills, RawQuote
from engine.market.listing import Listing
from engine.market.quoting import open_interest, price
from engine.market.regime import MarketState
from engine.market.validate import (
    CODES,
    Rejection,
    count,
    quote_codes,
    validate_quote,
)
from engine.market.venue import OptionVenue
from engine.records import FlowPrint, Quote


class SimFeed(FaultDrills, OptionVenue):
    """The publishing half of :class:`engine.market.sim.SimMarket`."""

    config: SimConfig
    counters: dict[str, int]
    _n: int
    _t: int
    _day: dt.date
    _rng: np.random.Generator
    _state: MarketState
    _columns: dict[str, int]
    _spot: FloatArray
    _bar: FloatArray
    _prev_close: FloatArray
    _quote_spread: FloatArray
    _flow_weight: FloatArray
    _put_share: FloatArray
    _normal_x: float
    _quotes: list[Quote]
    _pub_spot: FloatArray
    _pub_ts: IntArray
    _status: StateArray
    _frozen: set[str]
    _injected: dict[str, RawQuote]
    _listing: Listing

    def _stress(self) -> float:
        raise NotImplementedError

    def _raw_quotes(
        self,
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        n, tick = self._n, 0.01
        stress = self._stress()
        half = self._quote_spread * stress / 2.0
        bid = np.round((self._spot - half) / tick)
        ask = np.maximum(np.round((self._spot + half) / tick), bid + 1)
        level = self._bar[3, n]
        bid = np.append(bid * tick, level - 0.05 * stress)
        ask = np.append(ask * tick, level + 0.05 * stress)
        last = np.append(self._spot, level)
        u = self._rng.random(n + 1)
        bid_size = 100 * np.ceil(20 * u / stress)
        ask_size = 100 * np.ceil(20 * (1 - u) / stress)
        return np.round(bid, 2), np.round(ask, 2), np.round(last, 2), bid_size, ask_size

    def _make_quote(
        self,
        symbol: str,
        col: int,
        bid: float | None,
        ask: float | None,
        last: float | None,
        bid_size: int,
        ask_size: int,
    ) -> Quote:
        return Quote(
            symbol=symbol,
            bid=bid,
            ask=ask,
            last=last,
            prev_close=round(float(self._prev_close[col]), 2),
            bid_size=bid_size,
            ask_size=ask_size,
            volume=int(self._bar[4, col]),
            ts=self._t,
        )

    def _publish(self, now_ns: int) -> tuple[Quote, ...]:
        bid, ask, last, bid_size, ask_size = self._raw_quotes()
        codes = quote_codes(bid, ask, last)
        changed: list[Quote] = []
        for symbol, col in self._columns.items():
            if symbol in self._frozen:
                continue
            injected = self._injected.pop(symbol, None)
            if injected is not None:
                rejection = validate_quote(*injected)
            elif codes[col]:
                code = CODES[int(codes[col]) - 1]
                rejection = Rejection(code, f"simulated {symbol} quote rejected: {code}")
            else:
                rejection = None
            if rejection is not None:
                count(self.counters, rejection)
                # A bad input (FAULTS row 28): nothing is priced from it, and every option
                # on it is excluded from the Greeks until a good quote arrives.
                self._status[col] = MARK_INVALID
                continue
            if injected is not None:
                b, a, t = (float(v) for v in injected)  # type: ignore[arg-type]
                self._take_injected(col, b, a, t)
            else:
                b, a, t = float(bid[col]), float(ask[col]), float(last[col])
            quote = self._make_quote(symbol, col, b, a, t, int(bid_size[col]), int(ask_size[col]))
            self._quotes[col] = quote
            self._status[col] = MARK_OK
            self._pub_spot[col] = (b + a) / 2.0
            self._pub_ts[col] = now_ns
            changed.append(quote)
        return tuple(changed)

    def _take_injected(self, col: int, bid: float, ask: float, last: float) -> None:
        """A good injected quote moves the market there: the path continues from it."""
        if col < self._n:
            self._spot[col] = (bid + ask) / 2.0
        bar = self._bar
        bar[1, col], bar[2, col], bar[3, col] = max(bar[1, col], last), min(bar[2, col], last), last

    def _flow(self, now_ns: int, minutes: float) -> tuple[FlowPrint, ...]:
        cfg = self.config
        if minutes <= 0 or cfg.flow_rate <= 0 or cfg.flow_max_per_step == 0:
            return ()
        activity = self._state.x / self._normal_x
        count_ = min(
            int(self._rng.poisson(cfg.flow_rate * minutes * activity)), cfg.flow_max_per_step
        )
        eligible = np.array(
            [
                i
                for i, s in enumerate(self.symbols)
                if s not in self._frozen and self._status[i] == MARK_OK and self._flow_weight[i] > 0
            ],
            dtype=np.int64,
        )
        expiries = self._listing.expiries(self._day, self._t)
        if count_ == 0 or eligible.size == 0 or not expiries:
            return ()
        ctx = self._context()
        atm = np.sqrt(ctx.surface.v0) * ctx.surface.premium
        orders = flow.draw_orders(
            self._rng,
            count_,
            eligible,
            self._flow_weight[eligible],
            expiries,
            now_ns,
            self._pub_spot,
            atm,
            lambda s, e: self._listing.strikes(s, e, self._day),
            float(self._put_share[self._state.regime]),
            cfg.unusual_probability,
        )
        c = orders.contracts
        marks, _ = price(ctx, c)
        T = (c.expiry_ns - now_ns) / calendar.NS_PER_YEAR
        with np.errstate(divide="ignore", invalid="ignore"):
            moneyness = np.nan_to_num(np.log(c.strike / self._bar[0, c.sym]))
        monthly = np.array([calendar.is_monthly(dt.date.fromordinal(o)) for o in c.expiry_ord])
        oi = open_interest(self._seed, self._oi_base[c.sym], c, moneyness, T, monthly)
        tape = flow.prints(orders, marks, oi, self.symbols, now_ns, cfg.unusual_premium)
        for p in tape:
            inst = p.instrument
            key = (
                self._index[inst.underlying],
                inst.expiry.toordinal(),
                round(inst.strike * 1000),
                inst.right == "C",
            )
            self._volume[key] = self._volume.get(key, 0) + p.size
        return tape
