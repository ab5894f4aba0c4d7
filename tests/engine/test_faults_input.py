"""Bad market data and bad input (FAULTS.md rows 27-32): refused with a code, never acted on.

* 27: a frozen feed turns positions STALE within ``risk.stale_after_s`` plus one tick, and
  an order that needs a price from it is refused QUOTE_STALE.
* 28: NaN, infinities, negative and zero prices and Interactive Brokers' sentinels (-1, -2,
  the largest double) are rejected at ingestion and counted; nothing in the snapshot is
  NaN; a leg with no valid mark is left out of the Greeks and counted; no order is priced
  from a bad quote.
* 29: rolling to a past expiry is refused; after 16:00 on expiry day the contract is
  refused CONTRACT_EXPIRED; expired legs settle at intrinsic value through the broker,
  from the expiry-day close even when the engine only sees it at the next session; Greeks
  stay finite as T goes to 0.
* 30: quantities that are zero, negative, fractional, not numbers or absurdly large are
  refused with QUANTITY_BELOW_MINIMUM / QUANTITY_INVALID / QUANTITY_EXCEEDS_MAXIMUM.
* 31: unknown positions, proposals, agents, orders and instruments get *_NOT_FOUND.
* 32: a limit far through the market is refused LIMIT_THROUGH_MARKET.

Every refusal is checked to leave the order book and the broker untouched.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.broker.base import BrokerOrder, Execution
from engine.clock import EXCHANGE_TZ, from_datetime
from engine.engine import Engine
from engine.market import calendar
from engine.previews import close_preview
from engine.records import (
    AnyCommand,
    ApproveProposal,
    CancelOrder,
    Leg,
    LegFill,
    Option,
    PauseAgent,
    RejectProposal,
    ResumeAgent,
    RollPosition,
    Stock,
)
from engine.runner import build_engine, engine_step_ns, start
from tests.engine.conftest import (
    advance,
    close,
    command_id,
    engine_config,
    open_engine,
    proposal,
    roll,
    until,
)

DBL_MAX = 1.7976931348623157e308


def approve(proposal_id: str, **kw: Any) -> ApproveProposal:
    return ApproveProposal(
        command_id=command_id(), actor="test", issued_at=0, proposal_id=proposal_id, **kw
    )


def at(day: dt.date, hour: int, minute: int, second: int = 0) -> int:
    return from_datetime(dt.datetime.combine(day, dt.time(hour, minute, second), EXCHANGE_TZ))


def non_finite(value: Any, path: str = "snapshot") -> list[str]:
    """Paths of every float in a record tree that is NaN or infinite."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [f"{path} = {value!r}"]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in non_finite(v, f"{path}.{k}")]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in non_finite(v, f"{path}[{i}]")]
    return []


class Untouched:
    """The engine's orders and the broker's ledger, before: compare after with ``check``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.orders = dict(engine.orders)
        self.at_broker = engine.broker.ledger.max_order_id()

    def check(self) -> None:
        assert self.engine.orders == self.orders, "a refused command left an order behind"
        assert self.engine.broker.ledger.max_order_id() == self.at_broker


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One engine for the property tests: refused commands change nothing, so they share it."""
    engine = open_engine(engine_config(tmp_path_factory.mktemp("shared")))
    yield engine
    engine.shutdown()


# --- 27: stale quotes -------------------------------------------------------------------------


def test_a_frozen_feed_turns_positions_stale_within_the_limit_plus_one_tick(engine):
    # Arrange
    limit_ns = engine.stale_ns
    step_ns = engine_step_ns(engine)
    advance(engine, 2)
    engine.market.freeze(["SPY"])
    last_quote = engine.market.quote("SPY").ts

    # Act: tick until SPY's positions are flagged, noting the quote's age at each tick.
    ages: list[tuple[int, str]] = []

    def flagged() -> bool:
        views = {v.position_id: v for v in engine.position_views()}
        ages.append((engine.now() - last_quote, views["SPY-1"].mark_state))
        return views["SPY-1"].mark_state == "stale"

    until(engine, flagged, ticks=20)

    # Assert: fresh up to the limit, stale by the limit plus one tick; other symbols live.
    assert all(state == "ok" for age, state in ages if age <= limit_ns)
    assert ages[-1][0] <= limit_ns + step_ns
    views = {v.position_id: v for v in engine.position_views()}
    assert views["SPY-7"].mark_state == "stale"
    assert views["AAPL-4"].mark_state == "ok"
    assert all(leg.mark_state == "stale" for leg in views["SPY-1"].legs)
    assert close_preview(engine, "SPY-1").mark_state == "stale"


def test_orders_that_need_a_price_from_a_stale_quote_are_refused(engine):
    untouched = Untouched(engine)
    spy_option = next(leg for leg in engine.book.positions["SPY-1"].open_legs).instrument
    pending = proposal(engine, (Leg(instrument=spy_option, ratio=-1),))
    engine.market.freeze(["SPY"])
    advance(engine, 6)  # 90 s: past the 60 s limit

    closing = engine.execute(close("SPY-1"))
    rolling = engine.execute(roll(engine, "SPY-7"))
    opening = engine.execute(approve(pending.proposal_id))

    for result in (closing, rolling, opening):
        assert (result.accepted, result.code) == (False, "QUOTE_STALE"), result
        assert "stale" in result.message
    untouched.check()
    engine.market.unfreeze()
    advance(engine)
    assert engine.execute(close("SPY-1")).accepted, "a live quote again: closing works"


# --- 28: NaN, infinities, sentinels, negative and zero prices --------------------------------


def expected_code(value: float) -> str:
    """The rejection a bad price earns, in the order the ingestion checks them."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf"
    if value in (-1.0, -2.0) or value >= 1e300:
        return "sentinel"
    if value > 1e7:
        return "implausible"
    if value < 0:
        return "negative"
    return "zero"


BAD_PRICES = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, -1.0, -2.0, DBL_MAX, 0.0, -0.0]),
    st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False),
    st.floats(min_value=1e300, allow_nan=False, allow_infinity=False),
    st.floats(min_value=1e7, max_value=1e299, exclude_min=True),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=BAD_PRICES, field=st.sampled_from(["bid", "ask", "last"]))
def test_a_bad_price_is_rejected_counted_and_never_reaches_an_aggregate_or_an_order(
    shared, value, field
):
    # Arrange: SPY's last good quote, with one field replaced by the bad value.
    engine = shared
    good = engine.market.quote("SPY")
    raw = {"bid": good.bid, "ask": good.ask, "last": good.last} | {field: value}
    counter = f"market_quotes_rejected_{expected_code(value)}"
    before = engine.status().counters.get(counter, 0)
    untouched = Untouched(engine)

    # Act
    engine.market.inject_quote("SPY", raw["bid"], raw["ask"], raw["last"])
    advance(engine)
    refused = engine.execute(close("SPY-1"))

    # Assert
    assert engine.status().counters[counter] == before + 1
    assert engine.market.quote("SPY").ts == good.ts, "the bad quote did not replace the good"
    views = {v.position_id: v for v in engine.position_views()}
    assert views["SPY-1"].mark_state == "invalid" and views["AAPL-4"].mark_state == "ok"
    assert views["SPY-1"].excluded_legs == len(views["SPY-1"].legs), "Greeks of bad legs excluded"
    snapshot = engine.snapshot()
    assert non_finite(msgspec.to_builtins(snapshot)) == []
    summary = snapshot.portfolio
    assert math.isfinite(summary.equity) and math.isfinite(summary.greeks.delta)
    assert summary.excluded_legs >= views["SPY-1"].excluded_legs
    assert (refused.accepted, refused.code) == (False, "QUOTE_INVALID")
    untouched.check()


def test_a_working_order_does_not_trade_on_the_tick_of_a_bad_quote(engine):
    # Arrange: a close just sent, working from mid; untouched it fills within a few ticks.
    working = engine.execute(close("SPY-1"))
    fills_before = len(engine.broker.executions())

    # Act: garbage on every tick until the broker would have filled it twice over.
    for _ in range(8):
        good = engine.market.quote("SPY")
        engine.market.inject_quote("SPY", good.bid, -1.0, good.last)
        advance(engine)

    # Assert: nothing traded on it; a good quote again and it fills.
    assert len(engine.broker.executions()) == fills_before
    assert engine.orders[working.order_id].state == "working"
    until(engine, lambda: engine.orders[working.order_id].state == "filled")


def test_a_leg_with_no_valid_mark_is_left_out_of_the_greeks_and_counted(tmp_path):
    # Arrange: the broker holds a SPY put at a strike the market does not list (no quote
    # ever), adopted into the book at start.
    config = engine_config(tmp_path, broker={"reconcile": "adopt"})
    open_engine(config).shutdown()
    engine = build_engine(config)
    unlisted = Option(underlying="SPY", expiry=dt.date(2025, 4, 4), strike=551.5, right="P")
    ledger = engine.broker.ledger
    order = BrokerOrder(
        order_id=900,
        order_ref="by-hand",
        position_id="",
        intent="open",
        legs=(Leg(instrument=unlisted, ratio=1),),
        quantity=1,
        limit=None,
        ts=0,
    )
    ledger.add_order(order, "filled")
    ledger.record_execution(
        Execution(
            exec_id="MANUAL.1",
            order_id=900,
            order_ref="by-hand",
            position_id="",
            intent="open",
            quantity=1,
            net_price=1.0,
            legs=(LegFill(instrument=unlisted, quantity=1, price=1.0),),
            commission=0.65,
            ts=0,
        ),
        "filled",
    )

    # Act
    start(engine)
    advance(engine)
    snapshot = engine.snapshot()

    # Assert
    [view] = [v for v in snapshot.positions if v.legs[0].instrument == unlisted]
    assert view.mark_state == "invalid" and view.excluded_legs == 1
    assert view.market_value is None and view.unrealized_pnl is None
    assert view.legs[0].mark is None and view.greeks.delta == 0.0
    assert snapshot.portfolio.excluded_legs == 1
    assert non_finite(msgspec.to_builtins(snapshot)) == []
    refused = engine.execute(close(view.position_id))
    assert (refused.accepted, refused.code) == (False, "INSTRUMENT_NOT_FOUND")
    engine.shutdown()


# --- 29: expired contracts, T -> 0 ---------------------------------------------------------------


def test_rolling_to_an_expiry_that_is_past_or_today_or_not_listed_is_refused(engine):
    untouched = Untouched(engine)
    today = engine.clock.today()

    past = engine.execute(roll(engine, "IWM-3", to_expiry=today - dt.timedelta(days=7)))
    same_day = engine.execute(roll(engine, "IWM-3", to_expiry=today))
    unlisted = engine.execute(roll(engine, "IWM-3", to_expiry=dt.date(2025, 4, 2)))  # a Wednesday

    assert (past.accepted, past.code) == (False, "EXPIRY_INVALID")
    assert "not in the future" in past.message
    assert (same_day.accepted, same_day.code) == (False, "EXPIRY_INVALID")
    assert (unlisted.accepted, unlisted.code) == (False, "EXPIRY_NOT_LISTED")
    untouched.check()


def test_greeks_stay_finite_as_expiry_nears_and_after_16_00_the_contract_is_refused(engine):
    # Arrange: the last tick before QQQ-2's options expire, 15 seconds before the close.
    expiry = engine.book.positions["QQQ-2"].expiry
    engine.clock.advance_to(at(expiry, 15, 59, 30))
    engine.tick()
    advance(engine)
    untouched = Untouched(engine)

    # Assert: T is a few seconds, and every Greek is a finite number.
    view = next(v for v in engine.position_views() if v.position_id == "QQQ-2")
    assert view.dte == 0 and view.mark_state == "ok"
    assert non_finite(msgspec.to_builtins(engine.snapshot())) == []
    assert non_finite(msgspec.to_builtins(close_preview(engine, "QQQ-2"))) == []

    # Act: 16:00 on the engine clock, before the tick that settles the contracts.
    engine.clock.advance_to(calendar.close_ns(expiry))
    refused = engine.execute(close("QQQ-2"))
    strikes = [leg.instrument.strike for leg in engine.book.positions["QQQ-2"].open_legs]
    opening = proposal(
        engine,
        tuple(
            Leg(instrument=leg.instrument, ratio=-leg.quantity // 2)
            for leg in engine.book.positions["QQQ-2"].open_legs
        ),
    )
    approved = engine.execute(approve(opening.proposal_id))

    assert (refused.accepted, refused.code) == (False, "CONTRACT_EXPIRED")
    assert f"{min(strikes):g}C has expired" in refused.message
    assert (approved.accepted, approved.code) == (False, "CONTRACT_EXPIRED")
    untouched.check()


def settlement(engine: Engine, position_id: str) -> Execution:
    [found] = [
        x
        for x in engine.broker.executions()
        if x.position_id == position_id and x.source == "expiration"
    ]
    return found


def intrinsic(option: Option, spot: float) -> float:
    value = spot - option.strike if option.right == "C" else option.strike - spot
    return round(max(value, 0.0), 4)


def push_into_the_money(engine: Engine) -> None:
    """Move QQQ a little above the 520 short call, so settlement is worth something."""
    short = min(leg.instrument.strike for leg in engine.book.positions["QQQ-2"].open_legs)
    mid = short + 7.0
    engine.market.inject_quote("QQQ", mid - 0.01, mid + 0.01, mid)


def test_expired_legs_settle_at_intrinsic_through_the_broker_at_the_close(engine):
    expiry = engine.book.positions["QQQ-2"].expiry
    engine.clock.advance_to(at(expiry, 15, 59, 30))
    push_into_the_money(engine)
    engine.tick()

    advance(engine)  # 15:59:45
    advance(engine)  # 16:00: the close

    execution = settlement(engine, "QQQ-2")
    spot = engine.market.quote("QQQ").last
    assert [leg.price for leg in execution.legs] == [
        intrinsic(leg.instrument, spot) for leg in execution.legs
    ]
    assert any(leg.price > 0 for leg in execution.legs)
    assert engine.book.positions["QQQ-2"].closed_at is not None
    assert "EXPIRED" in [a.code for a in engine.alerts]
    assert not any(key.startswith("QQQ   250314") for key in engine.broker.positions())


def test_legs_that_expired_while_the_engine_was_away_settle_at_the_next_session_from_the_close(
    engine,
):
    # Arrange: the engine's last tick is 15:59:45 on expiry day; its next is Monday's open.
    expiry = engine.book.positions["QQQ-2"].expiry
    engine.clock.advance_to(at(expiry, 15, 59, 30))
    push_into_the_money(engine)
    engine.tick()
    advance(engine)

    # Act
    monday = calendar.next_trading_day(expiry)
    engine.clock.advance_to(at(monday, 9, 30))
    engine.tick()

    # Assert: settled through the broker, at intrinsic of the expiry day's close.
    bars = engine.market.daily_bars("QQQ")
    friday = np.flatnonzero(bars.date == np.datetime64(expiry))[-1]
    friday_close = round(float(bars.close[friday]), 2)
    assert friday_close != engine.market.quote("QQQ").last, "the test needs an overnight move"
    execution = settlement(engine, "QQQ-2")
    assert [leg.price for leg in execution.legs] == [
        intrinsic(leg.instrument, friday_close) for leg in execution.legs
    ]
    assert engine.book.positions["QQQ-2"].closed_at is not None


# --- 30: quantities ---------------------------------------------------------------------------


def quantity_code(quantity: Any, most: int | None, maximum: int = 100) -> str:
    if isinstance(quantity, bool) or not isinstance(quantity, int | float):
        return "QUANTITY_INVALID"
    if isinstance(quantity, float):
        if not math.isfinite(quantity) or not quantity.is_integer():
            return "QUANTITY_INVALID"
        quantity = int(quantity)
    if quantity <= 0:
        return "QUANTITY_BELOW_MINIMUM"
    if quantity > maximum:
        return "QUANTITY_EXCEEDS_MAXIMUM"
    if most is not None and quantity > most:
        return "QUANTITY_EXCEEDS_POSITION"
    return "OK"


QUANTITIES = st.one_of(
    st.integers(max_value=0),
    st.integers(min_value=101),
    st.sampled_from([0, -1, 10**9, 1e9, 1.5, -0.5, 0.0, -0.0, math.nan, math.inf, True]),
    st.floats().filter(lambda q: not (math.isfinite(q) and q.is_integer() and 1 <= q <= 100)),
)


@settings(max_examples=60, deadline=None)
@given(quantity=QUANTITIES)
def test_bad_quantities_are_refused_with_their_code_and_send_nothing(shared, quantity):
    engine = shared
    pending = engine.proposals.get("PR-QTY") or proposal(
        engine,
        (Leg(instrument=engine.book.positions["SPY-1"].open_legs[0].instrument, ratio=1),),
        proposal_id="PR-QTY",
    )
    untouched = Untouched(engine)

    results = [
        engine.execute(close("IWM-3", quantity=quantity)),
        engine.execute(roll(engine, "IWM-3", quantity=quantity)),
        engine.execute(approve(pending.proposal_id, quantity=quantity)),
    ]

    code = quantity_code(quantity, None)
    assert code != "OK"
    for result in results:
        assert (result.accepted, result.code) == (False, code), (quantity, result)
    untouched.check()


def test_refused_quantities_leave_a_journal_that_still_starts(tmp_path):
    # Arrange: quantities no schema field can hold, sent in process (the embedded desk).
    config = engine_config(tmp_path)
    engine = open_engine(config)
    odd = [1.5, math.nan, True, 2**70, -(2**70), "3", None]
    sent = [close("IWM-3", quantity=q) for q in odd[:-1]]
    whole = close("SPY-1", quantity=2.0)

    # Act
    answers = [engine.execute(command) for command in sent]
    taken = engine.execute(whole)
    engine.shutdown()
    engine = open_engine(config)  # the journal must read back everything it was given

    # Assert
    assert [a.code for a in answers] == [
        "QUANTITY_INVALID",
        "QUANTITY_INVALID",
        "QUANTITY_INVALID",
        "QUANTITY_EXCEEDS_MAXIMUM",
        "QUANTITY_BELOW_MINIMUM",
        "QUANTITY_INVALID",
    ]
    assert taken.accepted and engine.orders[taken.order_id].quantity == 2
    assert engine.commands[whole.command_id].quantity == 2
    again = [engine.execute(command) for command in sent]
    assert [(a.code, a.duplicate) for a in again] == [(a.code, True) for a in answers]
    engine.shutdown()


@pytest.mark.parametrize("quantity", [3, 50, 100])
def test_more_than_is_held_is_refused_as_exceeding_the_position(engine, quantity):
    untouched = Untouched(engine)

    result = engine.execute(close("IWM-3", quantity=quantity))  # 2 held

    assert (result.accepted, result.code) == (False, "QUANTITY_EXCEEDS_POSITION")
    untouched.check()


# --- 31: unknown ids and instruments ----------------------------------------------------------


def unknown_commands(engine: Engine) -> list[tuple[AnyCommand, str]]:
    c = {"actor": "test", "issued_at": 0}
    return [
        (close("NOPE-1"), "POSITION_NOT_FOUND"),
        (
            RollPosition(
                command_id=command_id(),
                **c,
                position_id="NOPE-1",
                to_expiry=dt.date(2025, 6, 20),
            ),
            "POSITION_NOT_FOUND",
        ),
        (approve("PR-NOPE"), "PROPOSAL_NOT_FOUND"),
        (RejectProposal(command_id=command_id(), **c, proposal_id="PR-NOPE"), "PROPOSAL_NOT_FOUND"),
        (PauseAgent(command_id=command_id(), **c, agent="ghost"), "AGENT_NOT_FOUND"),
        (ResumeAgent(command_id=command_id(), **c, agent="ghost"), "AGENT_NOT_FOUND"),
        (CancelOrder(command_id=command_id(), **c, order_id=99_999), "ORDER_NOT_FOUND"),
        (roll(engine, "IWM-3", strikes=(1.0, 2.0, 3.0, 4.0)), "INSTRUMENT_NOT_FOUND"),
    ]


def test_unknown_ids_are_refused_not_found_and_send_nothing(engine):
    untouched = Untouched(engine)

    answered = [(engine.execute(command), code) for command, code in unknown_commands(engine)]

    for result, code in answered:
        assert (result.accepted, result.code) == (False, code), result
        assert result.order_id is None
    untouched.check()


@pytest.mark.parametrize(
    "instrument",
    [
        Stock(symbol="ZZZZ"),
        Option(underlying="ZZZZ", expiry=dt.date(2025, 4, 17), strike=100.0, right="C"),
        Option(underlying="SPY", expiry=dt.date(2025, 4, 16), strike=551.0, right="P"),
        Option(underlying="SPY", expiry=dt.date(2025, 4, 4), strike=551.37, right="P"),
    ],
    ids=["unknown-stock", "unknown-underlying", "unlisted-expiry", "unlisted-strike"],
)
def test_a_proposal_on_an_unknown_instrument_is_refused_instrument_not_found(engine, instrument):
    pending = proposal(engine, (Leg(instrument=instrument, ratio=1),))
    untouched = Untouched(engine)

    result = engine.execute(approve(pending.proposal_id))

    assert (result.accepted, result.code) == (False, "INSTRUMENT_NOT_FOUND"), result
    untouched.check()


# --- 32: fat finger -----------------------------------------------------------------------------


def test_a_limit_far_through_the_market_is_refused_for_debits_and_credits(engine):
    untouched = Untouched(engine)
    buy_back = close_preview(engine, "NVDA-5").mid  # short put: closing pays (debit)
    sell_out = close_preview(engine, "AAPL-4").mid  # long call: closing receives (credit)
    assert buy_back > 0 > sell_out

    paying_ten_times = engine.execute(close("NVDA-5", limit=round(10 * buy_back, 2)))
    selling_for_a_tenth = engine.execute(close("AAPL-4", limit=round(sell_out / 10, 2)))
    paying_to_sell = engine.execute(close("AAPL-4", limit=round(-sell_out, 2)))

    for result in (paying_ten_times, selling_for_a_tenth, paying_to_sell):
        assert (result.accepted, result.code) == (False, "LIMIT_THROUGH_MARKET"), result
        assert "through the natural price" in result.message
    untouched.check()


def test_a_limit_at_the_natural_price_is_accepted(engine):
    preview = close_preview(engine, "NVDA-5")

    result = engine.execute(close("NVDA-5", limit=preview.natural))

    assert result.accepted, result.message


@pytest.mark.parametrize("limit", [math.nan, math.inf, -math.inf])
def test_a_limit_that_is_not_a_price_is_refused(engine, limit):
    untouched = Untouched(engine)

    result = engine.execute(close("NVDA-5", limit=limit))

    assert (result.accepted, result.code) == (False, "LIMIT_INVALID")
    untouched.check()


def test_a_roll_and_an_approval_at_ten_times_the_market_are_refused(engine):
    command = roll(engine, "IWM-3")
    spy_put = next(leg.instrument for leg in engine.book.positions["SPY-1"].open_legs)
    pending = proposal(engine, (Leg(instrument=spy_put, ratio=1),))
    put_mid = close_preview(engine, "NVDA-5").mid  # any positive price will do as a scale
    untouched = Untouched(engine)

    rolling = engine.execute(msgspec.structs.replace(command, limit=10 * abs(put_mid) + 50))
    opening = engine.execute(approve(pending.proposal_id, limit=10 * abs(put_mid) + 50))

    for result in (rolling, opening):
        assert (result.accepted, result.code) == (False, "LIMIT_THROUGH_MARKET"), result
    untouched.check()
