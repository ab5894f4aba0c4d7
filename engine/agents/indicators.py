"""Provides technical indicators on numpy arrays: moving averages and Wilder's RSI."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


def sma(values: F64, period: int) -> F64:
    """Simple moving average; NaN until ``period`` values are in."""
    out = np.full(values.shape, np.nan)
    if values.size >= period:
        csum = np.cumsum(np.insert(values, 0, 0.0))
        out[period - 1 :] = (csum[period:] - csum[:-period]) / period
    return out


def rsi(closes: F64, period: int = 14) -> float | None:
    """Wilder's RSI of the last close, or None without enough history."""
    if closes.size <= period:
        return None
    change = np.diff(closes)
    gain = np.clip(change, 0, None)
    loss = np.clip(-change, 0, None)
    avg_gain = gain[:period].mean()
    avg_loss = loss[:period].mean()
    for up, down in zip(gain[period:], loss[period:], strict=True):
        avg_gain = (avg_gain * (period - 1) + up) / period
        avg_loss = (avg_loss * (period - 1) + down) / period
    if avg_loss == 0:
        return 100.0 if avg_gain > 0 else 50.0
    return float(100.0 - 100.0 / (1.0 + avg_gain / avg_loss))
