"""Provides the technical scanner: moving-average crosses, RSI extremes, volume breakouts.

Signals are computed on daily bars whose last bar is today's, still forming; each kind of
signal fires at most once per symbol per trading day so the feed does not repeat itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from engine.agents.base import Agent
from engine.agents.indicators import rsi, sma
from engine.clock import EXCHANGE_TZ, to_datetime
from engine.config import ScannerConfig
from engine.records import Direction, Signal

if TYPE_CHECKING:
    import datetime as dt

    from engine.engine import Engine

_SESSION_MINUTES = 390.0


class TechnicalScanner(Agent):
    kind = "scanner"

    def __init__(self, config: ScannerConfig, name: str = "technical") -> None:
        super().__init__(name, config.interval_s, enabled=config.enabled)
        self.config = config
        self._fired: dict[tuple[str, str], dt.date] = {}
        self._count = 0

    def cycle(self, engine: Engine) -> bool:
        now = engine.now()
        if not engine.market.session_open(now):
            return False
        today = engine.clock.today()
        for symbol in engine.market.symbols:
            for kind, direction, confidence, text, inputs in self._scan(engine, symbol, now):
                if self._fired.get((symbol, kind)) == today:
                    continue
                self._fired[(symbol, kind)] = today
                self._count += 1
                self.emit(
                    engine,
                    Signal(
                        signal_id=f"{self.name[:3].upper()}-{today:%y%m%d}-{self._count:04d}",
                        ts=now,
                        agent=self.name,
                        symbol=symbol,
                        kind=kind,
                        direction=direction,
                        # numpy scalars do not encode: the journal takes plain floats only.
                        confidence=round(float(confidence), 3),
                        description=text,
                        inputs={k: float(v) for k, v in inputs.items()},
                    ),
                )
        return True

    def _scan(
        self, engine: Engine, symbol: str, now: int
    ) -> list[tuple[str, Direction, float, str, dict[str, float]]]:
        cfg = self.config
        bars = engine.market.daily_bars(symbol)
        closes = bars.close
        found: list[tuple[str, Direction, float, str, dict[str, float]]] = []
        if len(bars) < max(cfg.ma_slow, cfg.breakout_lookback) + 2:
            return found
        fast = sma(closes, cfg.ma_fast)
        slow = sma(closes, cfg.ma_slow)
        diff_now, diff_before = fast[-1] - slow[-1], fast[-2] - slow[-2]
        inputs = {
            "close": float(closes[-1]),
            f"sma{cfg.ma_fast}": float(fast[-1]),
            f"sma{cfg.ma_slow}": float(slow[-1]),
        }
        if diff_now > 0 >= diff_before or diff_now < 0 <= diff_before:
            up = diff_now > 0
            gap = abs(diff_now) / slow[-1]
            found.append(
                (
                    "ma_cross",
                    "bullish" if up else "bearish",
                    min(0.55 + gap * 20, 0.85),
                    f"SMA{cfg.ma_fast} crossed {'above' if up else 'below'} SMA{cfg.ma_slow}",
                    inputs,
                )
            )
        value = rsi(closes, cfg.rsi_period)
        if value is not None and (value <= cfg.rsi_low or value >= cfg.rsi_high):
            low = value <= cfg.rsi_low
            depth = (cfg.rsi_low - value) if low else (value - cfg.rsi_high)
            found.append(
                (
                    "rsi_extreme",
                    "bullish" if low else "bearish",
                    min(0.5 + depth / 40, 0.8),
                    f"RSI({cfg.rsi_period}) {value:.0f}: {'oversold' if low else 'overbought'}",
                    {"rsi": value, "close": float(closes[-1])},
                )
            )
        lookback = cfg.breakout_lookback
        prior_high = float(np.max(bars.high[-lookback - 1 : -1]))
        prior_low = float(np.min(bars.low[-lookback - 1 : -1]))
        avg_volume = float(np.mean(bars.volume[-lookback - 1 : -1]))
        projected = float(bars.volume[-1]) / max(self._session_fraction(now), 0.05)
        ratio = projected / avg_volume if avg_volume > 0 else 0.0
        if ratio >= cfg.breakout_volume and (closes[-1] > prior_high or closes[-1] < prior_low):
            up = closes[-1] > prior_high
            level = prior_high if up else prior_low
            found.append(
                (
                    "breakout",
                    "bullish" if up else "bearish",
                    min(0.6 + (ratio - cfg.breakout_volume) / 5, 0.9),
                    f"{'broke above' if up else 'broke below'} the {lookback}-day "
                    f"{'high' if up else 'low'} {level:.2f} on {ratio:.1f}x volume",
                    {"close": float(closes[-1]), "level": level, "volume_ratio": ratio},
                )
            )
        return found

    @staticmethod
    def _session_fraction(now: int) -> float:
        local = to_datetime(now).astimezone(EXCHANGE_TZ)
        minutes = (local.hour - 9) * 60 + local.minute - 30
        return min(max(minutes / _SESSION_MINUTES, 0.0), 1.0)
