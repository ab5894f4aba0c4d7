"""Provides the paper broker's configuration (apart from the broker, so that reading the
configuration loads no numerical libraries)."""

from __future__ import annotations

import msgspec


class PaperBrokerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    commission_per_contract: float = 0.65
    """Dollars per option contract, each leg counted."""
    commission_per_share: float = 0.005
    """Dollars per share for stock legs."""
    slippage_ticks: int = 0
    """Ticks ($0.01) added against us to each fill, never past the limit."""
    walk_interval_s: float = 15.0
    """Engine seconds between steps of the price walk."""
    walk_step: float = 0.1
    """Fraction of the mid→natural distance moved per step."""
    fill_threshold: float = 0.3
    """Fraction of the way from mid to natural at which a combo fills."""
    ack_delay_s: float = 0.0
    """Engine seconds before the broker acknowledges a new order."""
    max_quantity: int = 500
    """Largest order, in combo units, the broker accepts."""
    stale_after_s: float = 60.0
    """Quotes older than this (engine seconds) are not traded on."""
