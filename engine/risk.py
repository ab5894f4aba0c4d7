"""Provides the risk summary: limit use with warning and critical levels, and limit alerts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.records import LimitLevel, RiskLimit, RiskSummary

if TYPE_CHECKING:
    from engine.engine import Engine


def _limit(name: str, value: float, limit: float, warning: float) -> RiskLimit:
    usage = abs(value) / limit if limit > 0 else 0.0
    level: LimitLevel = "critical" if usage >= 1.0 else "warning" if usage >= warning else "ok"
    return RiskLimit(name=name, value=value, limit=limit, usage=usage, level=level)


def risk_summary(engine: Engine) -> RiskSummary:
    cfg = engine.config.risk
    now = engine.now()
    limits: tuple[RiskLimit, ...] = ()
    drawdown = None
    if engine.valuation is not None:
        summary = engine.valuation.summary
        limits = (
            _limit("delta", summary.greeks.delta, cfg.max_abs_delta, cfg.warning_level),
            _limit("vega", summary.greeks.vega, cfg.max_abs_vega, cfg.warning_level),
            _limit("daily loss", max(-summary.day_pnl, 0.0), cfg.max_daily_loss, cfg.warning_level),
            _limit("positions", summary.open_positions, cfg.max_positions, cfg.warning_level),
        )
        if engine.pnl:
            drawdown = min(point.drawdown for point in engine.pnl)
    return RiskSummary(limits=limits, kill_switch=engine.kill_switch, max_drawdown=drawdown, ts=now)


class LimitWatch:
    """Raises an alert when a limit enters warning or critical, once per crossing."""

    def __init__(self) -> None:
        self._levels: dict[str, LimitLevel] = {}

    def check(self, engine: Engine, risk: RiskSummary) -> None:
        for limit in risk.limits:
            before = self._levels.get(limit.name, "ok")
            self._levels[limit.name] = limit.level
            level = limit.level
            if level == "ok":
                continue
            if level == before or (before, level) == ("critical", "warning"):
                continue
            engine.alert(
                level,
                "risk",
                f"LIMIT_{limit.level.upper()}",
                f"{limit.name} at {limit.usage:.0%} of its limit "
                f"({limit.value:,.0f} of {limit.limit:,.0f})",
            )
