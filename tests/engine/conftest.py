"""Shared engine fixtures: a real engine on a temp journal, stepped by hand."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from engine.config import EngineConfig
from engine.engine import Engine
from engine.records import ClosePosition, Leg, Proposal, RollPosition
from engine.runner import build_engine, engine_step_ns, start

_ids = itertools.count()


def engine_config(tmp_path: Path, **sections: Any) -> EngineConfig:
    """A config on a temp journal with the sim's date and seed pinned; sections override."""
    raw: dict[str, Any] = {
        "journal": {"path": str(tmp_path / "journal.db")},
        "market": {"sim": {"seed": 7, "start_date": "2025-03-03"}},
    }
    for key, value in sections.items():
        raw[key] = _merge(raw.get(key, {}), value)
    return msgspec.convert(raw, EngineConfig)


def _merge(base: Any, extra: Any) -> Any:
    if isinstance(base, dict) and isinstance(extra, dict):
        return {**base, **{k: _merge(base.get(k), v) for k, v in extra.items()}}
    return extra


def open_engine(config: EngineConfig) -> Engine:
    engine = build_engine(config)
    start(engine)
    return engine


def advance(engine: Engine, ticks: int = 1) -> None:
    """Step the market and the engine ``ticks`` times, as the run loop would."""
    step = engine_step_ns(engine)
    for _ in range(ticks):
        upcoming = engine.market.next_time(engine.now(), step)
        assert upcoming is not None
        engine.clock.advance_to(upcoming)
        engine.tick()


def until(engine: Engine, condition: Callable[[], bool], ticks: int = 200) -> None:
    """Tick until ``condition`` holds; fail with the engine's state if it never does."""
    for _ in range(ticks):
        if condition():
            return
        advance(engine)
    assert condition(), (
        f"condition not met in {ticks} ticks; orders: {list(engine.orders.values())[-3:]}"
    )


def command_id() -> str:
    return f"t-{next(_ids):05d}"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = open_engine(engine_config(tmp_path))
    yield eng
    eng.shutdown()


def close(position_id: str, **kw: Any) -> ClosePosition:
    """A ClosePosition from the tests, with a fresh id."""
    return ClosePosition(
        command_id=command_id(), actor="test", issued_at=0, position_id=position_id, **kw
    )


def roll(engine: Engine, position_id: str, **kw: Any) -> RollPosition:
    """A RollPosition to the position's second later expiry (or ``to_expiry``)."""
    position = engine.book.positions[position_id]
    later = [d for d in engine.market.expiries(position.underlying) if d > position.expiry]
    return RollPosition(
        command_id=command_id(),
        actor="test",
        issued_at=0,
        position_id=position_id,
        to_expiry=kw.pop("to_expiry", later[1]),
        **kw,
    )


def proposal(
    engine: Engine, legs: tuple[Leg, ...], proposal_id: str = "PR-TEST", quantity: int = 1
) -> Proposal:
    """Record a pending proposal, as the analyst does."""
    made = Proposal(
        proposal_id=proposal_id,
        ts=engine.now(),
        signal_ids=(),
        symbol=legs[0].instrument.underlying,
        strategy="test",
        legs=legs,
        quantity=quantity,
        limit=None,
        max_profit=None,
        max_loss=None,
        probability_of_profit=None,
        expected_value=None,
        rationale="test",
    )
    engine.record_proposal(made)
    return made
