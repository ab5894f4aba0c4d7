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
from tests.engine.conftest import advance


def _vertical(engine) -> Proposal:
    expiry = engine.market.expiries("SPY")[3]
    strikes = engine.market.strikes("SPY", expiry)
    spot = engine.market.quote("SPY").last
    near = min(strikes, key=lambda k: abs(k - spot))
    higher = min((k for k in strikes if k > near + 5), default=strikes[-1])
    legs = (
        Leg(instrument=Option(underlying="SPY", expiry=expiry, strike=near, right="C"), ratio=1),
        Leg(instrument=Option(underlying="SPY", expiry=expiry, strike=higher, right="C"), ratio=-1),
    )
    return Proposal(
        proposal_id="PR-test-1",
        ts=engine.now(),
        signal_ids=(),
        symbol="SPY",
        strategy="bull call spread",
        legs=legs,
        quantity=3,
        limit=None,
        max_profit=None,
        max_loss=None,
        probability_of_profit=None,
        expected_value=None,
        rationale="test",
    )


def test_the_preview_predicts_the_books_greeks_after_the_order(engine):
    advance(engine, 2)
    proposal = _vertical(engine)
    engine.proposals[proposal.proposal_id] = proposal

    preview = proposal_preview(engine, proposal.proposal_id)
    assert preview.estimated_fill is not None and preview.mid is not None
    assert preview.mid <= preview.estimated_fill <= preview.natural  # a debit walks up
    book_now = engine.revalue().summary.greeks
    assert preview.portfolio_greeks_before.delta == pytest.approx(book_now.delta, rel=1e-9)

    marks = engine.market.option_marks([leg.instrument for leg in proposal.legs])
    prices = {leg.instrument.key: float(m) for leg, m in zip(proposal.legs, marks.mid, strict=True)}
    engine.book_at_prices(
        tag="test",
        intent="open",
        position_id=None,
        legs=proposal.legs,
        quantity=proposal.quantity,
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
    proposal = _vertical(engine)
    engine.proposals[proposal.proposal_id] = msgspec.structs.replace(proposal, status="rejected")
    with pytest.raises(Refusal, match="rejected"):
        proposal_preview(engine, proposal.proposal_id)
    with pytest.raises(Refusal, match="no proposal"):
        proposal_preview(engine, "PR-nope")
