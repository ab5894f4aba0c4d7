"""Provides the strategy analyst: turns a confident signal into a defined-risk proposal.

A bullish signal becomes a bull put spread, a bearish one a bear call spread: sell the
option nearest the target delta about a month out, buy the one a few strikes further
out of the money. The proposal carries max profit, max loss, a probability of profit
(one minus the short leg's delta, the usual desk approximation) and the expected value.
Nothing trades until a trader approves it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
import numpy as np

from engine.agents.base import Agent, Numbering
from engine.agents.orchestrator import SIGN, consensus
from engine.agents.position_manager import auto_execute
from engine.clock import NS_PER_SECOND
from engine.config import AnalystConfig
from engine.records import ApproveProposal, Leg, OptionQuote, Proposal, Signal

if TYPE_CHECKING:
    from engine.engine import Engine


class StrategyAnalyst(Agent):
    kind = "analyst"

    def __init__(self, config: AnalystConfig, name: str = "strategist") -> None:
        super().__init__(name, config.interval_s, enabled=config.enabled)
        self.config = config
        self._ids = Numbering()
        self._restored = False

    def cycle(self, engine: Engine) -> bool:
        now = engine.now()
        if not self._restored:
            # Number on from the journal's proposals: a reused id would replace one.
            self._restored = True
            for proposal_id in engine.proposals:
                self._ids.see(proposal_id)
        ttl = int(self.config.proposal_ttl_s * NS_PER_SECOND)
        for proposal in list(engine.proposals.values()):
            if proposal.status == "pending" and now - proposal.ts > ttl:
                engine.record_proposal(
                    msgspec.structs.replace(
                        proposal, status="expired", reason="not approved in time", ts=now
                    )
                )
        fresh = [
            s
            for s in engine.signals.values()
            if s.status == "new" and s.direction != "neutral" and s.agent not in engine.paused
        ]
        for signal in fresh:
            if signal.confidence < self.config.min_confidence:
                continue
            if signal.votes and consensus(signal.votes) * SIGN[signal.direction] <= 0:
                continue  # the orchestrator's vote goes the other way (or nowhere)
            candidate = self._propose(engine, signal)
            if candidate is None:
                continue
            engine.record_proposal(candidate)
            engine.record_signal(msgspec.structs.replace(signal, status="proposed"))
            if auto_execute(engine):
                engine.execute(
                    ApproveProposal(
                        command_id=f"auto-approve-{candidate.proposal_id}",
                        actor=self.name,
                        issued_at=engine.now(),
                        proposal_id=candidate.proposal_id,
                    )
                )
        return bool(fresh)

    def _propose(self, engine: Engine, signal: Signal) -> Proposal | None:
        cfg = self.config
        today = engine.clock.today()
        expiries = engine.market.expiries(signal.symbol)
        if not expiries:
            return None
        expiry = min(expiries, key=lambda d: abs((d - today).days - cfg.target_dte))
        right = "P" if signal.direction == "bullish" else "C"
        chain = [
            q
            for q in engine.market.chain(signal.symbol, expiry)
            if q.instrument.right == right and q.delta is not None and q.mid is not None
        ]
        if len(chain) < cfg.width_strikes + 2:
            return None
        chain.sort(key=lambda q: q.instrument.strike)
        deltas = np.array([abs(q.delta or 0.0) for q in chain])
        short_i = int(np.argmin(np.abs(deltas - cfg.short_delta)))
        long_i = short_i - cfg.width_strikes if right == "P" else short_i + cfg.width_strikes
        if not 0 <= long_i < len(chain):
            return None
        short, long = chain[short_i], chain[long_i]
        return self._proposal(engine, signal, short, long)

    def _proposal(
        self, engine: Engine, signal: Signal, short: OptionQuote, long: OptionQuote
    ) -> Proposal:
        assert short.mid is not None and long.mid is not None
        credit = round(short.mid - long.mid, 2)
        width = abs(short.instrument.strike - long.instrument.strike)
        multiplier = short.instrument.multiplier
        max_profit = credit * multiplier
        max_loss = (width - credit) * multiplier
        pop = 1.0 - abs(short.delta or 0.0)
        name = "bull put spread" if short.instrument.right == "P" else "bear call spread"
        return Proposal(
            proposal_id=self._ids.next(f"PR-{engine.clock.today():%y%m%d}"),
            ts=engine.now(),
            signal_ids=(signal.signal_id,),
            symbol=signal.symbol,
            strategy=name,
            legs=(
                Leg(instrument=short.instrument, ratio=-1),
                Leg(instrument=long.instrument, ratio=1),
            ),
            quantity=1,
            limit=-credit,
            max_profit=max_profit,
            max_loss=max_loss,
            probability_of_profit=round(pop, 3),
            expected_value=round(pop * max_profit - (1 - pop) * max_loss, 2),
            rationale=f"{signal.description} ({signal.confidence:.0%}): sell the "
            f"{short.instrument.describe()} ({abs(short.delta or 0):.2f} delta), buy the "
            f"{long.instrument.describe()} for {credit:.2f} credit",
        )
