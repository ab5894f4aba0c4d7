"""Provides the engine's market sources: the seeded sim (default) and CSV replay.

``build_source(config)`` turns the ``[market]`` section into a source; the engine drives it
through :class:`engine.market.base.MarketSource`. Importing this package (as reading the
configuration does) loads no numerical library; building a source does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.market.config import MarketConfig

if TYPE_CHECKING:
    from engine.market.base import MarketSource


def build_source(config: MarketConfig | None = None) -> MarketSource:
    """The source ``config.source`` names, configured from its section."""
    config = config if config is not None else MarketConfig()
    if config.source == "replay":
        from engine.market.replay import ReplayMarket

        return ReplayMarket(config.replay)
    from engine.market.sim import SimMarket

    return SimMarket(config.sim)


__all__ = ["MarketConfig", "build_source"]
