"""Provides the technical scanner's rules: pure functions from bars to findings.

Daily rules read daily bars whose last bar is today's, still forming: a cross of the fast
and slow simple moving averages, Wilder's RSI at an extreme, and a close beyond the
lookback's high or low on volume (today's volume projected to the full session). Intraday
rules read the same cross and RSI on intraday bars whose last bar is forming, plus the
opening-range breakout: a close beyond the session's first bar. An intraday finding is
held to be weaker than the daily one, so its confidence is capped lower. Each finding says
what fired, which way, how confident the rule is, and the numbers it saw.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from engine.agents.indicators import rsi, sma
from engine.config import ScannerConfig
from engine.market.base import Bars
from engine.records import Direction


class Finding(NamedTuple):
    kind: str
    direction: Direction
    confidence: float
    description: str
    inputs: dict[str, float]


def daily_findings(bars: Bars, cfg: ScannerConfig, session_fraction: float) -> list[Finding]:
    """What the daily bars show now; ``session_fraction`` is how much of today has traded."""
    if len(bars) < max(cfg.ma_slow, cfg.breakout_lookback) + 2:
        return []
    found = [f for f in (_ma_cross(bars.close, cfg, ""), _rsi_extreme(bars.close, cfg, "")) if f]
    breakout = _breakout(bars, cfg, session_fraction)
    if breakout is not None:
        found.append(breakout)
    return found


def intraday_findings(bars: Bars, today: int, cfg: ScannerConfig, minutes: int) -> list[Finding]:
    """What ``minutes``-minute bars show now, ``today`` being how many of the last bars are
    today's: the moving-average cross, the RSI extreme and the opening-range breakout."""
    label = f"{minutes}m"
    found = [_opening_range_breakout(bars, today, label)]
    if len(bars) >= cfg.ma_slow + 2:
        found += [_ma_cross(bars.close, cfg, label), _rsi_extreme(bars.close, cfg, label)]
    return [f for f in found if f is not None]


def _opening_range_breakout(bars: Bars, today: int, label: str) -> Finding | None:
    """The last close beyond the range of the session's first bar, once that bar is done."""
    if today < 2:
        return None
    first = len(bars) - today
    high, low = float(bars.high[first]), float(bars.low[first])
    close = float(bars.close[-1])
    if low <= close <= high or high <= low:
        return None
    up = close > high
    level = high if up else low
    beyond = (close - high if up else low - close) / (high - low)
    return Finding(
        f"orb_{label}",
        "bullish" if up else "bearish",
        min(0.5 + beyond * 0.1, 0.65),
        f"broke {'above' if up else 'below'} the {label} opening range "
        f"{'high' if up else 'low'} {level:.2f}",
        {"close": close, "range_high": high, "range_low": low},
    )


def _ma_cross(closes: np.ndarray, cfg: ScannerConfig, label: str) -> Finding | None:
    fast = sma(closes, cfg.ma_fast)
    slow = sma(closes, cfg.ma_slow)
    now, before = fast[-1] - slow[-1], fast[-2] - slow[-2]
    if not (now > 0 >= before or now < 0 <= before):
        return None
    up = now > 0
    gap = abs(now) / slow[-1]
    # An intraday cross is a weaker, shorter-lived statement than a daily one.
    base, scale, cap = (0.55, 20.0, 0.85) if not label else (0.5, 100.0, 0.7)
    bars = f"{label} " if label else ""
    return Finding(
        f"ma_cross_{label}" if label else "ma_cross",
        "bullish" if up else "bearish",
        min(base + gap * scale, cap),
        f"{bars}SMA{cfg.ma_fast} crossed {'above' if up else 'below'} SMA{cfg.ma_slow}",
        {
            "close": float(closes[-1]),
            f"sma{cfg.ma_fast}": float(fast[-1]),
            f"sma{cfg.ma_slow}": float(slow[-1]),
        },
    )


def _rsi_extreme(closes: np.ndarray, cfg: ScannerConfig, label: str) -> Finding | None:
    value = rsi(closes, cfg.rsi_period)
    if value is None or cfg.rsi_low < value < cfg.rsi_high:
        return None
    low = value <= cfg.rsi_low
    depth = (cfg.rsi_low - value) if low else (value - cfg.rsi_high)
    base, cap = (0.5, 0.8) if not label else (0.45, 0.7)
    bars = f"{label} " if label else ""
    return Finding(
        f"rsi_{label}" if label else "rsi_extreme",
        "bullish" if low else "bearish",
        min(base + depth / 40, cap),
        f"{bars}RSI({cfg.rsi_period}) {value:.0f}: {'oversold' if low else 'overbought'}",
        {"rsi": value, "close": float(closes[-1])},
    )


def _breakout(bars: Bars, cfg: ScannerConfig, session_fraction: float) -> Finding | None:
    lookback = cfg.breakout_lookback
    close = float(bars.close[-1])
    prior_high = float(np.max(bars.high[-lookback - 1 : -1]))
    prior_low = float(np.min(bars.low[-lookback - 1 : -1]))
    avg_volume = float(np.mean(bars.volume[-lookback - 1 : -1]))
    # Early in the day volume is projected from a sliver of the session: not under 5% of it.
    projected = float(bars.volume[-1]) / max(session_fraction, 0.05)
    ratio = projected / avg_volume if avg_volume > 0 else 0.0
    if ratio < cfg.breakout_volume or prior_low <= close <= prior_high:
        return None
    up = close > prior_high
    level = prior_high if up else prior_low
    return Finding(
        "breakout",
        "bullish" if up else "bearish",
        min(0.6 + (ratio - cfg.breakout_volume) / 5, 0.9),
        f"{'broke above' if up else 'broke below'} the {lookback}-day "
        f"{'high' if up else 'low'} {level:.2f} on {ratio:.1f}x volume",
        {"close": close, "level": level, "volume_ratio": ratio},
    )


def resample(bars: Bars, minutes: int) -> Bars:
    """Minute bars grouped into ``minutes``-minute bars aligned to the clock (09:30, 09:35…)."""
    if not len(bars) or minutes <= 1:
        return bars
    bucket = bars.date.astype("datetime64[m]").astype(np.int64) // minutes
    starts = np.flatnonzero(np.concatenate([[True], bucket[1:] != bucket[:-1]]))
    ends = np.append(starts[1:], len(bars)) - 1
    return Bars(
        date=(bucket[starts] * minutes).astype("datetime64[m]"),
        open=bars.open[starts],
        high=np.maximum.reduceat(bars.high, starts),
        low=np.minimum.reduceat(bars.low, starts),
        close=bars.close[ends],
        volume=np.add.reduceat(bars.volume, starts),
    )
