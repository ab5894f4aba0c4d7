"""Provides the book: positions built from fills, cash in exact cents, and their P&L.

The book is a pure fold over fills: replaying the journal's fills in order rebuilds it
exactly. Cash is kept in integer cents so that it reconciles to the cent with the sum of
fills and commissions; marks, Greeks and P&L are floats derived on each revaluation.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from engine.records import Fill, Instrument, Option
from engine.strategy import Holding, Shape, payoff_extremes, recognise


def cash_cents(price: float, quantity: int, multiplier: int) -> int:
    """Cents paid for ``quantity`` (signed) at ``price``: positive pays, negative receives.

    Decimal on the printed price makes 1.15 × 100 exactly 115 cents, which binary floats
    do not; half-even rounding is what brokers use for sub-cent stock prices.
    """
    amount = Decimal(repr(price)) * quantity * multiplier * 100
    return int(amount.to_integral_value(rounding=ROUND_HALF_EVEN))


def dollars_to_cents(amount: float) -> int:
    return int(Decimal(repr(amount)).scaleb(2).to_integral_value(rounding=ROUND_HALF_EVEN))


@dataclass(slots=True)
class LegState:
    instrument: Instrument
    quantity: int = 0
    avg_price: float = 0.0
    last_mark: float | None = None
    last_mark_ts: int = 0

    @property
    def multiplier(self) -> int:
        return self.instrument.multiplier

    @property
    def open_cost(self) -> float:
        return self.quantity * self.avg_price * self.multiplier


@dataclass(slots=True)
class PositionState:
    position_id: str
    underlying: str
    opened_at: int
    legs: dict[str, LegState] = field(default_factory=dict)
    realized: float = 0.0
    commission_cents: int = 0
    cash_flow_cents: int = 0
    day_cash_cents: int = 0
    day_open_value: float = 0.0
    closed_at: int | None = None
    rolled_from: str | None = None
    shape: Shape = field(default_factory=lambda: Shape("flat", "neutral"))
    extremes: tuple[float | None, float | None] = (None, None)

    @property
    def is_open(self) -> bool:
        return any(leg.quantity for leg in self.legs.values())

    def holdings(self) -> list[Holding]:
        return [Holding(leg.instrument, leg.quantity) for leg in self.legs.values() if leg.quantity]

    @property
    def open_legs(self) -> list[LegState]:
        return [leg for leg in self.legs.values() if leg.quantity]

    @property
    def cost_basis(self) -> float:
        return sum(leg.open_cost for leg in self.legs.values())

    @property
    def units(self) -> int:
        """How many of the structure are held: the gcd of the option leg sizes."""
        sizes = [abs(leg.quantity) for leg in self.open_legs if isinstance(leg.instrument, Option)]
        if not sizes:
            sizes = [abs(leg.quantity) for leg in self.open_legs]
        return math.gcd(*sizes) if sizes else 0

    @property
    def expiry(self) -> dt.date | None:
        expiries = [
            leg.instrument.expiry for leg in self.open_legs if isinstance(leg.instrument, Option)
        ]
        return min(expiries) if expiries else None


class BookError(ValueError):
    """A fill that cannot apply to the book: the journal and the broker disagree."""


class Book:
    """Positions and cash. Mutated only by ``apply_fill`` and ``start_session``."""

    def __init__(self, initial_cash: float) -> None:
        self.initial_cash_cents = dollars_to_cents(initial_cash)
        self.cash_cents = self.initial_cash_cents
        self.commission_cents = 0
        self.positions: dict[str, PositionState] = {}
        self.fill_ids: set[str] = set()
        self.realized_archived = 0.0
        self.version = 0

    @property
    def cash(self) -> float:
        return self.cash_cents / 100.0

    def open_positions(self) -> list[PositionState]:
        return [p for p in self.positions.values() if p.closed_at is None]

    def apply_fill(self, fill: Fill) -> PositionState:
        """Apply one execution. A fill seen before is ignored, so replays are idempotent."""
        if fill.fill_id in self.fill_ids:
            return self.positions[fill.position_id]
        if not fill.legs:
            raise BookError(f"fill {fill.fill_id} has no legs")
        for leg_fill in fill.legs:
            price = leg_fill.price
            if not isinstance(price, int | float) or not math.isfinite(price) or price < 0:
                raise BookError(
                    f"fill {fill.fill_id}: price {price!r} for "
                    f"{leg_fill.instrument.key} is not a price"
                )
            if not isinstance(leg_fill.quantity, int) or leg_fill.quantity == 0:
                raise BookError(
                    f"fill {fill.fill_id}: quantity {leg_fill.quantity!r} "
                    f"for {leg_fill.instrument.key}"
                )
        position = self.positions.get(fill.position_id)
        if position is None:
            position = PositionState(
                position_id=fill.position_id,
                underlying=fill.legs[0].instrument.underlying,
                opened_at=fill.ts,
            )
            self.positions[fill.position_id] = position
        elif position.closed_at is not None:
            raise BookError(f"fill {fill.fill_id} for position {fill.position_id}, which is closed")
        flow = 0
        for leg_fill in fill.legs:
            key = leg_fill.instrument.key
            leg = position.legs.get(key)
            if leg is None:
                leg = position.legs[key] = LegState(leg_fill.instrument)
            position.realized += _apply_to_leg(leg, leg_fill.quantity, leg_fill.price)
            flow += cash_cents(leg_fill.price, leg_fill.quantity, leg.multiplier)
        commission = dollars_to_cents(fill.commission)
        self.cash_cents -= flow + commission
        self.commission_cents += commission
        position.commission_cents += commission
        position.cash_flow_cents -= flow + commission
        position.day_cash_cents -= flow + commission
        self.fill_ids.add(fill.fill_id)
        self._reshape(position, fill.ts)
        self.version += 1
        return position

    def _reshape(self, position: PositionState, ts: int) -> None:
        holdings = position.holdings()
        position.shape = recognise(holdings)
        position.extremes = payoff_extremes(holdings, position.cost_basis)
        if not holdings:
            position.closed_at = ts

    def start_session(self, values: dict[str, float]) -> None:
        """Anchor day P&L: each open position's value at the open; day cash flows reset."""
        for position in self.positions.values():
            position.day_cash_cents = 0
            position.day_open_value = values.get(position.position_id, 0.0)
        self.version += 1

    def forget_closed_before(self, ts: int) -> None:
        """Drop positions closed before ``ts`` from the live book (the journal keeps them)."""
        gone = [p for p in self.positions.values() if p.closed_at and p.closed_at < ts]
        for position in gone:
            self.realized_archived += position.realized
            del self.positions[position.position_id]
        self.version += 1


def _apply_to_leg(leg: LegState, quantity: int, price: float) -> float:
    """Add ``quantity`` at ``price`` to the leg; return the P&L realized by any reduction."""
    realized = 0.0
    held = leg.quantity
    if held == 0 or (held > 0) == (quantity > 0):
        total = held + quantity
        leg.avg_price = (held * leg.avg_price + quantity * price) / total
        leg.quantity = total
        return realized
    closing = min(abs(quantity), abs(held)) * (1 if quantity > 0 else -1)
    realized = -closing * (price - leg.avg_price) * leg.multiplier
    leg.quantity = held + closing
    rest = quantity - closing
    if rest:
        leg.quantity = rest
        leg.avg_price = price
    elif leg.quantity == 0:
        leg.avg_price = 0.0
    return realized
