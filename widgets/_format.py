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


def money(value: float | None, decimals: int = 0, *, sign: bool = False) -> str:
    if _bad(value):
        return DASH
    assert value is not None
    text = f"{abs(value):,.{decimals}f}"
    if value < 0 and text.strip("0.,"):
        return f"-{text}"
    return f"+{text}" if sign and text.strip("0.,") else text


def compact(value: float | None, *, sign: bool = False) -> str:
    """12,345 → 12.3k; 3,400,000 → 3.4M: for narrow columns (below 10,000 in full)."""
    if _bad(value):
        return DASH
    assert value is not None
    size = abs(value)
    # Thousands start at 10,000 (so 9,999 stays whole) but are still counted in 1,000s.
    for limit, unit, suffix in ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if size >= limit:
            text = f"{size / unit:.1f}{suffix}"
            break
    else:
        text = f"{size:,.0f}"
    if value < 0 and text != "0":
        return f"-{text}"
    return f"+{text}" if sign and text != "0" else text


def pct(value: float | None, decimals: int = 1, *, sign: bool = True) -> str:
    if _bad(value):
        return DASH
    assert value is not None
    text = f"{value * 100:+.{decimals}f}%" if sign else f"{value * 100:.{decimals}f}%"
    return text.replace("+0.0%", "0.0%").replace("-0.0%", "0.0%")


def num(value: float | None, decimals: int = 2, *, sign: bool = False) -> str:
    if _bad(value):
        return DASH
    assert value is not None
    text = f"{value:+,.{decimals}f}" if sign else f"{value:,.{decimals}f}"
    return text.replace("-0.00", "0.00") if decimals == 2 else text


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
