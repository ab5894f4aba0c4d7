"""Provides the trading engine: market, pricing, portfolio, broker, journal and agents.

Nothing here imports textual, rich or the desk application: the engine runs headless.
"""

__version__ = "0.1.0"
