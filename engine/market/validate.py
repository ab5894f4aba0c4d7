"""Provides ingestion checks every market source applies to raw prices before using them.

Feeds send garbage: NaN, infinities, zero or negative prices, crossed books, and Interactive
Brokers' sentinels (-1 and -2 for "no price", and the largest double,
1.7976931348623157e308, for "unset"). A rejected quote is counted under
``quotes_rejected_<code>`` and leaves the last good quote in place, so it goes stale
rather than wrong.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

SENTINEL_FLOOR = 1e300
"""Anything this large is IB's 'unset' double, not a price."""
PLAUSIBLE_CEILING = 1e7
"""No listed stock or option trades at ten million dollars: a finite price above it is a
corrupted field, not a quote."""
IB_SENTINELS = (-1.0, -2.0)

CODES = ("missing", "nan", "inf", "sentinel", "implausible", "negative", "zero", "crossed")
"""Rejection codes, in the order they are checked; array results use index + 1."""

_DESCRIPTIONS = {
    "missing": "is missing",
    "nan": "is NaN",
    "inf": "is infinite",
    "sentinel": "is a feed sentinel, not a price",
    "implausible": f"is above {PLAUSIBLE_CEILING:,.0f}: a corrupted field, not a price",
    "negative": "is negative",
    "zero": "is zero",
}


class Rejection(NamedTuple):
    code: str
    """One of :data:`CODES`."""
    reason: str
    """For a human: which field and why."""

    @property
    def counter(self) -> str:
        return f"quotes_rejected_{self.code}"


def price_code(value: float | None, *, allow_zero: bool = False) -> str | None:
    """Why ``value`` is not a usable price, or None when it is one."""
    if value is None:
        return "missing"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "nan"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf"
    if value in IB_SENTINELS or value >= SENTINEL_FLOOR:
        return "sentinel"
    if value > PLAUSIBLE_CEILING:
        return "implausible"
    if value < 0:
        return "negative"
    if value == 0 and not allow_zero:
        return "zero"
    return None


def validate_quote(
    bid: float | None,
    ask: float | None,
    last: float | None,
    *,
    allow_zero_bid: bool = False,
    require_last: bool = True,
) -> Rejection | None:
    """Check a raw top of book. Options may pass ``allow_zero_bid`` (no bid is a real bid)."""
    fields: list[tuple[str, float | None, bool]] = [
        ("bid", bid, allow_zero_bid),
        ("ask", ask, False),
    ]
    if require_last or last is not None:
        fields.append(("last", last, False))
    for name, value, allow_zero in fields:
        code = price_code(value, allow_zero=allow_zero)
        if code is not None:
            return Rejection(code, f"{name} {value!r} {_DESCRIPTIONS[code]}")
    assert bid is not None and ask is not None
    if bid > ask:
        return Rejection("crossed", f"crossed book: bid {bid!r} > ask {ask!r}")
    return None


def count(counters: dict[str, int], rejection: Rejection) -> None:
    counters[rejection.counter] = counters.get(rejection.counter, 0) + 1


def empty_counters() -> dict[str, int]:
    """Every rejection counter at zero, so a dashboard shows them before the first one."""
    return {f"quotes_rejected_{code}": 0 for code in CODES}


def price_codes(
    values: npt.NDArray[np.float64], *, allow_zero: bool = False
) -> npt.NDArray[np.uint8]:
    """Vectorized :func:`price_code`: 0 for a good price, else 1 + index into CODES."""
    codes = np.zeros(values.shape, dtype=np.uint8)
    with np.errstate(invalid="ignore"):
        nan = np.isnan(values)
        inf = np.isinf(values)
        sentinel = ~nan & ~inf & ((values == -1.0) | (values == -2.0) | (values >= SENTINEL_FLOOR))
        implausible = ~sentinel & ~inf & (values > PLAUSIBLE_CEILING)
        negative = values < 0
        zero = values == 0
    # Assign from the weakest to the strongest reason so the first matching check wins.
    if not allow_zero:
        codes[zero] = CODES.index("zero") + 1
    codes[negative] = CODES.index("negative") + 1
    codes[implausible] = CODES.index("implausible") + 1
    codes[sentinel] = CODES.index("sentinel") + 1
    codes[inf] = CODES.index("inf") + 1
    codes[nan] = CODES.index("nan") + 1
    return codes


def quote_codes(
    bid: npt.NDArray[np.float64],
    ask: npt.NDArray[np.float64],
    last: npt.NDArray[np.float64] | None = None,
    *,
    allow_zero_bid: bool = False,
) -> npt.NDArray[np.uint8]:
    """Vectorized :func:`validate_quote`: 0 where the quote is good, else 1 + CODES index."""
    codes = price_codes(bid, allow_zero=allow_zero_bid)
    for other in (ask, last):
        if other is None:
            continue
        more = price_codes(other)
        codes = np.where(codes == 0, more, codes)
    with np.errstate(invalid="ignore"):
        crossed = (codes == 0) & (bid > ask)
    codes[crossed] = CODES.index("crossed") + 1
    return codes


def count_codes(counters: dict[str, int], codes: npt.NDArray[np.uint8]) -> None:
    """Add the rejections in a code array to ``counters``."""
    if not codes.any():
        return
    for value, n in zip(*np.unique(codes[codes > 0], return_counts=True), strict=True):
        key = f"quotes_rejected_{CODES[int(value) - 1]}"
        counters[key] = counters.get(key, 0) + int(n)
