"""Provides checkpoint plumbing shared by the sources: RNG state and config fingerprints.

numpy's PCG64 state holds 128-bit integers, which msgpack cannot carry, so they travel as
decimal strings. A fingerprint of the configuration goes into every checkpoint, so a
checkpoint is never continued by a differently configured market.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec
import numpy as np

from engine.market.base import CheckpointError

CHECKPOINT_VERSION = 1


class RngState(msgspec.Struct, frozen=True):
    bit_generator: str
    state: str
    inc: str
    has_uint32: int
    uinteger: int


def rng_state(rng: np.random.Generator) -> RngState:
    raw: Any = rng.bit_generator.state
    return RngState(
        bit_generator=str(raw["bit_generator"]),
        state=str(raw["state"]["state"]),
        inc=str(raw["state"]["inc"]),
        has_uint32=int(raw["has_uint32"]),
        uinteger=int(raw["uinteger"]),
    )


def set_rng_state(rng: np.random.Generator, saved: RngState) -> None:
    if saved.bit_generator != type(rng.bit_generator).__name__:
        raise CheckpointError(
            f"checkpoint RNG is {saved.bit_generator}, this market uses "
            f"{type(rng.bit_generator).__name__}"
        )
    rng.bit_generator.state = {
        "bit_generator": saved.bit_generator,
        "state": {"state": int(saved.state), "inc": int(saved.inc)},
        "has_uint32": saved.has_uint32,
        "uinteger": saved.uinteger,
    }


def fingerprint(config: object) -> str:
    return hashlib.sha256(msgspec.json.encode(config)).hexdigest()[:16]


def check(kind: str, version: int, found: str, expected: str) -> None:
    if version != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{kind} checkpoint version {version} is not {CHECKPOINT_VERSION}: cannot resume"
        )
    if found != expected:
        raise CheckpointError(
            f"{kind} checkpoint was taken with another configuration or data set "
            f"({found} != {expected}): start afresh or restore the original settings"
        )
