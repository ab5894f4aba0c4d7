"""Rolling a position with legs in several expiries moves its front leg(s) only.

A calendar or diagonal rolled through the real engine is one combo order: buy back the
front leg, sell the new one; the back leg stays held at its price. A target on or past the
next leg's expiry, or one that would buy and sell the same contract, is refused with a
code. Roll candidates list only expiries a roll may go to, priced at each leg's own
multiplier. Expected prices are worked out here from the market's bid and ask.
"""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from engine.engine import Engine
from engine.previews import roll_candidates
from engine.records import ApproveProposal, Fill, Leg, Option, Order, Proposal
from tests.engine.conftest import command_id, engine_config, open_engine, roll, until

COMMISSION = 0.65  # the paper broker's default per contract


def spread_mid(engine: Engine, legs: list[tuple[Option, int]]) -> float:
    """Σ ratio × (bid + ask) / 2, per share, positive when we pay."""
    marks = engine.market.option_marks([option for option, _ in legs])
    return sum(
        ratio * (float(marks.bid[i]) + float(marks.ask[i])) / 2 for i, (_, ratio) in enumerate(legs)
    )


def atm(engine: Engine, expiry: dt.date, offset: int = 0) -> float:
    spot = engine.market.quote("SPY").last
    strikes = list(engine.market.strikes("SPY", expiry))
    nearest = min(range(len(strikes)), key=lambda i: abs(strikes[i] - spot))
    return strikes[nearest + offset]


def call(expiry: dt.date, strike: float) -> Option:
    return Option(underlying="SPY", expiry=expiry, strike=strike, right="C")


def open_spread(engine: Engine, front: Option, back: Option, units: int = 2) -> str:
    """Sell ``front``, buy ``back``, through an approved proposal; the new position's id."""
    proposal = Proposal(
        proposal_id=f"PR-{command_id()}",
        ts=engine.now(),
        signal_ids=(),
        symbol="SPY",
        strategy="calendar",
        legs=(Leg(instrument=front, ratio=-1), Leg(instrument=back, ratio=1)),
        quantity=units,
        limit=None,
        max_profit=None,
        max_loss=None,
        probability_of_profit=None,
        expected_value=None,
        rationale="test",
    )
    engine.record_proposal(proposal)
    opened = engine.execute(
        ApproveProposal(
            command_id=command_id(), actor="t", issued_at=0, proposal_id=proposal.proposal_id
        )
    )
    assert opened.accepted, opened.message
    until(engine, lambda: engine.orders[opened.order_id].state == "filled")
    return engine.orders[opened.order_id].position_id


def journaled_orders(engine: Engine, command: str) -> set[int]:
    return {
        e.record.order_id
        for e in engine.journal.entries()
        if e.kind == "order" and isinstance(e.record, Order) and e.record.command_id == command
    }


@pytest.fixture
def expiries(engine: Engine) -> tuple[dt.date, ...]:
    return engine.market.expiries("SPY")


def assert_front_rolled(engine: Engine, position_id: str, new: Option, back: Option, to) -> None:
    """The roll ``to`` (a RollPosition) filled as one two-leg combo that kept ``back``."""
    position = engine.book.positions[position_id]
    held_back = position.legs[back.key]
    back_before = (held_back.quantity, held_back.avg_price)
    front = next(leg.instrument for leg in position.open_legs if leg.instrument != back)
    units = position.units
    cash_before = engine.book.cash_cents
    expected_mid = spread_mid(engine, [(front, 1), (new, -1)])

    result = engine.execute(to)

    assert result.accepted, result.message
    assert result.net_price == pytest.approx(expected_mid, abs=0.005 + 1e-9)
    side = "credit" if expected_mid < 0 else "debit"
    assert f"net {side} of {abs(result.net_price):.2f} (mid)" in result.message
    order = engine.orders[result.order_id]
    assert [(leg.instrument, leg.ratio) for leg in order.legs] == [(front, 1), (new, -1)]
    until(engine, lambda: engine.orders[result.order_id].state == "filled")
    assert journaled_orders(engine, to.command_id) == {result.order_id}
    [fill] = [f for f in engine.fills if f.order_id == result.order_id]
    assert isinstance(fill, Fill)
    per_unit = sum(leg.quantity * leg.price for leg in fill.legs) / fill.quantity
    assert fill.net_price == pytest.approx(per_unit, abs=1e-4)
    assert (fill.net_price < 0) == (expected_mid < 0), "a credit at mid fills as a credit"
    assert engine.orders[result.order_id].avg_fill_price == pytest.approx(fill.net_price)
    assert fill.commission == pytest.approx(COMMISSION * 2 * units)
    paid_cents = round(fill.net_price * units * 100 * 100) + round(fill.commission * 100)
    assert engine.book.cash_cents == pytest.approx(cash_before - paid_cents, abs=1)
    rolled = engine.book.positions[position_id]
    assert rolled.closed_at is None
    assert {leg.instrument.key: leg.quantity for leg in rolled.open_legs} == {
        new.key: -units,
        back.key: units,
    }
    kept = rolled.legs[back.key]
    assert (kept.quantity, kept.avg_price) == back_before, "the back leg is not traded"
    assert rolled.expiry == new.expiry


def test_a_calendar_rolls_its_short_front_leg_and_keeps_its_long_back_leg(engine, expiries):
    front_expiry, back_expiry = expiries[1], expiries[4]
    strike = atm(engine, front_expiry)
    back = call(back_expiry, strike)
    position_id = open_spread(engine, call(front_expiry, strike), back)
    assert engine.book.positions[position_id].shape.name == "call calendar"

    command = roll(engine, position_id, to_expiry=expiries[2])

    assert_front_rolled(engine, position_id, call(expiries[2], strike), back, command)
    assert engine.book.positions[position_id].shape.name == "call calendar"


def test_a_diagonal_rolls_its_front_leg_to_new_strikes_and_keeps_its_back_leg(engine, expiries):
    front_expiry, back_expiry = expiries[1], expiries[5]
    back = call(back_expiry, atm(engine, back_expiry))
    position_id = open_spread(engine, call(front_expiry, atm(engine, front_expiry, 5)), back)
    assert engine.book.positions[position_id].shape.name == "call diagonal"
    new_strike = atm(engine, expiries[3], 6)

    command = roll(engine, position_id, to_expiry=expiries[3], strikes=(new_strike,))

    assert_front_rolled(engine, position_id, call(expiries[3], new_strike), back, command)
    assert engine.book.positions[position_id].shape.name == "call diagonal"


@pytest.mark.parametrize("target", [4, 5], ids=["on-the-back-expiry", "past-it"])
def test_a_roll_of_the_front_leg_to_or_past_the_next_legs_expiry_is_refused(
    engine, expiries, target
):
    strike = atm(engine, expiries[1])
    position_id = open_spread(engine, call(expiries[1], strike), call(expiries[4], strike))
    orders_before = len(engine.orders)

    refused = engine.execute(roll(engine, position_id, to_expiry=expiries[target]))

    assert (refused.accepted, refused.code) == (False, "EXPIRY_PAST_NEXT_LEG")
    assert f"before {expiries[4]}" in refused.message
    assert len(engine.orders) == orders_before


def test_a_roll_that_would_buy_and_sell_the_same_contract_is_refused(engine, expiries):
    strike = atm(engine, expiries[1])
    position_id = open_spread(engine, call(expiries[1], strike), call(expiries[4], strike))
    orders_before = len(engine.orders)

    same = engine.execute(roll(engine, position_id, to_expiry=expiries[1], strikes=(strike,)))

    assert (same.accepted, same.code) == (False, "ROLL_SAME_CONTRACT")
    assert call(expiries[1], strike).describe() in same.message
    assert len(engine.orders) == orders_before


def test_calendar_roll_candidates_list_only_expiries_before_the_back_leg(engine, expiries):
    front_expiry, back_expiry = expiries[1], expiries[4]
    strike = atm(engine, front_expiry)
    front = call(front_expiry, strike)
    position_id = open_spread(engine, front, call(back_expiry, strike), units=2)
    today = engine.clock.today()

    candidates = roll_candidates(engine, position_id)

    assert {c.to_expiry for c in candidates} == set(expiries[2:4])
    for c in candidates:
        [new_strike] = c.strikes
        new = call(c.to_expiry, new_strike)
        assert [(leg.instrument, leg.ratio) for leg in c.legs] == [(front, 1), (new, -1)]
        mid = spread_mid(engine, [(front, 1), (new, -1)])
        assert c.net_price == pytest.approx(mid, abs=0.005 + 1e-9)
        extra = (c.to_expiry - today).days - (front_expiry - today).days
        assert c.credit_per_day == pytest.approx(-mid * 100 * 2 / extra)


class MiniOptionVenue:
    """The sim market, listing each option also as a 10-share mini contract."""

    def __init__(self, market) -> None:
        self._market = market

    def __getattr__(self, name: str):
        return getattr(self._market, name)

    def is_listed(self, option: Option) -> bool:
        return self._market.is_listed(msgspec.structs.replace(option, multiplier=100))

    def option_marks(self, options):
        standard = [msgspec.structs.replace(o, multiplier=100) for o in options]
        return self._market.option_marks(standard)


def test_roll_candidates_price_each_contract_at_its_own_multiplier(engine):
    # A venue that also lists 10-share mini options, each priced as the standard contract.
    engine.market = MiniOptionVenue(engine.market)
    expiries = engine.market.expiries("SPY")
    put = Option(
        underlying="SPY",
        expiry=expiries[1],
        strike=atm(engine, expiries[1]),
        right="P",
        multiplier=10,
    )
    booked = engine.book_at_prices(
        tag="test",
        intent="open",
        position_id=None,
        legs=(Leg(instrument=put, ratio=-1),),
        quantity=3,
        prices={put.key: 5.0},
        source="demo",
    )
    assert booked is not None
    today = engine.clock.today()

    candidates = roll_candidates(engine, booked.position_id)

    assert candidates
    for c in candidates:
        new = msgspec.structs.replace(put, expiry=c.to_expiry, strike=c.strikes[0])
        mid = spread_mid(engine, [(put, 1), (new, -1)])
        extra = (c.to_expiry - expiries[1]).days
        assert c.dte == (c.to_expiry - today).days
        assert c.credit_per_day == pytest.approx(-mid * 10 * 3 / extra)


def test_a_roll_without_a_quantity_is_held_to_the_maximum_order_like_a_close(tmp_path):
    engine = open_engine(engine_config(tmp_path, risk={"max_order_quantity": 2}))
    try:
        held = engine.book.positions["SPY-1"].units
        assert held == 3

        refused = engine.execute(roll(engine, "SPY-1"))

        assert (refused.accepted, refused.code) == (False, "QUANTITY_EXCEEDS_MAXIMUM")
        assert engine.working_positions() == {}
    finally:
        engine.shutdown()
