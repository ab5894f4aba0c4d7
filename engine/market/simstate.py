"""Provides the sim's checkpoint: everything that moved since the start, and nothing else.

The history before the start, the earnings calendar, listings and open interest are
functions of the seed and the bars, so they are rebuilt rather than stored; what is stored
is the hidden state, the RNG, today's bar and the bars since the start, the published
quotes and the fault switches. A restored sim continues bit for bit.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import msgspec
import numpy as np

from engine.market.regime import MarketState
from engine.market.state import (
    CHECKPOINT_VERSION,
    RngState,
    check,
    fingerprint,
    rng_state,
    set_rng_state,
)
from engine.records import Quote

if TYPE_CHECKING:
    from engine.market.sim import SimMarket

RawQuote = tuple[float | None, float | None, float | None]


class SimCheckpoint(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    fingerprint: str
    t: int
    day: dt.date
    started: bool
    tick: int
    regime: int
    log_x: float
    index_noise: float
    rng: RngState
    spot: list[float]
    prev_close: list[float]
    bar: list[list[float]]
    post_dates: list[dt.date]
    post: list[list[list[float]]]
    quotes: list[Quote]
    pub_spot: list[float]
    pub_ts: list[int]
    status: list[int]
    counters: dict[str, int]
    frozen: list[str]
    injected: dict[str, RawQuote]
    volume: list[tuple[int, int, int, bool, int]]


def save_sim(sim: SimMarket) -> SimCheckpoint:
    return SimCheckpoint(
        version=CHECKPOINT_VERSION,
        fingerprint=fingerprint(sim.config),
        t=sim._t,
        day=sim._day,
        started=sim._started,
        tick=sim._tick,
        regime=sim._state.regime,
        log_x=sim._state.log_x,
        index_noise=sim._index_noise,
        rng=rng_state(sim._rng),
        spot=sim._spot.tolist(),
        prev_close=sim._prev_close.tolist(),
        bar=sim._bar.tolist(),
        post_dates=list(sim._post_dates),
        post=[bar.tolist() for bar in sim._post],
        quotes=list(sim._quotes),
        pub_spot=sim._pub_spot.tolist(),
        pub_ts=sim._pub_ts.tolist(),
        status=sim._status.tolist(),
        counters=dict(sim.counters),
        frozen=sorted(sim._frozen),
        injected=dict(sim._injected),
        volume=[(*key, size) for key, size in sim._volume.items()],
    )


def restore_sim(sim: SimMarket, saved: SimCheckpoint) -> None:
    check("sim", saved.version, saved.fingerprint, fingerprint(sim.config))
    sim._t = saved.t
    sim._day = saved.day
    sim._started = saved.started
    sim._tick = saved.tick
    sim._state = MarketState(saved.regime, saved.log_x)
    sim._index_noise = saved.index_noise
    set_rng_state(sim._rng, saved.rng)
    sim._spot = np.array(saved.spot, dtype=np.float64)
    sim._prev_close = np.array(saved.prev_close, dtype=np.float64)
    sim._bar = np.array(saved.bar, dtype=np.float64)
    sim._post_dates = list(saved.post_dates)
    sim._post = [np.array(bar, dtype=np.float64) for bar in saved.post]
    sim._quotes = list(saved.quotes)
    sim._pub_spot = np.array(saved.pub_spot, dtype=np.float64)
    sim._pub_ts = np.array(saved.pub_ts, dtype=np.int64)
    sim._status = np.array(saved.status, dtype=np.uint8)
    sim.counters.clear()
    sim.counters.update(saved.counters)
    sim._frozen = set(saved.frozen)
    sim._injected = dict(saved.injected)
    sim._volume = {(s, o, k, c): size for s, o, k, c, size in saved.volume}
    sim._refresh_events()
