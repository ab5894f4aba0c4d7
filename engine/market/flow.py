"""Provides the options-flow tape: sweeps, blocks and splits drawn around the money.

Prints favour near-term, near-the-money contracts; the put share follows the hidden regime;
sweeps lift the offer, blocks often cross at the mid, splits trade both sides. Now and then
an order is outsized, and a print larger than the contract's open interest or with a
premium above the configured threshold is flagged unusual, as flow scanners do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from engine.market import calendar
from engine.market.base import MARK_OK, FloatArray, IntArray, OptionMarks
from engine.market.quoting import Contracts
from engine.records import FlowPrint, Option

KINDS = ("sweep", "block", "split")
KIND_ODDS = (0.30, 0.12, 0.58)
MEDIAN_SIZE = (60.0, 400.0, 15.0)
SIDES = ("buy", "sell", "mid")
SIDE_ODDS = np.array([(0.7, 0.3, 0.0), (0.35, 0.25, 0.4), (0.4, 0.4, 0.2)])
"""Per kind: odds of lifting the ask, hitting the bid, crossing at the mid."""
TERM_DAYS = 14.0
"""Flow thins out with days to expiry on this scale."""


@lru_cache(maxsize=64)
def _expiry_table(expiries: tuple[dt.date, ...]) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    closes = np.array([calendar.close_ns(e) for e in expiries], dtype=np.int64)
    return closes, np.array([calendar.is_monthly(e) for e in expiries])


@dataclass(frozen=True, slots=True)
class Orders:
    contracts: Contracts
    kind: IntArray
    side: IntArray
    size: IntArray


def draw_orders(
    rng: np.random.Generator,
    count: int,
    symbols: IntArray,
    weights: FloatArray,
    expiries: Sequence[dt.date],
    now_ns: int,
    spot: FloatArray,
    atm_vol: FloatArray,
    strikes_for: Callable[[int, dt.date], FloatArray],
    put_share: float,
    unusual_probability: float,
) -> Orders:
    """``count`` orders on the listed contracts of ``symbols`` (which must be quoted)."""
    closes, monthly = _expiry_table(tuple(expiries))
    T = np.maximum((closes - now_ns) / calendar.NS_PER_YEAR, 1e-6)
    term = np.exp(-T * 365.0 / TERM_DAYS) * np.where(monthly, 1.5, 1.0) + 0.01

    sym = symbols[rng.choice(len(symbols), size=count, p=weights / weights.sum())]
    which = rng.choice(len(expiries), size=count, p=term / term.sum())
    wide = rng.random(count) < 0.2
    k = rng.standard_normal(count) * atm_vol[sym] * np.sqrt(T[which]) * np.where(wide, 2.0, 0.6)
    call = rng.random(count) >= put_share
    kind = rng.choice(3, size=count, p=KIND_ODDS)
    size = np.asarray(MEDIAN_SIZE)[kind] * rng.lognormal(0.0, 0.8, count)
    outsized = rng.random(count) < unusual_probability
    size = np.where(outsized, size * rng.uniform(10.0, 40.0, count), size)
    side_u = rng.random(count)
    side = (side_u[:, None] > np.cumsum(SIDE_ODDS[kind], axis=1)[:, :2]).sum(axis=1)

    strikes = np.zeros(count)
    for i in range(count):
        listed = strikes_for(int(sym[i]), expiries[int(which[i])])
        if listed.size:
            target = spot[sym[i]] * np.exp(k[i])
            strikes[i] = listed[np.abs(listed - target).argmin()]
    ordinals = np.array([expiries[int(j)].toordinal() for j in which], dtype=np.int64)
    contracts = Contracts(
        sym=sym.astype(np.int64),
        strike=strikes,
        expiry_ord=ordinals,
        expiry_ns=closes[which],
        call=call,
        listed=strikes > 0,
    )
    return Orders(
        contracts=contracts,
        kind=kind.astype(np.int64),
        side=side.astype(np.int64),
        size=np.maximum(np.round(size), 1).astype(np.int64),
    )


def prints(
    orders: Orders,
    marks: OptionMarks,
    open_interest: IntArray,
    symbols: Sequence[str],
    now_ns: int,
    unusual_premium: float,
) -> tuple[FlowPrint, ...]:
    """The tape for priced orders; orders on contracts without a good mark do not print."""
    side = orders.side.copy()
    mid_price = np.round((marks.bid + marks.ask) / 2.0, 2)
    # Nobody sells into a zero bid: such an order lifts the offer instead.
    side = np.where((side == 1) & ~(marks.bid >= 0.01), 0, side)
    price: npt.NDArray[np.float64] = np.choose(side, [marks.ask, marks.bid, mid_price])
    premium = orders.size * price * 100.0
    unusual = (orders.size > open_interest) | (premium >= unusual_premium)
    ok = (marks.state == MARK_OK) & (price >= 0.01)
    c = orders.contracts
    out: list[FlowPrint] = []
    for i in np.flatnonzero(ok).tolist():
        option = Option(
            underlying=symbols[int(c.sym[i])],
            expiry=dt.date.fromordinal(int(c.expiry_ord[i])),
            strike=float(c.strike[i]),
            right="C" if c.call[i] else "P",
        )
        out.append(
            FlowPrint(
                ts=now_ns,
                instrument=option,
                side=SIDES[int(side[i])],  # type: ignore[arg-type]
                kind=KINDS[int(orders.kind[i])],  # type: ignore[arg-type]
                size=int(orders.size[i]),
                price=float(price[i]),
                premium=round(float(premium[i]), 2),
                underlying_price=float(marks.underlying_price[i]),
                unusual=bool(unusual[i]),
            )
        )
    return tuple(out)
