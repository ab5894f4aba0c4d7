"""Provides vectorized option pricing: BSM prices, Greeks and implied volatility."""

from engine.pricing.bsm import DAYS_PER_YEAR, GreeksArrays, greeks, is_call

__all__ = ["DAYS_PER_YEAR", "GreeksArrays", "greeks", "is_call"]
