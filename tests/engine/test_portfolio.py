"""The book: fills fold into positions, cash reconciles to the cent, P&L is realized right."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.portfolio import Book, BookError, cash_cents
from engine.records import Fill, LegFill, Option, Stock

EXP = dt.date(2026, 12, 18)
CALL = Option(underlying="SPY", expiry=EXP, strike=600, right="C")
CALL2 = Option(underlying="SPY", expiry=EXP, strike=610, right="C")


def fill(fid: str, pid: str, legs, commission: float = 0.0, ts: int = 1) -> Fill:
    return Fill(
        fill_id=fid,
        order_id=1,
        command_id="c",
        position_id=pid,
        intent="open",
        quantity=1,
        net_price=0.0,
        legs=tuple(LegFill(instrument=i, quantity=q, price=p) for i, q, p in legs),
        commission=commission,
        ts=ts,
    )


def test_cash_in_cents_is_exact_where_binary_floats_are_not():
    # 1.15 * 100 * 100 is 11499.999999999998 in floats.
    assert cash_cents(1.15, 1, 100) == 11500
    assert cash_cents(0.0001, 3, 100) == 3
    assert cash_cents(12.3456, -7, 1) == -8642


def test_open_then_close_realizes_the_difference_and_closes_the_position():
    book = Book(10_000)
    book.apply_fill(fill("f1", "P1", [(CALL, 2, 5.00), (CALL2, -2, 2.00)], commission=2.60))

    book.apply_fill(fill("f2", "P1", [(CALL, -2, 7.50), (CALL2, 2, 3.10)], commission=2.60, ts=2))

    position = book.positions["P1"]
    assert position.realized == pytest.approx(2 * 100 * (7.50 - 5.00) - 2 * 100 * (3.10 - 2.00))
    assert position.closed_at == 2
    assert (
        book.cash_cents == 1_000_000 - (2 * 500 - 2 * 200) * 100 + (2 * 750 - 2 * 310) * 100 - 520
    )


def test_a_fill_seen_twice_is_applied_once():
    book = Book(10_000)
    f = fill("f1", "P1", [(CALL, 1, 5.00)])

    book.apply_fill(f)
    book.apply_fill(f)

    assert book.positions["P1"].legs[CALL.key].quantity == 1
    assert book.cash_cents == 1_000_000 - 50_000


def test_fill_on_a_closed_position_is_refused_and_changes_nothing():
    book = Book(10_000)
    book.apply_fill(fill("f1", "P1", [(CALL, 1, 5.00)]))
    book.apply_fill(fill("f2", "P1", [(CALL, -1, 6.00)], ts=2))
    cash = book.cash_cents

    with pytest.raises(BookError, match="closed"):
        book.apply_fill(fill("f3", "P1", [(CALL, 1, 6.00)], ts=3))

    assert book.cash_cents == cash


def test_negative_or_nan_price_is_refused_before_anything_changes():
    book = Book(10_000)
    with pytest.raises(BookError):
        book.apply_fill(fill("f1", "P1", [(CALL, 1, 5.0), (CALL2, -1, float("nan"))]))
    assert book.cash_cents == 1_000_000
    assert "P1" not in book.positions or not book.positions["P1"].is_open


def test_crossing_through_zero_realizes_the_closed_part_and_opens_the_rest():
    book = Book(10_000)
    book.apply_fill(fill("f1", "P1", [(Stock(symbol="SPY"), 100, 600.00)]))

    book.apply_fill(fill("f2", "P1", [(Stock(symbol="SPY"), -150, 610.00)], ts=2))

    leg = book.positions["P1"].legs["SPY"]
    assert leg.quantity == -50
    assert leg.avg_price == 610.00
    assert book.positions["P1"].realized == pytest.approx(1_000.0)


prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("50"), places=2)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-5, 5).filter(bool), prices, st.integers(0, 8)),
        min_size=1,
        max_size=30,
    )
)
def test_cash_reconciles_exactly_with_the_sum_of_fills_and_commissions(trades):
    # Arrange: a random sequence of trades in one option, each with a commission.
    book = Book(50_000)
    expected = Decimal("50000")
    for n, (qty, price, contracts_fee) in enumerate(trades):
        commission = Decimal("0.65") * contracts_fee
        f = fill(f"f{n}", "P1", [(CALL, qty, float(price))], commission=float(commission), ts=n)
        position = book.positions.get("P1")
        if position is not None and position.closed_at is not None:
            break
        # Act
        book.apply_fill(f)
        expected -= price * qty * 100 + commission
    # Assert: cash equals the independent Decimal sum to the cent.
    assert Decimal(book.cash_cents) / 100 == expected
