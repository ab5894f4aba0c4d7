"""Property tests for the panes' number formatting (widgets/_format.py).

Whatever the engine sends, a pane never prints "nan" or "inf", never a signed zero
("+0", "-0", "−0", "+0.00%"), and prints an em dash for a value it cannot trust.
"""

from __future__ import annotations

import math
import re

from hypothesis import example, given
from hypothesis import strategies as st

from widgets import _format as fmt

SIGNED_ZERO = re.compile(r"[+\-−]0*(?:[.,]0*)*[%kMB]?")
DECIMALS = st.integers(min_value=0, max_value=4)
FINITE = st.floats(allow_nan=False, allow_infinity=False)
UNTRUSTED = st.sampled_from([None, math.nan, -math.nan, math.inf, -math.inf])


def _formatters(value: float | None, decimals: int, sign: bool) -> dict[str, str]:
    return {
        "money": fmt.money(value, decimals, sign=sign),
        "num": fmt.num(value, decimals, sign=sign),
        "pct": fmt.pct(value, decimals, sign=sign),
        "compact": fmt.compact(value, sign=sign),
        "price": fmt.price(value),
    }


@given(st.one_of(FINITE, UNTRUSTED), DECIMALS, st.booleans())
@example(0.0, 0, True)
@example(-0.0, 0, True)
@example(-0.4, 0, False)
@example(0.4, 0, True)
@example(-0.004, 2, True)
@example(-0.000004, 1, True)
@example(-0.3, 0, True)
@example(None, 0, True)
@example(math.nan, 2, False)
@example(-math.inf, 1, True)
def test_no_formatter_prints_nan_or_a_signed_zero_and_untrusted_values_are_a_dash(
    value, decimals, sign
):
    for name, text in _formatters(value, decimals, sign).items():
        if value is None or not math.isfinite(value):
            assert text == fmt.DASH, (name, value, text)
            continue
        assert "nan" not in text.lower() and "inf" not in text.lower(), (name, value, text)
        assert not SIGNED_ZERO.fullmatch(text), (name, value, decimals, text)
    if value is None or not math.isfinite(value):
        assert fmt.duration(value) == fmt.DASH
        assert fmt.tone(value) == "flat"


@given(FINITE, DECIMALS)
def test_a_value_that_does_not_round_to_zero_keeps_its_sign(value, decimals):
    text = fmt.num(value, decimals, sign=True)
    if round(abs(value), decimals) == 0 or text.strip("0.,") == "":
        assert text[0].isdigit(), text
    elif value < 0:
        assert text.startswith("-"), text
    else:
        assert text.startswith("+"), text


def test_the_close_and_roll_dialogs_before_and_after_figures_print_zero_plainly():
    # The dialogs print Greeks before → after with num(..., sign=True): a flat leg was "+0".
    assert fmt.num(0.0, 0, sign=True) == "0"
    assert fmt.num(-0.2, 0, sign=True) == "0"
    assert fmt.num(0.3, 1, sign=True) == "+0.3"
    assert fmt.num(-1234.56, 0, sign=True) == "-1,235"
    assert fmt.pct(-0.00001, 0) == "0%"
    assert fmt.compact(-0.4, sign=True) == "0"


@given(st.floats(min_value=0, max_value=1e15))
@example(999_960.0)
@example(999_999_999.0)
def test_compact_never_shows_a_thousand_of_a_unit(value):
    text = fmt.compact(value)
    number = re.match(r"[\d,.]+", text)
    assert number is not None, text
    if text[-1] in "kMB" and text[-1] != "B":
        assert float(number[0]) < 1000, text
