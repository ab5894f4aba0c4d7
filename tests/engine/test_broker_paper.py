"""The paper broker on its own: how it works an order, fills it, charges for it, refuses it.

A real sim market, stepped once and then held still (the broker's clock moves, the quotes
do not), and a real ledger in a temp dir. Every expected price is worked out here from the
quotes' bid and ask: mid = Σ ratio × (bid + ask) / 2, natural = Σ ratio × (ask if bought
else bid), and after k steps the order works at mid + k × step × (natural − mid), to the
cent; it fills once that is ``fill_threshold`` of the way across.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import msgspec
import pytest

from engine.broker.base import BrokerOrder, Execution, OrderStatus
from engine.broker.config import PaperBrokerConfig
from engine.broker.paper import PaperBroker
from engine.clock import NS_PER_SECOND
from engine.market import MarketConfig, build_source
from engine.market.base import MarketSource
from engine.records import Leg, Option, Stock

STEP_S = 15
STEP = 0.25
THRESHOLD = 0.6


class Recorder:
    """The broker's listener: keeps what the broker says, in order."""

    def __init__(self) -> None:
        self.statuses: list[OrderStatus] = []
        self.executions: list[Execution] = []

    def on_order_status(self, status: OrderStatus) -> None:
        self.statuses.append(status)

    def on_execution(self, execution: Execution) -> None:
        self.executions.append(execution)

    def on_connection(self, connected: bool) -> None:
        pass

    @property
    def states(self) -> list[str]:
        return [s.state for s in self.statuses]


@pytest.fixture(scope="module")
def market() -> MarketSource:
    source = build_source(
        msgspec.convert({"sim": {"seed": 7, "start_date": "2025-03-03"}}, MarketConfig)
    )
    source.step(source.start_time())
    return source


def spread(market: MarketSource) -> tuple[Leg, Leg]:
    """A bull call spread three weeks out near the money (buy one call, sell one five
    strikes up) whose walk never lands on a half cent, where rounding is a coin toss."""
    expiry = market.expiries("SPY")[2]
    strikes = list(market.strikes("SPY", expiry))
    spot = market.quote("SPY").last
    atm = min(range(len(strikes)), key=lambda j: abs(strikes[j] - spot))
    for i in sorted(range(atm - 10, atm + 10), key=lambda j: abs(j - atm)):
        buy = Option(underlying="SPY", expiry=expiry, strike=strikes[i], right="C")
        sell = Option(underlying="SPY", expiry=expiry, strike=strikes[i + 5], right="C")
        legs = (Leg(instrument=buy, ratio=1), Leg(instrument=sell, ratio=-1))
        book = quoted(market, legs)
        if all(_clear(p) for p in _path(book, STEP)):
            return legs
    raise AssertionError("no spread near the money walks clear of half cents")


class Book(msgspec.Struct):
    mid: float
    natural: float
    size: int


def quoted(market: MarketSource, legs: tuple[Leg, ...]) -> Book:
    marks = market.option_marks([leg.instrument for leg in legs])
    mid = natural = 0.0
    sizes = []
    for i, leg in enumerate(legs):
        bid, ask = float(marks.bid[i]), float(marks.ask[i])
        mid += leg.ratio * (bid + ask) / 2
        natural += leg.ratio * (ask if leg.ratio > 0 else bid)
        sizes.append(int(marks.ask_size[i] if leg.ratio > 0 else marks.bid_size[i]))
    return Book(mid=mid, natural=natural, size=min(sizes))


def _path(book: Book, step: float) -> list[float]:
    return [book.mid + min(k * step, 1.0) * (book.natural - book.mid) for k in range(12)]


def _clear(price: float) -> bool:
    return abs(abs(price * 100 - round(price * 100)) - 0.5) > 1e-6


def walk(book: Book, step: float, threshold: float) -> tuple[list[float], int]:
    """The price after each step, and the first step at which it clears the threshold."""
    prices = [round(p, 2) for p in _path(book, step)]
    clearing = book.mid + threshold * (book.natural - book.mid)
    return prices, next(k for k, p in enumerate(prices) if p >= clearing - 1e-9)


def broker_on(tmp_path: Path, market: MarketSource, **config: Any) -> tuple[PaperBroker, Recorder]:
    settings = {
        "walk_interval_s": float(STEP_S),
        "walk_step": STEP,
        "fill_threshold": THRESHOLD,
        "stale_after_s": 3600.0,
        **config,
    }
    broker = PaperBroker(
        tmp_path / f"ledger-{len(list(tmp_path.iterdir()))}.db",
        msgspec.convert(settings, PaperBrokerConfig),
        market=market,
    )
    recorder = Recorder()
    broker.set_listener(recorder)
    return broker, recorder


def order(market: MarketSource, legs: tuple[Leg, ...], quantity: int = 2, **kw: Any) -> BrokerOrder:
    fields: dict[str, Any] = {
        "order_id": 1,
        "order_ref": "cmd-1",
        "position_id": "SPY-T",
        "intent": "open",
        "legs": legs,
        "quantity": quantity,
        "limit": None,
        "ts": market.start_time(),
    } | kw
    return BrokerOrder(**fields)


def at(market: MarketSource, seconds: float) -> int:
    return market.start_time() + int(seconds * NS_PER_SECOND)


def working_price(broker: PaperBroker, order_id: int = 1) -> float | None:
    found = broker.ledger.order(order_id)
    assert found is not None
    return found[1].working_price


def test_an_order_walks_from_mid_a_step_each_interval_and_fills_at_the_threshold(tmp_path, market):
    legs = spread(market)
    book = quoted(market, legs)
    prices, fill_step = walk(book, STEP, THRESHOLD)
    broker, heard = broker_on(tmp_path, market)

    broker.submit(order(market, legs))
    assert broker.find_order("cmd-1").state == "new"
    assert heard.statuses == []

    broker.on_tick(at(market, 0), market)
    assert heard.states == ["working"]
    assert working_price(broker) == prices[0]
    broker.on_tick(at(market, STEP_S - 1), market)
    assert working_price(broker) == prices[0], "no step before the interval is up"
    for k in range(1, fill_step):
        broker.on_tick(at(market, k * STEP_S), market)
        assert working_price(broker) == prices[k]
        assert heard.executions == []
    broker.on_tick(at(market, fill_step * STEP_S), market)

    assert heard.states == ["working", "filled"]
    [execution] = heard.executions
    assert (execution.quantity, execution.net_price) == (2, prices[fill_step])
    assert sum(leg.quantity * leg.price for leg in execution.legs) == pytest.approx(
        2 * prices[fill_step], abs=1e-9
    )
    assert broker.ledger.positions() == {
        legs[0].instrument.key: 2,
        legs[1].instrument.key: -2,
    }
    assert broker.open_orders() == []


def test_an_order_larger_than_the_displayed_size_fills_in_parts(tmp_path, market):
    legs = spread(market)
    book = quoted(market, legs)
    _, fill_step = walk(book, STEP, THRESHOLD)
    quantity = book.size + 7
    broker, heard = broker_on(tmp_path, market, max_quantity=quantity + 10)
    broker.submit(order(market, legs, quantity))

    for k in range(fill_step + 1):
        broker.on_tick(at(market, k * STEP_S), market)
    first = list(heard.statuses)
    broker.on_tick(at(market, fill_step * STEP_S + 1), market)

    assert [s.state for s in first] == ["working", "partially_filled"]
    assert (first[-1].filled, first[-1].remaining) == (book.size, 7)
    assert [x.quantity for x in heard.executions] == [book.size, 7]
    assert heard.states == ["working", "partially_filled", "filled"]
    assert heard.statuses[-1].remaining == 0


def test_cancelling_a_part_filled_order_keeps_the_part_and_stops_the_rest(tmp_path, market):
    legs = spread(market)
    book = quoted(market, legs)
    _, fill_step = walk(book, STEP, THRESHOLD)
    broker, heard = broker_on(tmp_path, market, max_quantity=book.size + 50)
    broker.submit(order(market, legs, book.size + 5))
    for k in range(fill_step + 1):
        broker.on_tick(at(market, k * STEP_S), market)

    broker.cancel(1)
    broker.on_tick(at(market, (fill_step + 1) * STEP_S), market)

    assert heard.states == ["working", "partially_filled", "cancelled"]
    assert (heard.statuses[-1].filled, heard.statuses[-1].remaining) == (book.size, 5)
    assert [x.quantity for x in heard.executions] == [book.size]
    assert broker.ledger.positions()[legs[0].instrument.key] == book.size
    assert broker.find_order("cmd-1").state == "cancelled"


def test_slippage_goes_against_us_commission_is_per_contract_and_the_limit_holds(tmp_path, market):
    legs = spread(market)
    prices, fill_step = walk(quoted(market, legs), STEP, THRESHOLD)
    fill = prices[fill_step]
    broker, heard = broker_on(tmp_path, market, slippage_ticks=2, commission_per_contract=0.65)
    broker.submit(order(market, legs, 3, order_id=1, order_ref="free"))
    broker.submit(order(market, legs, 3, order_id=2, order_ref="capped", limit=fill + 0.01))
    patient = prices[fill_step - 1]
    broker.submit(order(market, legs, 3, order_id=3, order_ref="patient", limit=patient))

    for k in range(fill_step + 4):
        broker.on_tick(at(market, k * STEP_S), market)

    by_ref = {x.order_ref: x for x in heard.executions}
    assert by_ref["free"].net_price == pytest.approx(fill + 0.02)
    assert by_ref["capped"].net_price == pytest.approx(fill + 0.01), "never past the limit"
    assert "patient" not in by_ref, "a limit short of the clearing price does not fill"
    assert working_price(broker, 3) == patient
    assert broker.find_order("patient").state == "working"
    # 3 combos × 2 legs × $0.65
    assert by_ref["free"].commission == pytest.approx(3.90)


def test_a_stock_leg_pays_commission_per_share(tmp_path, market):
    stock = Leg(instrument=Stock(symbol="SPY"), ratio=100)
    broker, heard = broker_on(tmp_path, market, commission_per_share=0.005, fill_threshold=0.0)

    broker.submit(order(market, (stock,), 2))
    broker.on_tick(at(market, 0), market)

    [execution] = heard.executions
    assert execution.commission == pytest.approx(200 * 0.005)


EXPIRED = Option(underlying="SPY", expiry=dt.date(2025, 2, 28), strike=580.0, right="C")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"quantity": 0}, "QUANTITY_BELOW_MINIMUM"),
        ({"quantity": -2}, "QUANTITY_BELOW_MINIMUM"),
        ({"quantity": 501}, "QUANTITY_EXCEEDS_MAXIMUM"),
        ({"legs": "expired"}, "CONTRACT_EXPIRED"),
        ({"legs": "unlisted strike"}, "INSTRUMENT_NOT_FOUND"),
        ({"legs": "unknown underlying"}, "INSTRUMENT_NOT_FOUND"),
        ({"legs": "unknown stock"}, "INSTRUMENT_NOT_FOUND"),
        ({"legs": "same contract twice"}, "INVALID_ORDER"),
        ({"ts": "after the quotes went stale"}, "QUOTE_STALE"),
    ],
)
def test_the_broker_itself_rejects_what_it_cannot_trade_with_a_code_and_a_reason(
    tmp_path, market, change, code
):
    legs = spread(market)
    buy = legs[0].instrument
    variants: dict[str, tuple[Leg, ...]] = {
        "expired": (Leg(instrument=EXPIRED, ratio=1),),
        "unlisted strike": (Leg(instrument=msgspec.structs.replace(buy, strike=580.5), ratio=1),),
        "unknown underlying": (
            Leg(instrument=msgspec.structs.replace(buy, underlying="ZZZZ"), ratio=1),
        ),
        "unknown stock": (Leg(instrument=Stock(symbol="ZZZZ"), ratio=100),),
        "same contract twice": (legs[0], Leg(instrument=buy, ratio=-1)),
    }
    fields: dict[str, Any] = dict(change)
    sent = variants[fields.pop("legs")] if "legs" in fields else legs
    if "ts" in fields:
        fields["ts"] = at(market, 60.0 + 1)
    broker, heard = broker_on(tmp_path, market, stale_after_s=60.0)

    broker.submit(order(market, sent, **fields))
    for k in range(6):
        broker.on_tick(at(market, 61 + k * STEP_S), market)

    [status] = heard.statuses
    assert (status.state, status.code) == ("rejected", code)
    assert status.reason
    found = broker.find_order("cmd-1")
    assert (found.state, found.code, found.reason) == ("rejected", code, status.reason)
    assert heard.executions == [] and broker.open_orders() == []
