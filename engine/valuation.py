"""Provides revaluation of the whole book on every tick, vectorized over all legs.

The leg table is rebuilt only when fills change the book; each tick asks the market for
every option leg's marks in one call and aggregates with ``np.bincount``. A leg whose
quote is stale keeps its value and is flagged; a leg with no valid quote is valued at its
last good mark if it had one, its Greeks are left out of every total, and it is counted.
A leg that has never had a mark has no value: its position shows none (``market_value``
None, marks ``invalid``) and the totals carry it at cost, so they invent neither a gain
nor a loss for it, and count it in ``unpriced_legs``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.clock import exchange_date
from engine.market.base import MarketSource
from engine.portfolio import Book, PositionState
from engine.records import (
    Greeks,
    MarkState,
    Option,
    PortfolioSummary,
    PositionLeg,
    PositionView,
    Recommendation,
    Stock,
    UnderlyingGreeks,
)

F64 = npt.NDArray[np.float64]
_STATES: tuple[MarkState, ...] = ("ok", "stale", "invalid")


@dataclass(slots=True)
class _LegTable:
    version: int
    positions: list[PositionState]
    owner: npt.NDArray[np.intp]
    legs: list[tuple[PositionState, str]]
    options: list[Option]
    option_rows: npt.NDArray[np.intp]
    stock_rows: list[int]
    quantity: F64
    multiplier: F64
    avg_price: F64


@dataclass(slots=True)
class Valuation:
    views: dict[str, PositionView]
    summary: PortfolioSummary
    position_values: dict[str, float]
    spots: dict[str, float]
    excluded_legs: int
    """Legs left out of the Greek totals: no valid quote this tick."""
    unpriced_legs: int
    """Legs with no mark at all, carried at cost in the value totals."""


class Valuer:
    """Holds the leg table between ticks; ``revalue`` is the per-tick hot path."""

    def __init__(self, stale_after_ns: int) -> None:
        self.stale_after_ns = stale_after_ns
        self._table: _LegTable | None = None

    def _legs(self, book: Book) -> _LegTable:
        if self._table is not None and self._table.version == book.version:
            return self._table
        positions = list(book.positions.values())
        legs: list[tuple[PositionState, str]] = []
        owner: list[int] = []
        for index, position in enumerate(positions):
            for key, leg in position.legs.items():
                if leg.quantity:
                    legs.append((position, key))
                    owner.append(index)
        states = [p.legs[k] for p, k in legs]
        option_rows = [i for i, s in enumerate(states) if isinstance(s.instrument, Option)]
        self._table = _LegTable(
            version=book.version,
            positions=positions,
            owner=np.array(owner, dtype=np.intp),
            legs=legs,
            options=[states[i].instrument for i in option_rows],  # type: ignore[misc]
            option_rows=np.array(option_rows, dtype=np.intp),
            stock_rows=[i for i, s in enumerate(states) if isinstance(s.instrument, Stock)],
            quantity=np.array([s.quantity for s in states], dtype=np.float64),
            multiplier=np.array([s.multiplier for s in states], dtype=np.float64),
            avg_price=np.array([s.avg_price for s in states], dtype=np.float64),
        )
        return self._table

    def revalue(
        self,
        book: Book,
        market: MarketSource,
        now_ns: int,
        *,
        session_open_equity: float,
        week_open_equity: float,
        year_open_equity: float,
        recommendations: dict[str, Recommendation],
    ) -> Valuation:
        table = self._legs(book)
        n = len(table.legs)
        mark = np.full(n, np.nan)
        state = np.zeros(n, dtype=np.uint8)
        ts = np.zeros(n, dtype=np.int64)
        iv = np.full(n, np.nan)
        greek = {name: np.zeros(n) for name in ("delta", "gamma", "theta", "vega", "rho")}
        spot = np.full(n, np.nan)
        if table.options:
            marks = market.option_marks(table.options)
            rows = table.option_rows
            mark[rows] = marks.mid
            state[rows] = marks.state
            ts[rows] = marks.ts
            iv[rows] = marks.iv
            spot[rows] = marks.underlying_price
            for name, column in greek.items():
                column[rows] = getattr(marks, name)
        for row in table.stock_rows:
            position, key = table.legs[row]
            quote = market.quote(position.legs[key].instrument.underlying)
            mid = quote.mid if quote is not None else None
            if quote is None or mid is None:
                state[row] = 2
                continue
            mark[row] = mid
            spot[row] = mid
            ts[row] = quote.ts
            greek["delta"][row] = 1.0
        state = np.where((state == 0) & (now_ns - ts > self.stale_after_ns), 1, state)
        state = np.where(~np.isfinite(mark), 2, state).astype(np.uint8)

        # Fall back to the last good mark for value, never for Greeks.
        usable = state < 2
        for row in np.flatnonzero(usable).tolist():
            position, key = table.legs[row]
            leg = position.legs[key]
            leg.last_mark = float(mark[row])
            leg.last_mark_ts = int(ts[row])
        for row in np.flatnonzero(~usable).tolist():
            position, key = table.legs[row]
            last = position.legs[key].last_mark
            if last is not None:
                mark[row] = last
        valued = np.isfinite(mark)
        scale = table.quantity * table.multiplier
        cost = scale * table.avg_price
        value = np.where(valued, scale * np.nan_to_num(mark), 0.0)
        # Zero is not a price: totals carry a never-marked leg at what was paid for it.
        carried = np.where(valued, value, cost)
        greek_ok = usable & np.isfinite(spot)
        contrib = {
            name: np.where(greek_ok, scale * np.nan_to_num(arr), 0.0) for name, arr in greek.items()
        }
        dollar_delta = contrib["delta"] * np.nan_to_num(spot)
        dollar_gamma = contrib["gamma"] * np.nan_to_num(spot) ** 2 * 0.01

        m = len(table.positions)
        owner = table.owner

        def per_position(values: F64) -> F64:
            if not n:
                return np.zeros(m)
            return np.bincount(owner, weights=values, minlength=m).astype(np.float64)

        pos_value = per_position(carried)
        pos_cost = per_position(cost)
        pos_unvalued = per_position((~valued).astype(np.float64))
        pos_excluded = per_position((~greek_ok).astype(np.float64))
        pos_state = np.zeros(m, dtype=np.uint8)
        if n:
            np.maximum.at(pos_state, owner, state)
        pos_greeks = {name: per_position(arr) for name, arr in contrib.items()}
        pos_dd = per_position(dollar_delta)
        pos_dg = per_position(dollar_gamma)

        today = exchange_date(now_ns)
        views: dict[str, PositionView] = {}
        values: dict[str, float] = {}
        leg_rows: dict[int, list[int]] = {}
        for row, index in enumerate(owner.tolist()):
            leg_rows.setdefault(index, []).append(row)
        spots: dict[str, float] = {}
        for row in range(n):
            if np.isfinite(spot[row]):
                spots[table.legs[row][0].underlying] = float(spot[row])
        for index, position in enumerate(table.positions):
            rows_of = leg_rows.get(index, [])
            complete = pos_unvalued[index] == 0
            market_value = float(pos_value[index]) if complete else None
            values[position.position_id] = float(pos_value[index])
            greeks = Greeks(
                delta=float(pos_greeks["delta"][index]),
                gamma=float(pos_greeks["gamma"][index]),
                theta=float(pos_greeks["theta"][index]),
                vega=float(pos_greeks["vega"][index]),
                rho=float(pos_greeks["rho"][index]),
                dollar_delta=float(pos_dd[index]),
                dollar_gamma=float(pos_dg[index]),
            )
            views[position.position_id] = _view(
                position,
                rows_of,
                table,
                mark,
                state,
                iv,
                contrib,
                value,
                cost,
                market_value=market_value,
                cost_basis=float(pos_cost[index]),
                greeks=greeks,
                mark_state=_STATES[int(pos_state[index])] if rows_of else "ok",
                excluded=int(pos_excluded[index]),
                today=today,
                recommendation=recommendations.get(position.position_id),
                now_ns=now_ns,
            )
        excluded = int((~greek_ok).sum())
        unpriced = int((~valued).sum())
        summary = _summary(
            book,
            views,
            spots,
            float(carried.sum()),
            now_ns,
            session_open_equity,
            week_open_equity,
            year_open_equity,
            excluded,
            unpriced,
        )
        return Valuation(views, summary, values, spots, excluded, unpriced)


def _view(
    position: PositionState,
    rows: list[int],
    table: _LegTable,
    mark: F64,
    state: npt.NDArray[np.uint8],
    iv: F64,
    contrib: dict[str, F64],
    value: F64,
    cost: F64,
    *,
    market_value: float | None,
    cost_basis: float,
    greeks: Greeks,
    mark_state: MarkState,
    excluded: int,
    today: dt.date,
    recommendation: Recommendation | None,
    now_ns: int,
) -> PositionView:
    legs = []
    for row in rows:
        leg = position.legs[table.legs[row][1]]
        ok = np.isfinite(mark[row])
        legs.append(
            PositionLeg(
                instrument=leg.instrument,
                quantity=leg.quantity,
                avg_price=leg.avg_price,
                mark=float(mark[row]) if ok else None,
                mark_state=_STATES[int(state[row])],
                iv=float(iv[row]) if np.isfinite(iv[row]) else None,
                greeks=Greeks(**{name: float(arr[row]) for name, arr in contrib.items()}),
                market_value=float(value[row]) if ok else None,
                unrealized_pnl=float(value[row] - cost[row]) if ok else None,
            )
        )
    unrealized = market_value - cost_basis if market_value is not None else None
    expiry = position.expiry
    day_pnl = None
    if market_value is not None:
        day_pnl = market_value - position.day_open_value + position.day_cash_cents / 100.0
    if position.closed_at is not None:
        day_pnl = position.day_cash_cents / 100.0 - position.day_open_value
    max_profit, max_loss = position.extremes
    return PositionView(
        position_id=position.position_id,
        underlying=position.underlying,
        strategy=position.shape.name,
        bias=position.shape.bias,
        quantity=position.units,
        legs=tuple(legs),
        opened_at=position.opened_at,
        expiry=expiry,
        dte=(expiry - today).days if expiry else None,
        cost_basis=cost_basis,
        market_value=market_value,
        unrealized_pnl=unrealized,
        realized_pnl=position.realized,
        day_pnl=day_pnl,
        pnl_pct=(unrealized / abs(cost_basis) if unrealized is not None and cost_basis else None),
        max_profit=max_profit,
        max_loss=max_loss,
        greeks=greeks,
        mark_state=mark_state,
        excluded_legs=excluded,
        status="closed" if position.closed_at is not None else "open",
        recommendation=recommendation,
        rolled_from=position.rolled_from,
        ts=now_ns,
    )


def _summary(
    book: Book,
    views: dict[str, PositionView],
    spots: dict[str, float],
    market_value: float,
    now_ns: int,
    session_open: float,
    week_open: float,
    year_open: float,
    excluded: int,
    unpriced: int,
) -> PortfolioSummary:
    equity = book.cash + market_value
    open_views = [v for v in views.values() if v.status == "open"]
    by_bias = {"bullish": 0, "bearish": 0, "neutral": 0}
    under: dict[str, list[PositionView]] = {}
    for view in open_views:
        by_bias[view.bias] += 1
        under.setdefault(view.underlying, []).append(view)
    total = _sum_greeks([v.greeks for v in open_views])
    by_underlying = tuple(
        UnderlyingGreeks(
            underlying=symbol,
            spot=spots.get(symbol),
            greeks=_sum_greeks([v.greeks for v in group]),
            positions=len(group),
        )
        for symbol, group in sorted(under.items())
    )
    return PortfolioSummary(
        cash=book.cash,
        market_value=market_value,
        equity=equity,
        initial_equity=book.initial_cash_cents / 100.0,
        realized_pnl=sum(p.realized for p in book.positions.values()) + book.realized_archived,
        unrealized_pnl=sum(v.unrealized_pnl or 0.0 for v in open_views),
        day_pnl=equity - session_open,
        week_pnl=equity - week_open,
        ytd_pnl=equity - year_open,
        commissions=book.commission_cents / 100.0,
        open_positions=len(open_views),
        by_bias=by_bias,
        greeks=total,
        by_underlying=by_underlying,
        excluded_legs=excluded,
        unpriced_legs=unpriced,
        ts=now_ns,
    )


def _sum_greeks(items: list[Greeks]) -> Greeks:
    return Greeks(
        delta=sum(g.delta for g in items),
        gamma=sum(g.gamma for g in items),
        theta=sum(g.theta for g in items),
        vega=sum(g.vega for g in items),
        rho=sum(g.rho for g in items),
        dollar_delta=sum(g.dollar_delta for g in items),
        dollar_gamma=sum(g.dollar_gamma for g in items),
    )
