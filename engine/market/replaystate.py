"""Provides the replay's checkpoint: the cursor into the data and the published state.

The bars, the vol fit and the daily aggregates are rebuilt from the files; a fingerprint of
the configuration and the data makes sure a checkpoint only resumes the same replay.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import msgspec
import numpy as np

from engine.market.state import CHECKPOINT_VERSION, check
from engine.records import Quote

if TYPE_CHECKING:
    from engine.market.replay import ReplayMarket

RawQuote = tuple[float | None, float | None, float | None]


class ReplayCheckpoint(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    fingerprint: str
    cursor: int
    t: int
    day: dt.date
    started: bool
    tick: int
    last: list[int]
    quotes: list[Quote | None]
    pub_spot: list[float]
    pub_ts: list[int]
    status: list[int]
    counters: dict[str, int]
    frozen: list[str]
    injected: dict[str, RawQuote]


def save_replay(market: ReplayMarket) -> ReplayCheckpoint:
    return ReplayCheckpoint(
        version=CHECKPOINT_VERSION,
        fingerprint=market._fingerprint,
        cursor=market._cursor,
        t=market._t,
        day=market._day,
        started=market._started,
        tick=market._tick,
        last=list(market._last),
        quotes=list(market._quotes),
        pub_spot=market._pub_spot.tolist(),
        pub_ts=market._pub_ts.tolist(),
        status=market._status.tolist(),
        counters=dict(market.counters),
        frozen=sorted(market._frozen),
        injected=dict(market._injected),
    )


def restore_replay(market: ReplayMarket, saved: ReplayCheckpoint) -> None:
    check("replay", saved.version, saved.fingerprint, market._fingerprint)
    market._cursor = saved.cursor
    market._t = saved.t
    market._day = saved.day
    market._started = saved.started
    market._tick = saved.tick
    market._last = list(saved.last)
    market._quotes = list(saved.quotes)
    market._pub_spot = np.array(saved.pub_spot, dtype=np.float64)
    market._pub_ts = np.array(saved.pub_ts, dtype=np.int64)
    market._status = np.array(saved.status, dtype=np.uint8)
    market.counters.clear()
    market.counters.update(saved.counters)
    market._frozen = set(saved.frozen)
    market._injected = dict(saved.injected)
