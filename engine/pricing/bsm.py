"""Provides vectorized Black-Scholes-Merton prices and Greeks in vollib's units."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ArrayLike = npt.ArrayLike

DAYS_PER_YEAR = 365.0
PER_POINT = 0.01
# Measured: chunks of 4-8k elements keep temporaries in cache and run twice as fast as 100k.
CHUNK_SIZE = 8192
_INV_SQRT_2PI = 0.3989422804014327


class GreeksArrays(msgspec.Struct, frozen=True):
    """Per-option price and Greeks: theta per calendar day, vega and rho per point."""

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray
    rho: FloatArray


def is_call(flag: Any) -> BoolArray:
    """'c'/'p' (any case), or an array of them, as a boolean array: True for calls.

    Raises ValueError for anything else: a wrong flag is a programming error, not data.
    """
    if isinstance(flag, str):
        if flag not in ("c", "p", "C", "P"):
            raise ValueError(f"flag must be 'c' or 'p', got {flag!r}")
        return np.asarray(flag in ("c", "C"))
    flags = np.asarray(flag)
    if flags.size == 0:
        return np.zeros(flags.shape, dtype=np.bool_)
    if flags.dtype.kind == "O":
        flags = flags.astype(str)
    if flags.dtype.kind != "U":
        raise ValueError(f"flag must be 'c' or 'p', or an array of them, got dtype {flags.dtype}")
    if flags.dtype == np.dtype("U1"):
        # Comparing code points is far cheaper than string ufuncs; | 0x20 folds case.
        folded = flags.view(np.uint32) | 0x20
        call = folded == ord("c")
        known = call | (folded == ord("p"))
    else:
        call = (flags == "c") | (flags == "C")
        known = call | (flags == "p") | (flags == "P")
    if not known.all():
        bad = sorted(set(flags[~known].tolist()))
        raise ValueError(f"flag must be 'c' or 'p', got {bad[:3]}")
    return np.asarray(call, dtype=np.bool_)


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

    Inputs broadcast against each other; T is in years, r, q and sigma are annual decimals.
    Units follow vollib: theta per calendar day, vega per vol point, rho per rate point.

    Where T <= 0 (expired) or sigma == 0 the formulas are replaced by their limit: the
    discounted forward intrinsic value max(±(S·e^{-qT} - K·e^{-rT}), 0) with T floored at 0,
    a step delta (half at the money), zero gamma and vega, the deterministic carry as theta
    while T > 0 (zero once expired) and the matching rho. Every output is NaN for an
    element with a non-finite input, S <= 0, K <= 0 or sigma < 0.
    """
    call = is_call(flag)
    inputs = [np.asarray(x, dtype=np.float64) for x in (S, K, T, r, sigma, q)]
    shape, flat = broadcast_flat(call, *inputs)
    out = np.empty((6, flat[0].size))
    with np.errstate(all="ignore"):
        for chunk in chunks(flat[0].size):
            _greeks_chunk(out[:, chunk], *(a[chunk] for a in flat))
    return GreeksArrays(*(row.reshape(shape) for row in out))


def broadcast_flat(*arrays: npt.NDArray[Any]) -> tuple[tuple[int, ...], list[npt.NDArray[Any]]]:
    """The broadcast shape of the arrays and each of them broadcast and flattened."""
    broadcast = np.broadcast_arrays(*arrays)
    return broadcast[0].shape, [np.ravel(a) for a in broadcast]


def chunks(size: int) -> list[slice]:
    """Slices covering range(size) in pieces of CHUNK_SIZE."""
    return [slice(start, start + CHUNK_SIZE) for start in range(0, max(size, 1), CHUNK_SIZE)]


def all_finite(*arrays: FloatArray) -> BoolArray:
    """Elementwise: every one of the arrays is finite there."""
    finite = np.isfinite(arrays[0])
    for array in arrays[1:]:
        finite &= np.isfinite(array)
    return finite


def _greeks_chunk(
    out: FloatArray,
    call: BoolArray,
    S: FloatArray,
    K: FloatArray,
    T: FloatArray,
    r: FloatArray,
    v: FloatArray,
    q: FloatArray,
) -> None:
    sign = np.where(call, 1.0, -1.0)
    valid = all_finite(S, K, T, r, v, q) & (S > 0) & (K > 0) & (v >= 0)
    live = valid & (T > 0) & (v > 0)
    if live.all():
        _live_greeks(out, sign, S, K, T, r, v, q)
        return
    _live_greeks(out, sign, S, K, np.where(live, T, 1.0), r, np.where(live, v, 1.0), q)
    _patch_limits(out, sign, S, K, T, r, q, live, valid)


def _live_greeks(
    out: FloatArray,
    sign: FloatArray,
    S: FloatArray,
    K: FloatArray,
    T: FloatArray,
    r: FloatArray,
    vol: FloatArray,
    q: FloatArray,
) -> None:
    """Write price, delta, gamma, vega, theta, rho rows for T > 0 and vol > 0."""
    sqrt_t = np.sqrt(T)
    vst = vol * sqrt_t
    d1 = (np.log(S / K) + (r - q) * T) / vst + 0.5 * vst
    spot_carry = np.exp(-q * T)
    spot_disc = S * spot_carry
    strike_disc = K * np.exp(-r * T)
    # N(±d) rather than 1 - N(d) keeps relative accuracy in the far tails.
    signed_d1 = sign * d1
    nd1 = ndtr(signed_d1)
    nd2 = ndtr(signed_d1 - sign * vst)
    carry_pdf = spot_carry * (_INV_SQRT_2PI * np.exp(-0.5 * d1 * d1))
    spot_pdf = S * carry_pdf
    spot_leg = spot_disc * nd1
    strike_leg = strike_disc * nd2

    price, delta, gamma, vega, theta, rho = out
    np.multiply(sign, spot_leg - strike_leg, out=price)
    np.multiply(sign * spot_carry, nd1, out=delta)
    np.divide(carry_pdf, S * vst, out=gamma)
    np.multiply(spot_pdf, sqrt_t * PER_POINT, out=vega)
    carry = sign * (q * spot_leg - r * strike_leg)
    decay = spot_pdf * vol / (2.0 * sqrt_t)
    np.multiply(carry - decay, 1.0 / DAYS_PER_YEAR, out=theta)
    np.multiply(sign * T, strike_leg * PER_POINT, out=rho)


def _patch_limits(
    out: FloatArray,
    sign: FloatArray,
    S: FloatArray,
    K: FloatArray,
    T: FloatArray,
    r: FloatArray,
    q: FloatArray,
    live: BoolArray,
    valid: BoolArray,
) -> None:
    """Overwrite expired and zero-vol elements with their limits, invalid ones with NaN."""
    running = T > 0
    t = np.where(running, T, 0.0)
    spot_carry = np.exp(-q * t)
    strike_disc = K * np.exp(-r * t)
    forward_gap = sign * (S * spot_carry - strike_disc)
    # As sigma -> 0, N(±d1) and N(±d2) tend to 1 in the money, 0 out of it and 1/2 at it.
    step = sign * np.heaviside(forward_gap, 0.5)
    carry = step * (q * S * spot_carry - r * strike_disc) / DAYS_PER_YEAR
    limits: tuple[FloatArray | float, ...] = (
        np.maximum(forward_gap, 0.0),
        step * spot_carry,
        0.0,
        0.0,
        np.where(running, carry, 0.0),
        step * t * strike_disc * PER_POINT,
    )
    dead = ~live
    for row, limit in zip(out, limits, strict=True):
        np.copyto(row, limit, where=dead)
        np.copyto(row, np.nan, where=~valid)
