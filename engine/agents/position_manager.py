"""Provides the position manager: HOLD, CLOSE or ROLL for each position, with the reason.

Recommendations only: nothing here sends an order. Rules, in order: close what expires
within ``close_dte``; close at the profit target; close at the stop (a multiple of the
credit, or a fraction of the debit); roll inside ``roll_dte``.

The profit target is a fraction of max profit. A position whose max profit is unlimited
or unknown (a long call, long stock, a calendar) has no such thing, so for a debit the
target is the same fraction of what was paid: ``profit_target = 0.5`` takes a long call
off when it is up half its premium.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.agents.base import Agent
from engine.config import PositionManagerConfig
from engine.records import Action, ClosePosition, PositionView, Recommendation

if TYPE_CHECKING:
    from engine.engine import Engine


def auto_execute(engine: Engine) -> bool:
    """Agents act without a trader only when configured to, and only on paper."""
    return engine.config.agents.auto_execute and engine.broker.name == "paper"


class PositionManager(Agent):
    kind = "executor"

    def __init__(self, config: PositionManagerConfig, name: str = "position-manager") -> None:
        super().__init__(name, config.interval_s, enabled=config.enabled)
        self.config = config

    def cycle(self, engine: Engine) -> bool:
        if engine.valuation is None:
            return False
        now = engine.now()
        views = [v for v in engine.valuation.views.values() if v.status == "open"]
        live = {v.position_id for v in views}
        for stale in set(engine.recommendations) - live:
            del engine.recommendations[stale]
        working = engine.working_positions()
        for view in views:
            action, reason = self.judge(view)
            engine.recommendations[view.position_id] = Recommendation(
                action=action, reason=reason, agent=self.name, ts=now
            )
            if action == "CLOSE" and auto_execute(engine) and view.position_id not in working:
                # One id per position and day: a repeated recommendation is one command.
                engine.execute(
                    ClosePosition(
                        command_id=f"auto-close-{view.position_id}-{engine.clock.today():%Y%m%d}",
                        actor=self.name,
                        issued_at=now,
                        position_id=view.position_id,
                    )
                )
        return bool(views)

    def judge(self, view: PositionView) -> tuple[Action, str]:
        cfg = self.config
        if view.mark_state != "ok" or view.unrealized_pnl is None:
            return "HOLD", f"marks {view.mark_state}: no judgement on an untrusted price"
        dte = view.dte
        if dte is not None and dte <= cfg.close_dte:
            return (
                "CLOSE",
                f"expires in {dte} day{'s' if dte != 1 else ''}: close, don't hold into expiry",
            )
        pnl = view.unrealized_pnl
        cost = view.cost_basis
        if view.max_profit is not None and view.max_profit > 0:
            share = pnl / view.max_profit
            if share >= cfg.profit_target:
                return "CLOSE", f"profit target: {share:.0%} of max profit taken"
        elif view.max_profit is None and cost > 0 and pnl >= cfg.profit_target * cost:
            return "CLOSE", f"profit target: up {pnl / cost:.0%} on the {cost:,.0f} paid"
        if cost < 0 and -pnl >= cfg.credit_stop * -cost:
            return "CLOSE", f"stop: loss is {-pnl / -cost:.1f}x the credit"
        if cost > 0 and -pnl >= cfg.debit_stop * cost:
            return "CLOSE", f"stop: lost {-pnl / cost:.0%} of the debit"
        if dte is not None and dte <= cfg.roll_dte:
            return "ROLL", f"{dte} DTE: roll out to keep time on the trade"
        if view.max_profit:
            progress = f"{pnl / view.max_profit:.0%} of max profit"
        elif cost > 0:
            progress = f"{pnl / cost:+.0%} on the debit"
        else:
            progress = f"P&L {pnl:+,.0f}"
        return "HOLD", f"{progress}, {'no expiry' if dte is None else f'{dte} DTE'}"
