"""Provides vectorized option pricing: BSM prices, Greeks and implied volatility."""

from engine.pricing.bsm import DAYS_PER_YEAR, GreeksArrays, greeks, is_call
from engine.pricing.iv import MIN_TIME_VALUE, implied_vol

__all__ = ["DAYS_PER_YEAR", "MIN_TIME_VALUE", "GreeksArrays", "greeks", "implied_vol", "is_call"]
