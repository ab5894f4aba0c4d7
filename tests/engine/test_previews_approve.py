"""The approve preview says what the order would do, and the book agrees once it is done.

The preview's "book after" comes from the previews' own leg arithmetic; the check books
the same legs at the same prices (no tick between) and reads the Greeks back from the
valuation, the path the Greeks pane shows: the two must agree.
"""

from __future__ import annotations

import msgspec
import pytest

from engine.orders import Refusal
from engine.previews import proposal_preview
from engine.records import Leg, Option, Proposal
from tests.engine.conftest import advance, proposal


def _vertical(engine) -> Proposal:
    """A pending 3-lot SPY call spread near the money, recorded as the analyst would."""
    expiry = engine.market.expiries("SPY")[3]
    strikes = engine.market.strikes("SPY", expiry)
    spot = engine.market.quote("SPY").last
    near = min(strikes, key=lambda k: abs(k - spot))
    higher = min((k for k in strikes if k > near + 5), default=strikes[-1])
    legs = (
        Leg(instrument=Option(underlying="SPY", expiry=expiry, strike=near, right="C"), ratio=1),
        Leg(instrument=Option(underlying="SPY", expiry=expiry, strike=higher, right="C"), ratio=-1),
    )
    return proposal(engine, legs, "PR-test-1", quantity=3)


def test_the_preview_predicts_the_books_greeks_after_the_order(engine):
    advance(engine, 2)
    pending = _vertical(engine)

    preview = proposal_preview(engine, pending.proposal_id)
    assert preview.estimated_fill is not None and preview.mid is not None
    assert preview.mid <= preview.estimated_fill <= preview.natural  # a debit walks up
    book_now = engine.revalue().summary.greeks
    assert preview.portfolio_greeks_before.delta == pytest.approx(book_now.delta, rel=1e-9)

    marks = engine.market.option_marks([leg.instrument for leg in pending.legs])
    prices = {leg.instrument.key: float(m) for leg, m in zip(pending.legs, marks.mid, strict=True)}
    engine.book_at_prices(
        tag="test",
        intent="open",
        position_id=None,
        legs=pending.legs,
        quantity=pending.quantity,
        prices=prices,
        source="demo",
    )
    after = engine.revalue().summary.greeks
    for name in ("delta", "gamma", "theta", "vega"):
        predicted = getattr(preview.portfolio_greeks_after, name)
        assert predicted == pytest.approx(getattr(after, name), rel=1e-9, abs=1e-9), name
    assert preview.greeks.delta == pytest.approx(after.delta - book_now.delta, rel=1e-9)


def test_a_proposal_that_is_not_pending_has_no_preview(engine):
    advance(engine)
    pending = _vertical(engine)
    engine.proposals[pending.proposal_id] = msgspec.structs.replace(pending, status="rejected")
    with pytest.raises(Refusal, match="rejected"):
        proposal_preview(engine, pending.proposal_id)
    with pytest.raises(Refusal, match="no proposal"):
        proposal_preview(engine, "PR-nope")
