"""Provides the paper broker's configuration (apart from the broker, so that reading the
configuration loads no numerical libraries)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

# Declared here, not imported from engine.config, which imports this module.
_Money = Annotated[float, Meta(ge=0)]
_Seconds = Annotated[float, Meta(ge=0)]
_Step = Annotated[float, Meta(gt=0, le=1)]


class PaperBrokerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    commission_per_contract: _Money = 0.65
    """Dollars per option contract, each leg counted."""
    commission_per_share: _Money = 0.005
    """Dollars per share for stock legs."""
    slippage_ticks: Annotated[int, Meta(ge=0)] = 0
    """Ticks ($0.01) added against us to each fill, never past the limit."""
    walk_interval_s: _Seconds = 15.0
    """Engine seconds between steps of the price walk (0: a step every tick)."""
    walk_step: _Step = 0.1
    """Fraction of the mid→natural distance moved per step (more than 0, at most 1)."""
    fill_threshold: Annotated[float, Meta(ge=0, le=1)] = 0.3
    """Fraction of the way from mid to natural at which a combo fills."""
    ack_delay_s: _Seconds = 0.0
    """Engine seconds before the broker acknowledges a new order."""
    max_quantity: Annotated[int, Meta(ge=1)] = 500
    """Largest order, in combo units, the broker accepts."""
    stale_after_s: Annotated[float, Meta(gt=0)] = 60.0
    """Quotes older than this (engine seconds) are not traded on."""
