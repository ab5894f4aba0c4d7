"""Provides the book as the journal alone knows it: positions before any price is loaded.

The desk draws its first frame from this while the engine (market, pricing) is still
being built: a trader sees what they hold at once, each row marked as pending a price.
Nothing here imports numpy or scipy, and the journal is opened read-only.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import msgspec

from engine import codec
from engine.clock import exchange_date
from engine.portfolio import Book, PositionState
from engine.records import Fill, Greeks, PositionLeg, PositionView


def preview_positions(journal: Path) -> tuple[PositionView, ...]:
    """Open positions folded from the journal's fills; empty if there is no journal yet.

    Any problem (a journal being created, a corrupt one) gives an empty preview: the
    engine itself will say what is wrong a moment later.
    """
    if not journal.exists() or journal.stat().st_size == 0:
        return ()
    try:
        db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    except sqlite3.Error:
        return ()
    try:
        return _preview(db)
    except (sqlite3.Error, codec.DecodeError, ValueError):
        return ()
    finally:
        db.close()


def _preview(db: sqlite3.Connection) -> tuple[PositionView, ...]:
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    initial = msgspec.msgpack.decode(meta["initial_cash"]) if "initial_cash" in meta else 0.0
    now = msgspec.msgpack.decode(meta["engine_time"]) if "engine_time" in meta else 0
    book = Book(float(initial))
    for (body,) in db.execute("SELECT body FROM records WHERE kind = 'fill' ORDER BY seq"):
        book.apply_fill(codec.decode(body, Fill))
    today = exchange_date(now) if now else None
    return tuple(_view(p, today, now) for p in book.open_positions())


def _view(position: PositionState, today: dt.date | None, now: int) -> PositionView:
    legs = tuple(
        PositionLeg(
            instrument=leg.instrument,
            quantity=leg.quantity,
            avg_price=leg.avg_price,
            mark=None,
            mark_state="pending",
        )
        for leg in position.open_legs
    )
    expiry = position.expiry
    dte = (expiry - today).days if expiry is not None and today is not None else None
    max_profit, max_loss = position.extremes
    return PositionView(
        position_id=position.position_id,
        underlying=position.underlying,
        strategy=position.shape.name,
        bias=position.shape.bias,
        quantity=position.units,
        legs=legs,
        opened_at=position.opened_at,
        expiry=expiry,
        dte=dte,
        cost_basis=position.cost_basis,
        market_value=None,
        unrealized_pnl=None,
        realized_pnl=position.realized,
        day_pnl=None,
        pnl_pct=None,
        max_profit=max_profit,
        max_loss=max_loss,
        greeks=Greeks(),
        mark_state="pending",
        ts=now,
    )
