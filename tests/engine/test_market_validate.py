"""Ingestion validation: every bad price is rejected with a reason, counted, and survivable."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.market.config import SimConfig
from engine.market.sim import SimMarket
from engine.market.validate import (
    CODES,
    price_code,
    price_codes,
    quote_codes,
    validate_quote,
)
from engine.records import Option

# The market tests replay fixed days: an unset start date would be today.
START = dt.date(2025, 3, 3)

IB_UNSET = 1.7976931348623157e308
BAD_VALUES = {
    "nan": float("nan"),
    "inf": float("inf"),
    "-inf": float("-inf"),
    "ib -1": -1.0,
    "ib -2": -2.0,
    "ib unset": IB_UNSET,
    "huge": 1e300,
    "zero": 0.0,
    "negative": -3.25,
    "none": None,
}
EXPECTED_CODE = {
    "nan": "nan",
    "inf": "inf",
    "-inf": "inf",
    "ib -1": "sentinel",
    "ib -2": "sentinel",
    "ib unset": "sentinel",
    "huge": "sentinel",
    "zero": "zero",
    "negative": "negative",
    "none": "missing",
}

good_prices = st.floats(min_value=0.01, max_value=1e6, allow_nan=False, allow_infinity=False)
any_price = st.one_of(
    good_prices,
    st.sampled_from([float("nan"), float("inf"), float("-inf"), -1.0, -2.0, 0.0, IB_UNSET]),
    st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False),
    st.floats(min_value=1e300, allow_nan=False, allow_infinity=False),
    st.floats(allow_nan=True, allow_infinity=True),
)


def _bad(value: float | None) -> bool:
    return (
        value is None
        or math.isnan(value)
        or math.isinf(value)
        or value <= 0
        or value > 1e7
        or value in (-1.0, -2.0)
    )


@pytest.mark.parametrize("label", list(BAD_VALUES))
@pytest.mark.parametrize("field", ["bid", "ask", "last"])
def test_each_bad_value_is_rejected_with_its_reason(label: str, field: str) -> None:
    quote = {"bid": 100.0, "ask": 100.02, "last": 100.01}
    quote[field] = BAD_VALUES[label]  # type: ignore[assignment]
    rejection = validate_quote(**quote)
    assert rejection is not None
    assert rejection.code == EXPECTED_CODE[label]
    assert rejection.reason.startswith(field)
    assert rejection.counter == f"quotes_rejected_{EXPECTED_CODE[label]}"


def test_crossed_book_is_rejected_and_a_locked_one_is_not() -> None:
    rejection = validate_quote(100.05, 100.0, 100.02)
    assert rejection is not None and rejection.code == "crossed"
    assert "crossed" in rejection.reason
    assert validate_quote(100.0, 100.0, 100.0) is None


def test_option_bid_may_be_zero_but_ask_may_not() -> None:
    assert validate_quote(0.0, 0.05, None, allow_zero_bid=True, require_last=False) is None
    rejected = validate_quote(0.0, 0.0, None, allow_zero_bid=True, require_last=False)
    assert rejected is not None and rejected.code == "zero"


@settings(max_examples=300, deadline=None)
@given(bid=any_price, ask=any_price, last=any_price)
def test_validate_quote_accepts_exactly_the_good_quotes(
    bid: float, ask: float, last: float
) -> None:
    rejection = validate_quote(bid, ask, last)
    should_reject = _bad(bid) or _bad(ask) or _bad(last) or bid > ask
    assert (rejection is not None) == should_reject
    if rejection is not None:
        assert rejection.code in CODES
        assert rejection.reason


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(any_price, any_price, any_price), min_size=1, max_size=30))
def test_vectorized_codes_agree_with_the_scalar_check(
    rows: list[tuple[float, float, float]],
) -> None:
    bid, ask, last = (np.array(col, dtype=np.float64) for col in zip(*rows, strict=True))
    codes = quote_codes(bid, ask, last)
    for i, (b, a, t) in enumerate(rows):
        rejection = validate_quote(b, a, t)
        expected = 0 if rejection is None else CODES.index(rejection.code) + 1
        assert codes[i] == expected, (b, a, t)


def test_price_codes_match_price_code_on_the_sentinels() -> None:
    values = np.array([1.0, np.nan, np.inf, -1.0, -2.0, IB_UNSET, -0.5, 0.0])
    codes = price_codes(values)
    assert [0 if c == 0 else CODES[c - 1] for c in codes.tolist()] == [
        0 if price_code(v) is None else price_code(v) for v in values.tolist()
    ]


# --- through a source: rejected, counted, last good kept, recovered ---------------------


@pytest.fixture(scope="module")
def config() -> SimConfig:
    return SimConfig(start_date=START, seed=3, history_days=30, flow_rate=0.0)


def _near_option(sim: SimMarket, symbol: str) -> Option:
    expiry = sim.expiries(symbol)[2]
    spot = sim.quote(symbol).last  # type: ignore[union-attr]
    strike = min(sim.strikes(symbol, expiry), key=lambda k: abs(k - spot))
    return Option(underlying=symbol, expiry=expiry, strike=strike, right="C")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ((float("nan"), 580.0, 580.0), "nan"),
        ((580.0, float("inf"), 580.0), "inf"),
        ((-1.0, 580.0, 580.0), "sentinel"),
        ((580.0, -2.0, 580.0), "sentinel"),
        ((580.0, 580.1, IB_UNSET), "sentinel"),
        ((0.0, 580.0, 580.0), "zero"),
        ((-5.0, 580.0, 580.0), "negative"),
        ((581.0, 580.0, 580.5), "crossed"),
        ((None, 580.0, 580.0), "missing"),
    ],
)
def test_sim_rejects_counts_and_keeps_the_last_good_quote(
    config: SimConfig, raw: tuple[float | None, float | None, float | None], code: str
) -> None:
    sim = SimMarket(config)
    now = sim.start_time()
    sim.step(now)
    now = sim.next_time(now, 1_000_000_000)  # type: ignore[assignment]
    sim.step(now)
    before = sim.quote("SPY")
    option = _near_option(sim, "SPY")
    sim.inject_quote("SPY", *raw)
    now += 1_000_000_000
    update = sim.step(now)

    assert sim.counters[f"quotes_rejected_{code}"] == 1
    assert sum(v for k, v in sim.counters.items() if k.startswith("quotes_rejected_")) == 1
    assert sim.quote("SPY") == before
    assert "SPY" not in {q.symbol for q in update.quotes}
    marks = sim.option_marks([option])
    # Invalid (FAULTS row 28): nothing priced from a bad input; the last good quote stays.
    assert marks.state[0] == 2

    now += 1_000_000_000
    sim.step(now)
    assert sim.quote("SPY").ts == now  # type: ignore[union-attr]
    assert sim.option_marks([option]).state[0] == 0


def test_a_good_injected_quote_is_taken_and_moves_the_market(config: SimConfig) -> None:
    sim = SimMarket(config)
    now = sim.start_time()
    sim.step(now)
    sim.inject_quote("AAPL", 200.0, 200.02, 200.01)
    now += 1_000_000_000
    sim.step(now)
    quote = sim.quote("AAPL")
    assert quote is not None and (quote.bid, quote.ask, quote.last) == (200.0, 200.02, 200.01)
    now += 1_000_000_000
    sim.step(now)
    assert abs(sim.quote("AAPL").last - 200.01) < 2.0  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def running(config: SimConfig) -> list:
    sim = SimMarket(config)
    sim.step(sim.start_time())
    return [sim, sim.start_time()]


@settings(max_examples=80, deadline=None)
@given(bid=any_price, ask=any_price, last=any_price)
def test_every_rejection_through_a_source_is_counted_and_recovered(
    running: list, bid: float, ask: float, last: float
) -> None:
    sim: SimMarket = running[0]
    expected = validate_quote(bid, ask, last)
    before, counts = sim.quote("IWM"), dict(sim.counters)
    sim.inject_quote("IWM", bid, ask, last)
    running[1] += 1_000_000_000
    sim.step(running[1])
    if expected is None:
        assert sim.quote("IWM").bid == bid and sim.quote("IWM").ts == running[1]  # type: ignore[union-attr]
        assert sim.counters == counts
    else:
        assert sim.quote("IWM") == before
        assert sim.counters[expected.counter] == counts[expected.counter] + 1
        assert sum(sim.counters.values()) == sum(counts.values()) + 1
        assert sim._status[sim._columns["IWM"]] == 2
    sim.inject_quote("IWM", 220.0, 220.02, 220.01)  # a good quote restores it
    running[1] += 1_000_000_000
    sim.step(running[1])
    assert sim.quote("IWM").ts == running[1] and sim._status[sim._columns["IWM"]] == 0  # type: ignore[union-attr]
