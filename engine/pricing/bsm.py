"""Provides vectorized Black-Scholes-Merton prices and Greeks in vollib's units."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

DAYS_PER_YEAR = 365.0
_INV_SQRT_2PI = 0.3989422804014327


class GreeksArrays(msgspec.Struct, frozen=True):
    """Per-option price and Greeks: theta per calendar day, vega and rho per point."""

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray
    rho: FloatArray


def is_call(flag: Any) -> npt.NDArray[np.bool_]:
    """'c'/'p' (any case), or an array of them, as a boolean array: True for calls."""
    flags = np.asarray(flag)
    if flags.dtype.kind not in "UO":
        raise ValueError("flag must be 'c' or 'p', or an array of them")
    lowered = np.char.lower(flags.astype(str))
    bad = (lowered != "c") & (lowered != "p")
    if np.any(bad):
        raise ValueError(f"flag must be 'c' or 'p', got {np.unique(flags[bad])[:3].tolist()}")
    return np.asarray(lowered == "c")


def greeks(
    flag: Any,
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike,
    sigma: ArrayLike,
    q: ArrayLike = 0.0,
) -> GreeksArrays:
    """Price and Greeks of European options under BSM with a continuous dividend yield.

    Inputs broadcast against each other. Where T <= 0 or sigma <= 0 the option is priced
    at its discounted intrinsic value with a step delta and zero gamma and vega, which is
    the limit of the formulas rather than a NaN.
    """
    call = is_call(flag)
    S_, K_, T_, r_, v_, q_ = (np.asarray(x, dtype=np.float64) for x in (S, K, T, r, sigma, q))
    call, S_, K_, T_, r_, v_, q_ = np.broadcast_arrays(call, S_, K_, T_, r_, v_, q_)
    sign = np.where(call, 1.0, -1.0)

    live = (T_ > 0) & (v_ > 0)
    t = np.where(live, T_, 1.0)
    vol = np.where(live, v_, 1.0)
    sqrt_t = np.sqrt(t)
    vst = vol * sqrt_t
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = (np.log(S_ / K_) + (r_ - q_ + 0.5 * vol * vol) * t) / vst
    d2 = d1 - vst
    disc_q = np.exp(-q_ * T_)
    disc_r = np.exp(-r_ * T_)
    nd1 = ndtr(sign * d1)
    nd2 = ndtr(sign * d2)
    pdf_d1 = _INV_SQRT_2PI * np.exp(-0.5 * d1 * d1)

    price = sign * (S_ * disc_q * nd1 - K_ * disc_r * nd2)
    delta = sign * disc_q * nd1
    gamma = disc_q * pdf_d1 / (S_ * vst)
    vega = S_ * disc_q * pdf_d1 * sqrt_t * 0.01
    theta = (
        -S_ * disc_q * pdf_d1 * vol / (2.0 * sqrt_t)
        + sign * (q_ * S_ * disc_q * nd1 - r_ * K_ * disc_r * nd2)
    ) / DAYS_PER_YEAR
    rho = sign * K_ * T_ * disc_r * nd2 * 0.01

    if not np.all(live):
        dead = ~live
        forward_intrinsic = np.maximum(sign * (S_ * disc_q - K_ * disc_r), 0.0)
        itm = forward_intrinsic > 0
        price = np.where(dead, forward_intrinsic, price)
        delta = np.where(dead, np.where(itm, sign * disc_q, 0.0), delta)
        gamma = np.where(dead, 0.0, gamma)
        vega = np.where(dead, 0.0, vega)
        theta = np.where(dead, 0.0, theta)
        rho = np.where(dead, np.where(itm, sign * K_ * T_ * disc_r * 0.01, 0.0), rho)

    return GreeksArrays(price=price, delta=delta, gamma=gamma, vega=vega, theta=theta, rho=rho)
