"""Provides vectorized Black-Scholes-Merton implied volatility that is NaN where none exists."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.pricing.bsm import (
    ArrayLike,
    BoolArray,
    FloatArray,
    all_finite,
    broadcast_flat,
    chunks,
    is_call,
)
from engine.pricing.normalised import normalised_implied_vol

MIN_TIME_VALUE = 1e-6
"""Time value below this fraction of spot carries no usable volatility information."""


def implied_vol(
    price: ArrayLike,
    flag: Any,
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike,
    q: ArrayLike = 0.0,
) -> FloatArray:
    """Annual BSM volatility reproducing each option price, NaN where no volatility does.

    Inputs broadcast against each other, as for greeks(); flag is 'c'/'p' or an array of
    them (a bad flag raises ValueError). An element is NaN, never an exception or a warning,
    when any input is non-finite, price, S or K is not positive, T <= 0, or the price is
    within MIN_TIME_VALUE·S of either no-arbitrage bound: its time value
    price - max(±(S·e^{-qT} - K·e^{-rT}), 0) is below MIN_TIME_VALUE·S (which includes
    every price below the discounted intrinsic value), or it is less than MIN_TIME_VALUE·S
    below its upper bound (S·e^{-qT} for a call, K·e^{-rT} for a put).

    Well-posed inputs are the others with vega per unit of volatility (dprice/dsigma, that
    is 100 × greeks().vega) >= 1e-6·max(S, K). There sigma reproduces the price to better
    than 1e-9: a price carries about 5e-16·max(S, K) of rounding error, which that vega
    turns into at most 5e-10 of volatility; the solver itself converges to about 1e-12.
    Elsewhere the result is still the inverse of the price given, but the price no longer
    pins it down to 1e-9.

    Method (see engine.pricing.normalised): the time value is the price of the
    out-of-the-money option, so prices are reduced to it (put-call parity) and normalised
    by D·sqrt(FK) into Black form with x = -|ln(F/K)| and s = sigma·sqrt(T); in-the-money
    prices thereby lose nothing to their intrinsic part beyond its rounding.
    """
    call = is_call(flag)
    inputs = [np.asarray(x, dtype=np.float64) for x in (price, S, K, T, r, q)]
    shape, flat = broadcast_flat(call, *inputs)
    sigma = np.empty(flat[0].size)
    with np.errstate(all="ignore"):
        for chunk in chunks(sigma.size):
            sigma[chunk] = _implied_vol_chunk(*(a[chunk] for a in flat))
    return sigma.reshape(shape)


def _implied_vol_chunk(
    call: BoolArray,
    price: FloatArray,
    S: FloatArray,
    K: FloatArray,
    T: FloatArray,
    r: FloatArray,
    q: FloatArray,
) -> FloatArray:
    spot_disc = S * np.exp(-q * T)
    strike_disc = K * np.exp(-r * T)
    forward_gap = spot_disc - strike_disc
    intrinsic = np.maximum(np.where(call, forward_gap, -forward_gap), 0.0)
    time_value = price - intrinsic
    solvable = (
        all_finite(price, S, K, T, r, q, spot_disc, strike_disc)
        & (S > 0)
        & (K > 0)
        & (T > 0)
        & (np.where(call, spot_disc, strike_disc) - price >= MIN_TIME_VALUE * S)
        & (time_value >= MIN_TIME_VALUE * S)
    )
    sigma = np.full(price.shape, np.nan)
    idx = np.flatnonzero(solvable)
    T_s = T[idx]
    x = np.log(S[idx] / K[idx]) + (r[idx] - q[idx]) * T_s
    # Normalising by D·sqrt(FK) = K·e^{-rT}·e^{x/2} makes the time value the price of the
    # out-of-the-money option, a call at -|x| by put-call symmetry.
    beta = time_value[idx] / (strike_disc[idx] * np.exp(0.5 * x))
    sigma[idx] = normalised_implied_vol(-np.abs(x), beta) / np.sqrt(T_s)
    return sigma
