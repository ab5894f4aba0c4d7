"""Provides option quoting: surface vol -> BSM value and Greeks -> a bid/ask on $0.01 ticks.

The mid is the model's fair value. The half-spread is a dollar floor plus a share of the
value, scaled by market stress and widened with distance from the money (in standard
deviations); bid and ask are rounded outward to the tick, the bid floored at zero and the
ask at least a tick above it, so a quoted vertical or butterfly can never be bought for
less than its model value. Open interest and displayed sizes are hashed from the seed and
the contract: deterministic, and they never consume the market's random stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri

from engine.market.base import (
    MARK_INVALID,
    FloatArray,
    IntArray,
    OptionMarks,
    StateArray,
)
from engine.market.calendar import NS_PER_YEAR
from engine.market.surface import SurfaceParams, total_variance
from engine.market.validate import quote_codes
from engine.pricing import greeks
from engine.records import Option, OptionQuote

BoolArray = npt.NDArray[np.bool_]
U64 = npt.NDArray[np.uint64]

TICK = 0.01
MAX_DISTANCE = 6.0
"""Moneyness widening stops growing this many standard deviations out."""


@dataclass(frozen=True, slots=True)
class PricingContext:
    """A source's market at one instant, per symbol index, as the quoting model needs it."""

    now_ns: int
    rate: float
    spot: FloatArray
    spot_ts: IntArray
    spot_state: StateArray
    dividend: FloatArray
    surface: SurfaceParams
    half_spread: FloatArray
    spread_pct: FloatArray
    stress: FloatArray
    widening: float
    size: FloatArray
    seed: int
    tick: int
    """Changes every step, so displayed sizes move while staying deterministic."""


@dataclass(frozen=True, slots=True)
class Contracts:
    """Options as arrays; ``sym`` is -1 and ``listed`` False for anything unknown."""

    sym: IntArray
    strike: FloatArray
    expiry_ord: IntArray
    expiry_ns: IntArray
    call: BoolArray
    listed: BoolArray


def option_arrays(
    options: Sequence[Option], index: dict[str, int]
) -> tuple[IntArray, FloatArray, IntArray, BoolArray, BoolArray]:
    """Symbol index (-1 if unknown), strike, expiry ordinal, call flag, multiplier-100 flag."""
    # One comprehension per field is several times faster than building row tuples.
    expiries = [o.expiry for o in options]
    ordinals = {e: e.toordinal() for e in set(expiries)}
    return (
        np.array([index.get(o.underlying, -1) for o in options], dtype=np.int64),
        np.array([o.strike for o in options], dtype=np.float64),
        np.array([ordinals[e] for e in expiries], dtype=np.int64),
        np.array([o.right == "C" for o in options], dtype=np.bool_),
        np.array([o.multiplier == 100 for o in options], dtype=np.bool_),
    )


def price(ctx: PricingContext, c: Contracts) -> tuple[OptionMarks, FloatArray]:
    """Marks for each contract, and its distance from the money in standard deviations."""
    n = c.sym.shape[0]
    if n == 0:
        return OptionMarks.invalid(0), np.zeros(0)
    sym = np.where(c.sym >= 0, c.sym, 0)
    spot = ctx.spot[sym]
    T = (c.expiry_ns - ctx.now_ns) / NS_PER_YEAR
    state = ctx.spot_state[sym].copy()
    with np.errstate(invalid="ignore"):
        ok = (
            c.listed
            & (c.sym >= 0)
            & (T > 0)
            & np.isfinite(spot)
            & (spot > 0)
            & np.isfinite(c.strike)
            & (c.strike > 0)
            & (state != MARK_INVALID)
        )
    # Rows that cannot be priced get harmless inputs; they are masked out below.
    S = np.where(ok, spot, 1.0)
    K = np.where(ok, c.strike, 1.0)
    t = np.where(ok, T, 1.0)
    q = ctx.dividend[sym]
    k = np.log(K / S) - (ctx.rate - q) * t
    w = total_variance(ctx.surface, sym, k, t, c.expiry_ns, ctx.now_ns)
    w = np.where(ok, np.maximum(w, 1e-12), 1e-4)
    sigma = np.sqrt(w / t)
    g = greeks(np.where(c.call, "c", "p"), S, K, t, ctx.rate, sigma, q)
    mid = g.price
    distance = np.minimum(np.abs(k) / np.sqrt(w), MAX_DISTANCE)
    stress = ctx.stress[sym]
    half = stress * (ctx.half_spread[sym] + ctx.spread_pct[sym] * mid)
    half = np.maximum(half * (1.0 + ctx.widening * distance), TICK / 2)
    bid = np.maximum(np.floor((mid - half) / TICK + 1e-9), 0.0)
    ask = np.maximum(np.ceil((mid + half) / TICK - 1e-9), bid + 1.0)
    bid = np.round(bid * TICK, 2)
    ask = np.round(ask * TICK, 2)

    finite = np.isfinite(mid) & np.isfinite(g.delta) & np.isfinite(g.gamma) & np.isfinite(sigma)
    ok &= finite & (quote_codes(bid, ask, allow_zero_bid=True) == 0)
    state = np.where(ok, state, MARK_INVALID).astype(np.uint8)

    noise = uniform(ctx.seed ^ ctx.tick, contract_id(c))
    base = ctx.size[sym] * np.exp(-0.35 * distance) / np.maximum(stress, 0.25)
    bid_size = np.maximum(np.round(base * (0.4 + 1.2 * noise)), 1).astype(np.int64)
    ask_size = np.maximum(np.round(base * (1.6 - 1.2 * noise)), 1).astype(np.int64)

    bad = state == MARK_INVALID

    def masked(values: FloatArray) -> FloatArray:
        return np.where(bad, np.nan, values)

    marks = OptionMarks(
        bid=masked(bid),
        ask=masked(ask),
        mid=masked(mid),
        iv=masked(sigma),
        delta=masked(g.delta),
        gamma=masked(g.gamma),
        vega=masked(g.vega),
        theta=masked(g.theta),
        rho=masked(g.rho),
        underlying_price=masked(spot),
        ts=np.where(bad & (c.sym < 0), 0, ctx.spot_ts[sym]).astype(np.int64),
        state=state,
        bid_size=np.where(bad, 0, bid_size),
        ask_size=np.where(bad, 0, ask_size),
    )
    return marks, np.where(bad, np.nan, distance)


def strike_key(strike: FloatArray) -> IntArray:
    """Strikes in thousandths of a dollar; NaN, infinities and absurd values map to 0."""
    with np.errstate(invalid="ignore"):
        scaled = np.round(np.asarray(strike, dtype=np.float64) * 1000)
        sane = np.isfinite(scaled) & (np.abs(scaled) < 1e15)
    return np.where(sane, scaled, 0.0).astype(np.int64)


def contract_id(c: Contracts) -> IntArray:
    """One int64 per contract (symbol, strike, expiry, right), for hashing."""
    packed = (strike_key(c.strike) * 10_000_000 + c.expiry_ord) * 2 + c.call
    result: IntArray = packed * 64 + c.sym
    return result


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _splitmix(x: U64) -> U64:
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    result: U64 = x ^ (x >> np.uint64(31))
    return result


def mix(*parts: npt.ArrayLike) -> U64:
    """A 64-bit hash of the parts, elementwise (broadcast). Always on arrays of at least one
    element: numpy wraps uint64 arithmetic silently on arrays but warns on scalars."""
    shape = np.broadcast_shapes(*(np.shape(p) for p in parts)) or (1,)
    h = np.full(shape, 0x243F6A8885A308D3, dtype=np.uint64)
    for part in parts:
        h = _splitmix(h ^ np.asarray(part, dtype=np.int64).view(np.uint64))
    return h


def uniform(*parts: npt.ArrayLike) -> FloatArray:
    """Deterministic uniforms in (0, 1) from hashed parts."""
    result: FloatArray = ((mix(*parts) >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53
    return result


def open_interest(
    seed: int,
    base: FloatArray,
    c: Contracts,
    moneyness: FloatArray,
    T: FloatArray,
    monthly: BoolArray,
) -> IntArray:
    """Open interest: most at the money and near term, more on monthlies, hashed noise.

    ``moneyness`` is log(K / reference) against the day's reference price, so open
    interest changes overnight, as it does at the exchange, and not with every tick.
    """
    width = 0.04 + 0.25 * np.sqrt(np.maximum(T, 0.0))
    shape = np.exp(-0.5 * (moneyness / width) ** 2) + 0.03
    term = np.where(monthly, 1.8, 1.0) / (1.0 + 4.0 * np.maximum(T, 0.0))
    u = uniform(seed, 0x0151, contract_id(c))
    noise = np.exp(0.6 * ndtri(u))
    result: IntArray = np.round(base * shape * term * noise).astype(np.int64)
    return result


def option_quotes(
    instruments: Sequence[Option],
    marks: OptionMarks,
    volume: Sequence[int],
    oi: IntArray,
) -> tuple[OptionQuote, ...]:
    """Records for a chain; fields of an invalid mark are None, never NaN."""
    cols = [
        np.asarray(a).tolist()
        for a in (
            marks.bid,
            marks.ask,
            marks.mid,
            marks.iv,
            marks.delta,
            marks.gamma,
            marks.theta,
            marks.vega,
            marks.rho,
            marks.underlying_price,
            marks.bid_size,
            marks.ask_size,
            marks.ts,
            marks.state,
            oi,
        )
    ]
    out: list[OptionQuote] = []
    for i, inst in enumerate(instruments):
        row = [col[i] for col in cols]
        if row[13] == MARK_INVALID:
            out.append(
                OptionQuote(
                    instrument=inst,
                    bid=None,
                    ask=None,
                    mid=None,
                    iv=None,
                    delta=None,
                    gamma=None,
                    theta=None,
                    vega=None,
                    rho=None,
                    underlying_price=None,
                    volume=volume[i],
                    open_interest=row[14],
                    ts=row[12],
                )
            )
            continue
        out.append(
            OptionQuote(
                instrument=inst,
                bid=row[0],
                ask=row[1],
                mid=row[2],
                iv=row[3],
                delta=row[4],
                gamma=row[5],
                theta=row[6],
                vega=row[7],
                rho=row[8],
                underlying_price=row[9],
                bid_size=row[10],
                ask_size=row[11],
                volume=volume[i],
                open_interest=row[14],
                ts=row[12],
            )
        )
    return tuple(out)
