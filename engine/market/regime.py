"""Provides the hidden market process: a regime chain, a vol state and correlated returns.

Time is counted in trading days of variance: a session step of ``dt`` carries
``(1 - overnight_share) * dt / session`` of a day, the overnight gap carries the rest, so a
close-to-close return always has one day of variance. The regime (calm, normal, stressed,
crisis) is a continuous-time Markov chain. A market-wide vol state ``x`` mean-reverts (log
OU) toward the regime's vol multiplier, centred so that E[x^2] equals the multiplier
squared: with the regime pinned, realized vol matches each underlying's configured vol
times that multiplier. Returns load on one market factor (pairwise correlation = the
regime's, which keeps the covariance PSD) plus market-wide jumps scaled by beta; the jump
variance is taken out of the diffusion so the total matches the configuration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.market.base import FloatArray
from engine.market.calendar import TRADING_DAYS_PER_YEAR
from engine.market.config import REGIME_NAMES, SimConfig

_MIN_DIFFUSION_SHARE = 0.25
"""Jumps never take more than 75% of an underlying's variance."""


@dataclass(frozen=True, slots=True)
class RegimeModel:
    """The static parameters of the process, as arrays indexed by regime and symbol."""

    vol: FloatArray
    beta: FloatArray
    vol_multiplier: FloatArray
    correlation: FloatArray
    drift: FloatArray
    jump_intensity: FloatArray
    exit_rate: FloatArray
    """Per trading day."""
    next_probs: FloatArray
    stationary: FloatArray
    jump_mean: float
    jump_sd: float
    reversion: float
    """Per trading day, of the log vol state."""
    vol_of_vol: float
    pinned: int | None

    @classmethod
    def from_config(cls, config: SimConfig) -> RegimeModel:
        regimes = config.regimes.ordered()
        weights = np.array([r.next_weights for r in regimes], dtype=np.float64)
        np.fill_diagonal(weights, 0.0)
        next_probs = weights / weights.sum(axis=1, keepdims=True)
        exit_rate = np.array([1.0 / r.mean_duration_days for r in regimes])
        generator = next_probs * exit_rate[:, None] - np.diag(exit_rate)
        # The stationary law solves pi Q = 0 with sum(pi) = 1.
        system = np.vstack([generator.T, np.ones(4)])
        stationary = np.linalg.lstsq(system, np.r_[np.zeros(4), 1.0], rcond=None)[0]
        pinned = None if config.pin_regime is None else REGIME_NAMES.index(config.pin_regime)
        return cls(
            vol=np.array([u.vol for u in config.underlyings]),
            beta=np.array([u.beta for u in config.underlyings]),
            vol_multiplier=np.array([r.vol_multiplier for r in regimes]),
            correlation=np.array([r.correlation for r in regimes]),
            drift=np.array([r.drift for r in regimes]),
            jump_intensity=np.array([r.jump_intensity for r in regimes]),
            exit_rate=exit_rate,
            next_probs=next_probs,
            stationary=np.clip(stationary, 0.0, None) / np.clip(stationary, 0.0, None).sum(),
            jump_mean=config.jump_mean,
            jump_sd=config.jump_sd,
            reversion=math.log(2.0) / config.vol_halflife_days,
            vol_of_vol=config.vol_of_vol,
            pinned=pinned,
        )

    def log_level(self, regime: int) -> float:
        """Centre of log x in a regime, so that E[x^2] is the multiplier squared."""
        return math.log(float(self.vol_multiplier[regime])) - self.vol_of_vol**2

    def long_run_variance(self) -> FloatArray:
        """Each underlying's stationary variance rate, mixing the regimes by their odds."""
        result: FloatArray = self.vol**2 * float(self.stationary @ self.vol_multiplier**2)
        return result


class MarketState:
    """The mutable hidden state: the regime and the log vol state."""

    __slots__ = ("log_x", "regime")

    def __init__(self, regime: int, log_x: float) -> None:
        self.regime = regime
        self.log_x = log_x

    @property
    def x(self) -> float:
        return math.exp(self.log_x)


def initial_state(model: RegimeModel, rng: np.random.Generator) -> MarketState:
    """A draw from the stationary law (or the pinned regime)."""
    pinned = model.pinned
    regime = pinned if pinned is not None else int(rng.choice(4, p=model.stationary))
    return MarketState(regime, model.log_level(regime) + model.vol_of_vol * rng.standard_normal())


def evolve(
    model: RegimeModel, state: MarketState, days: float, rng: np.random.Generator
) -> FloatArray:
    """Advance by ``days`` of variance time; return each underlying's log return."""
    n = model.vol.shape[0]
    if days <= 0:
        return np.zeros(n)
    r = state.regime
    dt_years = days / TRADING_DAYS_PER_YEAR
    sigma = model.vol * state.x
    lam = float(model.jump_intensity[r])
    jump_var = lam * model.beta**2 * (model.jump_mean**2 + model.jump_sd**2)
    diffusion_var = np.maximum(sigma**2 - jump_var, _MIN_DIFFUSION_SHARE * sigma**2)
    rho = float(model.correlation[r])
    z = rng.standard_normal(n + 1)
    shocks = math.sqrt(rho) * z[0] + math.sqrt(1.0 - rho) * z[1:]
    drift = float(model.drift[r]) - 0.5 * sigma**2 - lam * model.beta * model.jump_mean
    returns: FloatArray = drift * dt_years + np.sqrt(diffusion_var * dt_years) * shocks
    jumps = int(rng.poisson(lam * dt_years))
    if jumps:
        returns += model.beta * float(rng.normal(model.jump_mean, model.jump_sd, jumps).sum())

    decay = math.exp(-model.reversion * days)
    level = model.log_level(r)
    spread = model.vol_of_vol * math.sqrt(max(1.0 - decay * decay, 0.0))
    state.log_x = level + (state.log_x - level) * decay + spread * float(rng.standard_normal())

    if model.pinned is None:
        leave = -math.expm1(-float(model.exit_rate[r]) * days)
        if rng.random() < leave:
            state.regime = int(rng.choice(4, p=model.next_probs[r]))
    return returns
