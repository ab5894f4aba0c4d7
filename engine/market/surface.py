"""Provides the implied-vol surface: an SSVI smile on an ATM term structure of variance.

The smile is Gatheral and Jacquier's SSVI with the power-law phi,
``w(k, theta) = theta/2 (1 + rho phi k + sqrt((phi k + rho)^2 + 1 - rho^2))``,
``phi(theta) = eta / (theta^gamma (1 + theta)^(1 - gamma))``, which is free of butterfly
arbitrage when ``eta (1 + |rho|) <= 2`` and ``0 < gamma <= 1/2`` (config enforces both)
and free of calendar arbitrage when the ATM total variance theta(T) never decreases.

theta(T) is the expected variance to expiry times a premium, plus earnings: the market
expects the variance rate to relax from its current level ``v0`` toward ``v_long`` at rate
``speed``, so the term structure slopes up when vol is low (calm) and is inverted when it
is high (crisis); the forward variance is a mix of two positive levels, so theta(T) is
increasing. Each earnings event still ahead adds its variance to every expiry after it
(the bump) and drops out once it has happened (the crush).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

NO_EVENT = np.iinfo(np.int64).max
_MIN_THETA = 1e-12


@dataclass(frozen=True, slots=True)
class SurfaceParams:
    """Per-underlying surface inputs; every array is indexed by the source's symbol index."""

    v0: FloatArray
    """Current variance rate (annual)."""
    v_long: FloatArray
    """The level the variance rate is expected to relax to."""
    speed: FloatArray
    """Rate (per year) of that relaxation."""
    premium: FloatArray
    """Implied over expected realized vol (1 + risk premium)."""
    rho: FloatArray
    eta: FloatArray
    gamma: FloatArray
    event_ns: IntArray
    """[symbol, event] engine time of each earnings gap still ahead, sorted, NO_EVENT padded."""
    event_var: FloatArray
    """[symbol, event] total variance each event adds (the squared expected move)."""


def no_events(n_symbols: int) -> tuple[IntArray, FloatArray]:
    return np.full((n_symbols, 1), NO_EVENT, dtype=np.int64), np.zeros((n_symbols, 1))


def _relax(y: FloatArray) -> FloatArray:
    """(1 - exp(-y)) / y, the average of exp(-s) over [0, y], with its limit 1 at y = 0."""
    safe = np.where(y > 1e-9, y, 1.0)
    result: FloatArray = np.where(y > 1e-9, -np.expm1(-safe) / safe, 1.0 - 0.5 * y)
    return result


def expected_variance(p: SurfaceParams, sym: IntArray, T: FloatArray) -> FloatArray:
    """Expected average variance rate over [0, T] (before premium and events)."""
    t = np.maximum(T, 0.0)
    v_long = p.v_long[sym]
    result: FloatArray = v_long + (p.v0[sym] - v_long) * _relax(p.speed[sym] * t)
    return result


def event_variance(p: SurfaceParams, sym: IntArray, expiry_ns: IntArray, now_ns: int) -> FloatArray:
    """Total variance of the earnings gaps between now and each expiry."""
    bump = np.zeros(expiry_ns.shape)
    for s in np.flatnonzero((p.event_ns != NO_EVENT).any(axis=1)).tolist():
        rows = np.flatnonzero(sym == s)
        if rows.size == 0:
            continue
        events = p.event_ns[s]
        total = np.concatenate([[0.0], np.cumsum(p.event_var[s])])
        # Events are sorted; those at or before now have happened and no longer count.
        done = total[np.searchsorted(events, now_ns, side="right")]
        bump[rows] = total[np.searchsorted(events, expiry_ns[rows], side="left")] - done
    return np.maximum(bump, 0.0)


def atm_total_variance(
    p: SurfaceParams, sym: IntArray, T: FloatArray, expiry_ns: IntArray, now_ns: int
) -> FloatArray:
    """theta(T): ATM total implied variance, nondecreasing in T; 0 once expired."""
    t = np.maximum(T, 0.0)
    base = expected_variance(p, sym, t) * t * p.premium[sym] ** 2
    bump = event_variance(p, sym, expiry_ns, now_ns)
    result: FloatArray = np.where(T > 0, base + bump, 0.0)
    return result


def ssvi_phi(theta: FloatArray, eta: FloatArray, gamma: FloatArray) -> FloatArray:
    th = np.maximum(theta, _MIN_THETA)
    result: FloatArray = eta / (th**gamma * (1.0 + th) ** (1.0 - gamma))
    return result


def ssvi_total_variance(
    k: FloatArray, theta: FloatArray, rho: FloatArray, eta: FloatArray, gamma: FloatArray
) -> FloatArray:
    """w(k, theta): total implied variance at log-forward-moneyness k."""
    phi_k = ssvi_phi(theta, eta, gamma) * k
    result: FloatArray = (
        0.5 * theta * (1.0 + rho * phi_k + np.sqrt((phi_k + rho) ** 2 + 1.0 - rho * rho))
    )
    return result


def total_variance(
    p: SurfaceParams,
    sym: IntArray,
    k: FloatArray,
    T: FloatArray,
    expiry_ns: IntArray,
    now_ns: int,
) -> FloatArray:
    """Total implied variance for each (symbol, log-moneyness, expiry)."""
    theta = atm_total_variance(p, sym, T, expiry_ns, now_ns)
    return ssvi_total_variance(k, theta, p.rho[sym], p.eta[sym], p.gamma[sym])
