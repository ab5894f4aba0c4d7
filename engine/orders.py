"""Provides order construction with pre-trade checks for closes, rolls and proposals.

Each builder either returns a journal-ready ``Order`` or raises :class:`Refusal` with a
code and a sentence. The checks are the ones a trader relies on: the position exists and
is not already closing, quantities are sane, no contract is expired, quotes are fresh and
valid, the limit is not a fat finger, and the kill switch or a halt allows it. A roll
moves the front-expiry legs; a position spanning expiries keeps its later legs.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, NamedTuple

from engine.clock import EXCHANGE_TZ, to_datetime
from engine.combo import ComboQuote, quote_combo, round_tick
from engine.portfolio import PositionState
from engine.records import (
    ApproveProposal,
    ClosePosition,
    Leg,
    Option,
    Order,
    OrderIntent,
    Proposal,
    RollPosition,
)

if TYPE_CHECKING:
    from engine.engine import Engine


class Refusal(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def expired(option: Option, now_ns: int) -> bool:
    """An option is expired from 16:00 New York time on its expiry date."""
    local = to_datetime(now_ns).astimezone(EXCHANGE_TZ)
    return option.expiry < local.date() or (option.expiry == local.date() and local.hour >= 16)


def open_position(engine: Engine, position_id: str) -> PositionState:
    position = engine.book.positions.get(position_id)
    if position is None:
        raise Refusal("POSITION_NOT_FOUND", f"no position {position_id}")
    if position.closed_at is not None:
        raise Refusal("POSITION_CLOSED", f"position {position_id} is already closed")
    working = engine.working_positions().get(position_id)
    if working:
        order = next(
            o.order_id
            for o in engine.orders.values()
            if o.position_id == position_id
            and o.state in ("new", "working", "partially_filled", "unknown")
        )
        raise Refusal(
            "POSITION_CLOSING", f"position {position_id} is already {working} (order {order})"
        )
    return position


def check_quantity(engine: Engine, quantity: object, most: int | None) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        if isinstance(quantity, float) and math.isfinite(quantity) and quantity.is_integer():
            quantity = int(quantity)
        else:
            raise Refusal("QUANTITY_INVALID", f"quantity {quantity!r} is not a whole number")
    assert isinstance(quantity, int)
    if quantity <= 0:
        raise Refusal("QUANTITY_BELOW_MINIMUM", f"quantity {quantity} must be at least 1")
    limit = engine.config.risk.max_order_quantity
    if quantity > limit:
        raise Refusal(
            "QUANTITY_EXCEEDS_MAXIMUM", f"quantity {quantity} exceeds the maximum order of {limit}"
        )
    if most is not None and quantity > most:
        raise Refusal("QUANTITY_EXCEEDS_POSITION", f"quantity {quantity} exceeds the {most} held")
    return quantity


def check_trading(engine: Engine, intent: OrderIntent) -> None:
    if engine.halt_reason:
        raise Refusal("TRADING_HALTED", f"trading is halted: {engine.halt_reason}")
    if engine.kill_switch and intent != "close":
        raise Refusal("KILL_SWITCH_ON", "the kill switch is on: only closing orders are allowed")
    if not engine.broker.connected:
        raise Refusal("BROKER_DISCONNECTED", "the broker is disconnected: no orders can be sent")


def check_legs(engine: Engine, legs: list[Leg]) -> None:
    now = engine.now()
    for leg in legs:
        inst = leg.instrument
        if isinstance(inst, Option):
            if expired(inst, now):
                raise Refusal("CONTRACT_EXPIRED", f"{inst.describe()} has expired")
            if not engine.market.is_listed(inst):
                raise Refusal("INSTRUMENT_NOT_FOUND", f"{inst.describe()} is not listed")
        elif engine.market.quote(inst.symbol) is None:
            raise Refusal("INSTRUMENT_NOT_FOUND", f"unknown symbol {inst.symbol}")


def price_legs(engine: Engine, legs: list[Leg]) -> ComboQuote:
    quote = quote_combo(legs, engine.market, engine.now(), engine.stale_ns)
    if quote.state == 1:
        raise Refusal("QUOTE_STALE", f"cannot price the order: {quote.reason}")
    if quote.state == 2 or not math.isfinite(quote.mid):
        raise Refusal(
            "QUOTE_INVALID", f"cannot price the order: {quote.reason or 'no valid quote'}"
        )
    return quote


def check_limit(engine: Engine, limit: float | None, quote: ComboQuote) -> float | None:
    """Refuse a limit so far through the market that it can only be a slip of the finger."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int | float) or not math.isfinite(limit):
        raise Refusal("LIMIT_INVALID", f"limit {limit!r} is not a price")
    risk = engine.config.risk
    width = max(quote.natural - quote.mid, 0.01)
    allowed = max(risk.fat_finger_widths * width, risk.fat_finger_fraction * abs(quote.mid), 0.05)
    if limit > quote.natural + allowed:
        raise Refusal(
            "LIMIT_THROUGH_MARKET",
            f"limit {limit:.2f} is {limit - quote.natural:.2f} through the natural price "
            f"{quote.natural:.2f} (mid {quote.mid:.2f}); the most allowed is {allowed:.2f}",
        )
    return round_tick(float(limit))


def position_legs(position: PositionState, units: int) -> list[Leg]:
    """One unit of the position's structure, as legs (signed as held)."""
    return [
        Leg(instrument=leg.instrument, ratio=leg.quantity // units) for leg in position.open_legs
    ]


def _order(
    engine: Engine,
    command_id: str,
    intent: OrderIntent,
    position_id: str | None,
    legs: list[Leg],
    quantity: int,
    limit: float | None,
    quote: ComboQuote,
) -> Order:
    """A new order working from mid; a new position is named after its symbol and id."""
    now = engine.now()
    order_id = engine.next_order_id()
    return Order(
        order_id=order_id,
        command_id=command_id,
        intent=intent,
        position_id=position_id or f"{legs[0].instrument.underlying}-{order_id}",
        legs=tuple(legs),
        quantity=quantity,
        limit=limit,
        state="new",
        working_price=round_tick(quote.mid),
        created_at=now,
        updated_at=now,
    )


def close_order(engine: Engine, command: ClosePosition) -> Order:
    position = open_position(engine, command.position_id)
    units = position.units
    quantity = (
        units if command.quantity is None else check_quantity(engine, command.quantity, units)
    )
    if command.quantity is None:
        check_quantity(engine, quantity, None)
    check_trading(engine, "close")
    legs = [
        Leg(instrument=leg.instrument, ratio=-leg.ratio) for leg in position_legs(position, units)
    ]
    check_legs(engine, legs)
    quote = price_legs(engine, legs)
    limit = check_limit(engine, command.limit, quote)
    return _order(
        engine, command.command_id, "close", position.position_id, legs, quantity, limit, quote
    )


class RollPlan(NamedTuple):
    """A roll as one combo order, and what it leaves held."""

    legs: list[Leg]
    """The combo: closing legs then opening legs, one leg per contract."""
    opening: list[Leg]
    """The new legs, one unit of them, signed as they will be held."""
    kept: list[Leg]
    """Legs the roll leaves alone: later-expiry options and stock."""


def _expiry(leg: Leg) -> dt.date:
    assert isinstance(leg.instrument, Option)
    return leg.instrument.expiry


def rolled_legs(
    position: PositionState, units: int, to_expiry: dt.date, strikes: tuple[float, ...] | None
) -> RollPlan:
    """Roll the front-expiry option legs to ``to_expiry``; later legs and stock stay held.

    A single-expiry structure rolls whole. A calendar or diagonal rolls only its front
    leg(s), and only to an expiry before its next leg's: moving every leg to one date
    would buy and sell the same contract, closing the position while calling it a roll.
    ``strikes`` are the new strikes of the rolled legs, in the position's leg order.
    """
    current = position_legs(position, units)
    options = [leg for leg in current if isinstance(leg.instrument, Option)]
    if not options:
        raise Refusal("NOTHING_TO_ROLL", f"position {position.position_id} has no options to roll")
    expiries = sorted({_expiry(leg) for leg in options})
    front = expiries[0]
    rolled = [leg for leg in options if _expiry(leg) == front]
    kept = [leg for leg in current if leg not in rolled]
    if len(expiries) > 1 and to_expiry >= expiries[1]:
        raise Refusal(
            "EXPIRY_PAST_NEXT_LEG",
            f"position {position.position_id} spans expiries: a roll moves only its front "
            f"leg(s), expiring {front}, and {to_expiry} is not before its next leg's expiry "
            f"{expiries[1]}: choose an expiry before {expiries[1]}",
        )
    if strikes is not None and len(strikes) != len(rolled):
        raise Refusal(
            "STRIKES_INVALID", f"{len(strikes)} strike(s) given for {len(rolled)} rolled leg(s)"
        )
    opening = []
    for i, leg in enumerate(rolled):
        assert isinstance(leg.instrument, Option)
        strike = leg.instrument.strike if strikes is None else strikes[i]
        new = Option(
            underlying=leg.instrument.underlying,
            expiry=to_expiry,
            strike=float(strike),
            right=leg.instrument.right,
            multiplier=leg.instrument.multiplier,
        )
        opening.append(Leg(instrument=new, ratio=leg.ratio))
    closing = [Leg(instrument=leg.instrument, ratio=-leg.ratio) for leg in rolled]
    return RollPlan(
        legs=_net_legs(position.position_id, closing + opening),
        opening=opening,
        kept=kept,
    )


def _net_legs(position_id: str, legs: list[Leg]) -> list[Leg]:
    """One leg per contract: a contract bought and sold in the same roll is refused, since
    that part of the roll changes nothing but pays two commissions and two spreads."""
    merged: dict[str, Leg] = {}
    for leg in legs:
        key = leg.instrument.key
        seen = merged.get(key)
        if seen is None:
            merged[key] = leg
        elif (seen.ratio > 0) != (leg.ratio > 0):
            inst = leg.instrument
            name = inst.describe() if isinstance(inst, Option) else inst.symbol
            raise Refusal(
                "ROLL_SAME_CONTRACT",
                f"rolling {position_id} this way would buy and sell {name} in one order: "
                "choose another expiry or other strikes",
            )
        else:
            merged[key] = Leg(instrument=leg.instrument, ratio=seen.ratio + leg.ratio)
    return list(merged.values())


def roll_order(engine: Engine, command: RollPosition) -> Order:
    position = open_position(engine, command.position_id)
    units = position.units
    quantity = check_quantity(
        engine, units if command.quantity is None else command.quantity, units
    )
    check_trading(engine, "roll")
    front = position.expiry
    if front is None:
        raise Refusal("NOTHING_TO_ROLL", f"position {position.position_id} has no options to roll")
    if command.to_expiry <= engine.clock.today():
        raise Refusal(
            "EXPIRY_INVALID", f"cannot roll to {command.to_expiry}: it is not in the future"
        )
    if command.to_expiry not in engine.market.expiries(position.underlying):
        raise Refusal(
            "EXPIRY_NOT_LISTED", f"{position.underlying} has no expiry {command.to_expiry}"
        )
    if command.to_expiry == front and command.strikes is None:
        raise Refusal(
            "EXPIRY_INVALID", f"position {position.position_id} already expires {command.to_expiry}"
        )
    plan = rolled_legs(position, units, command.to_expiry, command.strikes)
    check_legs(engine, plan.legs)
    quote = price_legs(engine, plan.legs)
    limit = check_limit(engine, command.limit, quote)
    return _order(
        engine, command.command_id, "roll", position.position_id, plan.legs, quantity, limit, quote
    )


def open_order(engine: Engine, command: ApproveProposal, proposal: Proposal) -> Order:
    quantity = proposal.quantity if command.quantity is None else command.quantity
    quantity = check_quantity(engine, quantity, None)
    check_trading(engine, "open")
    legs = list(proposal.legs)
    check_legs(engine, legs)
    quote = price_legs(engine, legs)
    limit = check_limit(
        engine, command.limit if command.limit is not None else proposal.limit, quote
    )
    return _order(engine, command.command_id, "open", None, legs, quantity, limit, quote)


def recheck(engine: Engine, order: Order) -> None:
    """The pre-trade checks again, for an order journaled but never sent before a crash:
    by the restart the kill switch, a halt, the quotes or the position may have changed."""
    check_trading(engine, order.intent)
    check_quantity(engine, order.quantity, None)
    if order.intent in ("close", "roll"):
        position = engine.book.positions.get(order.position_id or "")
        if position is None or position.closed_at is not None:
            raise Refusal("POSITION_CLOSED", f"position {order.position_id} is no longer open")
        if order.quantity > position.units:
            raise Refusal(
                "QUANTITY_EXCEEDS_POSITION",
                f"quantity {order.quantity} exceeds the {position.units} now held",
            )
    legs = list(order.legs)
    check_legs(engine, legs)
    check_limit(engine, order.limit, price_legs(engine, legs))


def describe(engine: Engine, order: Order) -> str:
    verb = {"close": "closing", "roll": "rolling", "open": "opening", "adjust": "adjusting"}[
        order.intent
    ]
    mid = order.working_price
    price = ""
    if mid is not None:
        side = "credit" if mid < 0 else "debit"
        price = f" at a net {side} of {abs(mid):.2f} (mid)"
    limit = f", limit {order.limit:.2f}" if order.limit is not None else ", working from mid"
    return f"order {order.order_id}: {verb} {order.position_id} x{order.quantity}{price}{limit}"
