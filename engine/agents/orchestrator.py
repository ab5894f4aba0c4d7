"""Provides the orchestrator: a weighted vote over the agents' recent signals per symbol.

``score = Σ weight · confidence · direction / Σ weight`` over the latest signal of each
agent on a symbol within the window (direction +1 bullish, -1 bearish, 0 neutral). The
votes are written onto the signals, so the desk can show why; the analyst proposes only
where the consensus agrees with the signal. Weights come from the configuration; adapting
them to each agent's track record is the scorer's job, later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from engine.agents.base import Agent
from engine.clock import NS_PER_SECOND
from engine.config import OrchestratorConfig
from engine.records import Signal, Vote

if TYPE_CHECKING:
    from engine.engine import Engine

SIGN = {"bullish": 1.0, "bearish": -1.0, "neutral": 0.0}


def consensus(votes: tuple[Vote, ...]) -> float:
    """The weighted vote in [-1, 1]; 0 when nobody voted."""
    total = sum(v.weight for v in votes)
    if total <= 0:
        return 0.0
    return sum(v.weight * v.confidence * SIGN[v.direction] for v in votes) / total


class Orchestrator(Agent):
    kind = "orchestrator"

    def __init__(self, config: OrchestratorConfig, name: str = "orchestrator") -> None:
        super().__init__(name, config.interval_s, enabled=config.enabled)
        self.config = config
        self.scores: dict[str, float] = {}

    def cycle(self, engine: Engine) -> bool:
        now = engine.now()
        window = int(self.config.window_s * NS_PER_SECOND)
        recent: dict[str, dict[str, Signal]] = {}
        for signal in engine.signals.values():
            if now - signal.ts <= window and signal.status in ("new", "proposed"):
                latest = recent.setdefault(signal.symbol, {})
                if signal.agent not in latest or latest[signal.agent].ts < signal.ts:
                    latest[signal.agent] = signal
        self.scores = {}
        for symbol, by_agent in recent.items():
            votes = tuple(
                Vote(
                    agent=agent,
                    direction=s.direction,
                    confidence=s.confidence,
                    weight=self.config.weights.get(agent, 1.0),
                )
                for agent, s in sorted(by_agent.items())
            )
            self.scores[symbol] = consensus(votes)
            for signal in by_agent.values():
                if signal.votes != votes:
                    engine.record_signal(msgspec.structs.replace(signal, votes=votes))
        return bool(recent)
