"""Provides tests of BSM prices, Greeks and implied volatility against vollib and theory.

Closeness rule for comparisons with vollib: 1e-10 relative, |ours - theirs| <= 1e-10·|theirs|.
An absolute floor applies only where the reference is near zero against the quantity's
natural scale (S for prices, 1 for delta, the at-the-money size of the other Greeks, see
scales()): below 1e-8 of it (deep out-of-the-money prices below 1e-8·S, far-tail Greeks),
the error may be 1e-10 of that threshold, 1e-18 of the scale. Theta is a difference of
carry and decay that can cancel, so both implementations round to some 1e-16 of the terms
there; its floor starts at 1e-5 of its scale (1e-15 of the scale absolute).

Well-posed (for the implied-volatility round trip; mirrors implied_vol's docstring):
T > 0; time value, price - max(±(S·e^{-qT} - K·e^{-rT}), 0), and distance to the upper
bound (S·e^{-qT} for calls, K·e^{-rT} for puts) both >= 1e-6·S; and vega per unit of
volatility (100 × greeks().vega) >= 1e-6·max(S, K).
"""

from __future__ import annotations

import collections
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_lets_be_rational.exceptions import AboveMaximumException, BelowIntrinsicException
from vollib.black_scholes_merton import black_scholes_merton as vollib_price
from vollib.black_scholes_merton.greeks import analytical as vollib_greeks
from vollib.black_scholes_merton.implied_volatility import implied_volatility as vollib_iv
from vollib.helpers.exceptions import PriceIsAboveMaximum, PriceIsBelowIntrinsic

from engine.pricing import MIN_TIME_VALUE, greeks, implied_vol

REL_TOL = 1e-10
NEAR_ZERO = 1e-8
THETA_NEAR_ZERO = 1e-5
ROUND_TRIP_TOL = 1e-9
VOLLIB_REFUSALS = (
    PriceIsBelowIntrinsic,
    PriceIsAboveMaximum,
    BelowIntrinsicException,
    AboveMaximumException,
)
MAX_IV_SKIPS = 0.10
"""Share of sampled options the IV comparison may leave uncompared (measured: about 6%)."""
GREEK_NAMES = ("delta", "gamma", "vega", "theta", "rho")

flags = st.sampled_from(["c", "p"])
spots = st.floats(10.0, 1000.0)
moneyness = st.floats(0.3, 3.0)  # K / S
expiries = st.floats(1.0 / 365.0, 5.0)
rates = st.floats(-0.02, 0.12)
dividends = st.floats(0.0, 0.08)
vols = st.floats(0.05, 1.5)
option = st.tuples(flags, spots, moneyness, expiries, rates, dividends, vols)
books = st.lists(option, min_size=1, max_size=8)


def close(actual: float, expected: float, scale: float, near_zero: float = NEAR_ZERO) -> bool:
    """1e-10 relative, or 1e-10 of ``near_zero``·``scale`` where the reference is below it."""
    return abs(actual - expected) <= REL_TOL * max(abs(expected), near_zero * scale)


def scales(S: float, K: float, T: float, r: float, sigma: float, q: float) -> dict[str, float]:
    """Each quantity's natural size: what it is of the order of at the money."""
    root_t = math.sqrt(T)
    return {
        "price": S,
        "delta": 1.0,
        "gamma": 1.0 / (S * sigma * root_t),
        "vega": S * root_t / 100.0,
        "theta": (S * sigma / (2.0 * root_t) + abs(r) * K + q * S) / 365.0,
        "rho": K * T / 100.0,
    }


def columns(book: list[tuple[str, float, float, float, float, float, float]]) -> tuple:
    flag, S, m, T, r, q, sigma = (np.array(c) for c in zip(*book, strict=True))
    return flag, S, S * m, T, r, q, sigma


def well_posed(price, flag, S, K, T, r, q, vega_per_point):
    spot_disc = S * np.exp(-q * T)
    strike_disc = K * np.exp(-r * T)
    call = np.asarray(flag) == "c"
    intrinsic = np.maximum(np.where(call, spot_disc - strike_disc, strike_disc - spot_disc), 0)
    upper = np.where(call, spot_disc, strike_disc)
    return (
        (T > 0)
        & (price - intrinsic >= MIN_TIME_VALUE * S)
        & (upper - price >= MIN_TIME_VALUE * S)
        & (100.0 * vega_per_point >= 1e-6 * np.maximum(S, K))
    )


# --- greeks() ---------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(books)
def test_greeks_agree_with_vollib(book):
    # Arrange
    flag, S, K, T, r, q, sigma = columns(book)

    # Act
    ours = greeks(flag, S, K, T, r, sigma, q)

    # Assert
    for i, args in enumerate(zip(flag, S, K, T, r, sigma, q, strict=True)):
        args = (str(args[0]), *map(float, args[1:]))
        scale = scales(*args[1:])
        assert close(float(ours.price[i]), vollib_price(*args), scale["price"]), ("price", args)
        for name in GREEK_NAMES:
            theirs = getattr(vollib_greeks, name)(*args)
            floor = THETA_NEAR_ZERO if name == "theta" else NEAR_ZERO
            assert close(float(getattr(ours, name)[i]), theirs, scale[name], floor), (name, args)


def test_the_closeness_rule_is_relative_above_the_floor_and_has_teeth():
    # Arrange: a 1e-9 relative error on an ordinary price, and deep out of the money.
    price = float(greeks("c", 100.0, 100.0, 0.5, 0.03, 0.2).price)
    tiny = float(greeks("c", 100.0, 300.0, 0.1, 0.03, 0.2).price)

    # Assert
    assert close(price * (1 + 0.5e-10), price, 100.0)
    assert not close(price * (1 + 1e-9), price, 100.0)
    assert tiny < NEAR_ZERO * 100.0  # below the floor: absolute 1e-18·S
    assert close(tiny + 1e-17, tiny, 100.0) and not close(tiny + 1e-15, tiny, 100.0)
    # A Greek below one is held to 1e-10 of itself, not to 1e-10 absolute.
    gamma = float(greeks("c", 100.0, 100.0, 0.5, 0.03, 0.2).gamma)
    assert gamma < 0.1 and not close(
        gamma * (1 + 1e-9), gamma, scales(100, 100, 0.5, 0.03, 0.2, 0)["gamma"]
    )


def test_hull_example_prices_to_the_cent():
    # Arrange: Hull, Options, Futures and Other Derivatives, example 15.6.
    args = (42.0, 40.0, 0.5, 0.10, 0.20)

    # Act
    call = float(greeks("c", *args).price)
    put = float(greeks("p", *args).price)

    # Assert
    assert round(call, 2) == 4.76
    assert round(put, 2) == 0.81


@settings(max_examples=300, deadline=None)
@given(books)
def test_greeks_prices_satisfy_put_call_parity(book):
    # Arrange
    _, S, K, T, r, q, sigma = columns(book)

    # Act
    call = greeks("c", S, K, T, r, sigma, q).price
    put = greeks("p", S, K, T, r, sigma, q).price

    # Assert
    forward_gap = S * np.exp(-q * T) - K * np.exp(-r * T)
    np.testing.assert_allclose(call - put, forward_gap, rtol=0, atol=1e-12 * np.max(K + S))


def test_greeks_at_expiry_and_zero_vol_are_the_intrinsic_limit():
    # Arrange: ITM call, OTM call, ITM put, at the money; expired, negative T, zero vol.
    flag = np.array(["c", "c", "p", "c"])
    S = np.array([110.0, 90.0, 90.0, 100.0])
    K = 100.0

    for T, sigma in ((0.0, 0.2), (-0.5, 0.2), (0.0, 0.0)):
        # Act
        g = greeks(flag, S, K, T, 0.05, sigma, 0.02)

        # Assert
        for name in ("price", *GREEK_NAMES):
            assert np.all(np.isfinite(getattr(g, name))), name
        np.testing.assert_allclose(g.price, [10.0, 0.0, 10.0, 0.0])
        np.testing.assert_allclose(g.delta, [1.0, 0.0, -1.0, 0.5])
        np.testing.assert_array_equal(g.gamma, 0.0)
        np.testing.assert_array_equal(g.vega, 0.0)
        np.testing.assert_array_equal(g.theta, 0.0)
        np.testing.assert_array_equal(g.rho, 0.0)


def test_greeks_at_zero_vol_match_the_small_vol_limit():
    # Arrange: strikes away from the forward, where the limit is smooth.
    flag = np.array(["c", "c", "p", "p"])
    K = np.array([80.0, 130.0, 130.0, 80.0])
    args = (100.0, K, 0.75, 0.04)

    # Act
    at_zero = greeks(flag, *args, 0.0, 0.01)
    near_zero = greeks(flag, *args, 1e-6, 0.01)

    # Assert
    for name in ("price", "delta", "theta", "rho"):
        np.testing.assert_allclose(getattr(at_zero, name), getattr(near_zero, name), atol=1e-12)
    assert at_zero.theta[0] != 0.0  # deterministic carry of the in-the-money call


def test_greeks_are_nan_for_invalid_inputs_without_warnings():
    # Arrange
    S = np.array([100.0, np.nan, -1.0, 100.0, 100.0, np.inf, 0.0])
    K = np.array([100.0, 100.0, 100.0, 0.0, 100.0, 100.0, 100.0])
    sigma = np.array([0.2, 0.2, 0.2, 0.2, -0.1, 0.2, 0.2])

    # Act
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = greeks("c", S, K, 0.5, 0.03, sigma)

    # Assert
    for name in ("price", *GREEK_NAMES):
        values = getattr(g, name)
        assert np.isfinite(values[0]), name
        assert np.all(np.isnan(values[1:])), name


def test_greeks_broadcast_and_accept_flag_arrays_in_any_case():
    # Arrange
    flag = np.array([["c"], ["P"]])
    K = np.array([90.0, 100.0, 110.0])

    # Act
    g = greeks(flag, 100.0, K, 0.5, 0.01, 0.3)

    # Assert
    assert g.price.shape == (2, 3)
    for j, strike in enumerate(K):
        assert g.price[0, j] == float(greeks("c", 100.0, strike, 0.5, 0.01, 0.3).price)
        assert g.price[1, j] == float(greeks("p", 100.0, strike, 0.5, 0.01, 0.3).price)


@pytest.mark.parametrize("flag", ["x", "call", "", ["c", "q"], [1, 0], None])
def test_invalid_flags_raise_value_error(flag):
    # Act / Assert
    with pytest.raises(ValueError, match="flag must be 'c' or 'p'"):
        greeks(flag, 100.0, 100.0, 0.5, 0.01, 0.2)
    with pytest.raises(ValueError, match="flag must be 'c' or 'p'"):
        implied_vol(5.0, flag, 100.0, 100.0, 0.5, 0.01)


# --- implied_vol() ----------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(books)
def test_implied_vol_round_trips_well_posed_prices(book):
    # Arrange
    flag, S, K, T, r, q, sigma = columns(book)
    g = greeks(flag, S, K, T, r, sigma, q)
    posed = well_posed(g.price, flag, S, K, T, r, q, g.vega)

    # Act
    iv = implied_vol(g.price, flag, S, K, T, r, q)

    # Assert
    np.testing.assert_array_less(np.abs(iv - sigma)[posed], ROUND_TRIP_TOL)


def test_implied_vol_round_trips_a_dense_grid_of_strikes_expiries_and_vols():
    # Arrange: deep ITM/OTM strikes, one day to five years, 5% to 150% vol.
    m, T, sigma, r, q, call = np.meshgrid(
        np.geomspace(0.3, 3.0, 31),
        np.geomspace(1.0 / 365.0, 5.0, 15),
        np.linspace(0.05, 1.5, 15),
        [-0.01, 0.0, 0.05, 0.1],
        [0.0, 0.03],
        [True, False],
    )
    flag = np.where(call, "c", "p")
    S = 100.0
    K = S * m
    g = greeks(flag, S, K, T, r, sigma, q)
    posed = well_posed(g.price, flag, S, K, T, r, q, g.vega)

    # Act
    iv = implied_vol(g.price, flag, S, K, T, r, q)

    # Assert
    assert posed.mean() > 0.6  # the grid is mostly well-posed, so the check has teeth
    assert np.max(np.abs(iv - sigma)[posed]) <= ROUND_TRIP_TOL
    assert np.all(np.isfinite(iv[posed]))


def compare_with_vollib(flag, S, K, T, r, q, sigma) -> str:
    """Compare our implied vol with vollib's on the price at ``sigma``; say how it went.

    Where vollib refuses the price (below its intrinsic value or above its maximum, to its
    own rounding) ours must be NaN too, or be a volatility that reprices it: vollib could
    not handle the case. Where the price is not well posed the volatility is not pinned to
    1e-9 and is not compared, but ours must still be NaN or reprice it.
    """
    g = greeks(flag, S, K, T, r, sigma, q)
    price = float(g.price)
    ours = float(implied_vol(price, flag, S, K, T, r, q))
    posed = bool(well_posed(price, flag, S, K, T, r, q, g.vega))

    def reprices() -> bool:
        again = float(greeks(flag, S, K, T, r, ours, q).price)
        return math.isfinite(ours) and abs(again - price) <= 1e-8 * max(price, 1e-8 * S)

    try:
        theirs = vollib_iv(price, S, K, T, r, q, flag)
    except VOLLIB_REFUSALS:
        assert math.isnan(ours) or reprices(), ("vollib refused", flag, S, K, T, r, q, sigma)
        return "ours NaN" if math.isnan(ours) else "vollib refused"
    if not posed or not math.isfinite(theirs):
        assert math.isnan(ours) or reprices(), ("not well posed", flag, S, K, T, r, q, sigma)
        return "not well posed"
    assert abs(ours - theirs) <= ROUND_TRIP_TOL, (ours, theirs, flag, S, K, T, r, q, sigma)
    return "compared"


@settings(max_examples=300, deadline=None)
@given(option)
def test_implied_vol_agrees_with_vollib_where_defined(opt):
    flag, S, m, T, r, q, sigma = opt

    compare_with_vollib(flag, S, S * m, T, r, q, sigma)


def test_implied_vol_is_compared_with_vollib_on_nearly_every_option():
    # Arrange: a fixed sample of the same space as the property test above.
    rng = np.random.default_rng(20)
    n = 1_500
    sample = zip(
        rng.choice(["c", "p"], n),
        rng.uniform(10.0, 1000.0, n),
        rng.uniform(0.3, 3.0, n),
        rng.uniform(1.0 / 365.0, 5.0, n),
        rng.uniform(-0.02, 0.12, n),
        rng.uniform(0.0, 0.08, n),
        rng.uniform(0.05, 1.5, n),
        strict=True,
    )

    # Act
    outcomes = collections.Counter(
        compare_with_vollib(str(f), S, S * m, T, r, q, sigma) for f, S, m, T, r, q, sigma in sample
    )

    # Assert: the cases left uncompared stay rare.
    skipped = n - outcomes["compared"] - outcomes["ours NaN"]
    assert skipped <= MAX_IV_SKIPS * n, outcomes
    assert outcomes["vollib refused"] <= 0.01 * n, outcomes


def test_implied_vol_is_nan_for_prices_without_a_volatility():
    # Arrange: S=100, K=100, T=0.5, r=5%, q=0; bounds 0 + intrinsic .. S·e^{-qT} = 100.
    S, K, T, r = 100.0, 100.0, 0.5, 0.05
    strike_disc = K * math.exp(-r * T)
    intrinsic = S - strike_disc
    cases = {
        "below intrinsic": ("c", intrinsic - 0.01, T),
        "at intrinsic": ("c", intrinsic, T),
        "tiny time value": ("c", intrinsic + 1e-7, T),
        "above upper bound": ("c", 100.5, T),
        "at upper bound": ("c", 100.0, T),
        "put above discounted strike": ("p", strike_disc + 0.01, T),
        "zero price": ("p", 0.0, T),
        "negative price": ("p", -1.0, T),
        "zero expiry": ("c", 5.0, 0.0),
        "negative expiry": ("c", 5.0, -0.25),
        "nan price": ("c", np.nan, T),
        "inf price": ("c", np.inf, T),
    }

    for name, (flag, price, expiry) in cases.items():
        # Act
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            iv = implied_vol(price, flag, S, K, expiry, r)

        # Assert
        assert np.isnan(iv), name


@pytest.mark.parametrize(
    ("S", "K", "r", "q"),
    [
        (np.nan, 100.0, 0.05, 0.0),
        (np.inf, 100.0, 0.05, 0.0),
        (100.0, np.nan, 0.05, 0.0),
        (100.0, -np.inf, 0.05, 0.0),
        (-100.0, 100.0, 0.05, 0.0),
        (0.0, 100.0, 0.05, 0.0),
        (100.0, 0.0, 0.05, 0.0),
        (100.0, 100.0, np.nan, 0.0),
        (100.0, 100.0, 0.05, np.inf),
    ],
)
def test_implied_vol_is_nan_for_non_finite_or_non_positive_inputs(S, K, r, q):
    # Act
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        iv = implied_vol(5.0, "c", S, K, 0.5, r, q)

    # Assert
    assert np.isnan(iv)


def test_implied_vol_solves_good_elements_next_to_bad_ones():
    # Arrange
    good = greeks("c", 100.0, 105.0, 0.25, 0.03, 0.35, 0.01).price
    price = np.array([good, -1.0, good, np.nan, good, 1e9, good, 0.0, good])
    T = np.array([0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25])
    T[4] = -1.0  # a bad expiry for a good price

    # Act
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        iv = implied_vol(price, "c", 100.0, 105.0, T, 0.03, 0.01)

    # Assert
    np.testing.assert_allclose(iv[[0, 2, 6, 8]], 0.35, rtol=0, atol=1e-12)
    assert np.all(np.isnan(iv[[1, 3, 4, 5, 7]]))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            flags,
            st.floats(allow_nan=True, allow_infinity=True),
            st.floats(allow_nan=True, allow_infinity=True),
            st.floats(allow_nan=True, allow_infinity=True),
            st.floats(allow_nan=True, allow_infinity=True),
            st.floats(allow_nan=True, allow_infinity=True),
            st.floats(allow_nan=True, allow_infinity=True),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_implied_vol_never_raises_or_warns_on_arbitrary_floats(rows):
    # Arrange
    flag, price, S, K, T, r, q = (np.array(c) for c in zip(*rows, strict=True))

    # Act
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        iv = implied_vol(price, flag, S, K, T, r, q)

    # Assert: a number is only ever a volatility reproducing the price.
    solved = np.isfinite(iv)
    assert np.all(iv[solved] > 0)
    repriced = greeks(
        flag[solved], S[solved], K[solved], T[solved], r[solved], iv[solved], q[solved]
    )
    np.testing.assert_allclose(repriced.price, price[solved], rtol=1e-8)


def test_implied_vol_broadcasts_over_strikes_and_flag_arrays():
    # Arrange
    K = np.array([80.0, 100.0, 125.0])
    flag = np.array([["c"], ["p"]])
    sigma = np.array([[0.2], [0.45]])
    price = greeks(flag, 100.0, K, 0.5, 0.02, sigma, 0.01).price

    # Act
    iv = implied_vol(price, flag, 100.0, K, 0.5, 0.02, 0.01)

    # Assert
    assert iv.shape == (2, 3)
    np.testing.assert_allclose(iv, np.broadcast_to(sigma, (2, 3)), rtol=0, atol=1e-12)


def test_implied_vol_of_a_scalar_is_a_zero_dimensional_array():
    # Arrange
    price = float(greeks("p", 100.0, 95.0, 1.0, 0.04, 0.25).price)

    # Act
    iv = implied_vol(price, "p", 100.0, 95.0, 1.0, 0.04)

    # Assert
    assert iv.shape == ()
    assert abs(float(iv) - 0.25) <= 1e-12
