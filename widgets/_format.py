"""Provides number formatting for the panes: never NaN, never a raw float, always a unit.

Every function takes ``None`` (and NaN) and returns an em dash, so a pane cannot print a
value the engine could not trust.
"""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

DASH = "—"
ET = ZoneInfo("America/New_York")


def _bad(value: float | None) -> bool:
    return value is None or not math.isfinite(value)


def _signed(magnitude: str, value: float, sign: bool) -> str:
    """``magnitude`` (the printed absolute value) with its sign, except that a value that
    rounds to zero at the printed precision is plain "0": "-0" or "+0" would tell the
    trader a direction that is not there."""
    if not magnitude.strip("0.,%"):
        return magnitude
    if value < 0:
        return f"-{magnitude}"
    return f"+{magnitude}" if sign else magnitude


def money(value: float | None, decimals: int = 0, *, sign: bool = False) -> str:
    if _bad(value):
        return DASH
    assert value is not None
    return _signed(f"{abs(value):,.{decimals}f}", value, sign)


def compact(value: float | None, *, sign: bool = False) -> str:
    """12,345 → 12.3k; 3,400,000 → 3.4M: for narrow columns (below 10,000 in full)."""
    if _bad(value):
        return DASH
    assert value is not None
    size = abs(value)
    # Thousands start at 10,000 (so 9,999 stays whole) but are still counted in 1,000s.
    # Scaled values are rounded before the unit is chosen: 999,960 is 1.0M, not 1000.0k.
    for unit, suffix, least in ((1e9, "B", 1.0), (1e6, "M", 1.0), (1e3, "k", 10.0)):
        scaled = round(size / unit, 1)
        if scaled >= least:
            text = f"{scaled:.1f}{suffix}"
            break
    else:
        text = f"{size:,.0f}"
    return _signed(text, value, sign)


def pct(value: float | None, decimals: int = 1, *, sign: bool = True) -> str:
    if _bad(value):
        return DASH
    assert value is not None
    percent = abs(value) * 100
    if not math.isfinite(percent):
        return DASH  # a ratio near the float limit overflows when scaled
    return _signed(f"{percent:.{decimals}f}%", value, sign)


def num(value: float | None, decimals: int = 2, *, sign: bool = False) -> str:
    if _bad(value):
        return DASH
    assert value is not None
    return _signed(f"{abs(value):,.{decimals}f}", value, sign)


def price(value: float | None) -> str:
    return num(value, 2)


def tone(value: float | None) -> str:
    """The colour class for a signed amount: up, down or flat."""
    if _bad(value) or value == 0:
        return "flat"
    assert value is not None
    return "up" if value > 0 else "down"


def clock(ns: int | None, *, seconds: bool = True) -> str:
    """Engine time as New York wall time."""
    if ns is None or ns <= 0:
        return DASH
    moment = dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).astimezone(ET)
    return moment.strftime("%H:%M:%S" if seconds else "%H:%M")


def stamp(ns: int | None) -> str:
    if ns is None or ns <= 0:
        return DASH
    moment = dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).astimezone(ET)
    return moment.strftime("%Y-%m-%d %H:%M:%S ET")


def duration(seconds: float | None) -> str:
    """3s, 4m05s, 2h10m: for ages and countdowns."""
    if seconds is None or not math.isfinite(seconds):
        return DASH
    s = max(int(seconds), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def sparkline(values: list[float], width: int) -> str:
    """A unicode sparkline of the last ``width`` values (blank when flat or empty)."""
    blocks = "▁▂▃▄▅▆▇█"
    data = [v for v in values if math.isfinite(v)][-width:]
    if not data:
        return ""
    low, high = min(data), max(data)
    if high - low < 1e-12:
        return blocks[3] * len(data)
    return "".join(blocks[int((v - low) / (high - low) * (len(blocks) - 1))] for v in data)
