"""Provides the wire protocol on Redis: key names, signed command entries, query entries.

Every value is an enveloped msgpack record (engine.codec), so a client of an older
schema refuses a newer message in a sentence. A command travels as its encoded bytes and
an HMAC-SHA256 over the trader's name and those bytes, with the trader's own key: an
unsigned, altered or forged entry fails the check; the command's id and issue time,
inside the signed bytes, make a replay either a duplicate (answered with the first
result, never executed again) or expired.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from engine import codec
from engine.records import AnyCommand, AnyEvent

DOMAIN = b"desk-command-v1"
GROUP = "engine"
FRAME_EVENTS = 256
"""Events per stream entry at most: one XADD carries a whole tick, and stays small."""


class Frame(msgspec.Struct, frozen=True, kw_only=True):
    """A run of consecutive events in one stream entry; its id is ``epoch-<last seq>``."""

    events: tuple[AnyEvent, ...]


def frame_entry(events: Sequence[AnyEvent]) -> dict[Any, Any]:
    return {"f": codec.encode(Frame(events=tuple(events)))}


def read_frame(fields: dict[bytes, bytes]) -> tuple[AnyEvent, ...]:
    """The events of one stream entry; codec.DecodeError if it is not a readable frame."""
    payload = fields.get(b"f")
    if not isinstance(payload, bytes):
        raise codec.DecodeError("stream entry has no event frame")
    frame: Frame = codec.decode(payload, Frame, label="event frame")
    return frame.events


@dataclass(frozen=True, slots=True)
class Keys:
    """Every Redis key of one engine, under ``desk:NAME:``."""

    name: str

    @property
    def prefix(self) -> str:
        return f"desk:{self.name}:"

    def topic(self, topic: str) -> str:
        return f"{self.prefix}{topic}"

    @property
    def events(self) -> str:
        return f"{self.prefix}events"

    @property
    def cursor(self) -> str:
        """The bus seq and stream id that the state keys reflect, written with them."""
        return f"{self.prefix}cursor"

    @property
    def heartbeat(self) -> str:
        return f"{self.prefix}heartbeat"

    @property
    def traders(self) -> str:
        """The traders whose commands the engine takes, comma-separated."""
        return f"{self.prefix}traders"

    @property
    def results(self) -> str:
        return f"{self.prefix}results"

    def commands(self, trader: str) -> str:
        return f"{self.prefix}commands:{trader}"

    def trimmed_unread(self, stream: str) -> str:
        """How many entries of a command stream the engine found trimmed unread (reported)."""
        return f"{stream}:trimmed-unread"

    def queries(self, trader: str) -> str:
        return f"{self.prefix}queries:{trader}"

    def outcome(self, command_id: str) -> str:
        return f"{self.prefix}outcome:{command_id}"

    def reply(self, request_id: str) -> str:
        return f"{self.prefix}reply:{request_id}"


class Refused(Exception):
    """A command entry the engine will not execute; ``code`` and ``message`` say why."""

    def __init__(self, code: str, message: str, command_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.command_id = command_id


def load_key(text: str) -> bytes:
    """A key from its hex form, or its text as given (at least 16 bytes either way)."""
    raw = text.strip()
    try:
        key = bytes.fromhex(raw)
    except ValueError:
        key = raw.encode()
    if len(key) < 16:
        raise ValueError("a signing key needs at least 16 bytes (32 hex digits)")
    return key


def key_from_env_or_file(env: str, path: str) -> bytes | None:
    if path:
        return load_key(Path(path).expanduser().read_text(encoding="utf-8"))
    value = os.environ.get(env, "")
    return load_key(value) if value else None


def trader_keys(traders: tuple[str, ...], keys_dir: str) -> dict[str, bytes]:
    """The engine's view: each trader's key from <dir>/<trader>.key or DESK_KEY_<TRADER>."""
    found: dict[str, bytes] = {}
    for trader in traders:
        if keys_dir:
            path = Path(keys_dir).expanduser() / f"{trader}.key"
            if path.is_file():
                found[trader] = load_key(path.read_text(encoding="utf-8"))
                continue
        value = os.environ.get(f"DESK_KEY_{trader.upper().replace('-', '_')}", "")
        if value:
            found[trader] = load_key(value)
    return found


def signature(key: bytes, trader: str, payload: bytes) -> str:
    return hmac.new(
        key, DOMAIN + b"\x00" + trader.encode() + b"\x00" + payload, hashlib.sha256
    ).hexdigest()


def command_entry(command: AnyCommand, trader: str, key: bytes | None) -> dict[str, bytes]:
    payload = codec.encode(command)
    entry = {"c": payload}
    if key is not None:
        entry["s"] = signature(key, trader, payload).encode()
    return entry


def read_command_entry(
    fields: dict[bytes, bytes],
    trader: str,
    key: bytes | None,
    *,
    now_ns: int,
    ttl_ns: int,
    skew_ns: int,
) -> AnyCommand:
    """Check and decode one entry from ``trader``'s stream, or raise Refused."""
    payload = fields.get(b"c")
    if not isinstance(payload, bytes):
        raise Refused("INVALID_COMMAND", "entry has no command")
    try:
        command = codec.decode_command(payload)
    except codec.DecodeError as exc:
        raise Refused("INVALID_COMMAND", str(exc), _peek_id(payload)) from None
    cid = command.command_id
    if key is None:
        raise Refused("UNKNOWN_TRADER", f"no signing key for trader {trader!r}", cid)
    sent = fields.get(b"s")
    if not sent:
        raise Refused("UNSIGNED", "command is not signed", cid)
    expected = signature(key, trader, payload)
    if not hmac.compare_digest(expected.encode(), sent):
        raise Refused("BAD_SIGNATURE", "signature does not match the command", cid)
    if command.actor != trader:
        raise Refused("FORGED", f"command signed as {command.actor!r} on {trader!r}'s stream", cid)
    age = now_ns - command.issued_at
    if age > ttl_ns:
        raise Refused(
            "EXPIRED", f"command is {age / 1e9:.1f}s old; the limit is {ttl_ns / 1e9:.0f}s", cid
        )
    if -age > skew_ns:
        raise Refused(
            "CLOCK_SKEW",
            f"command is stamped {-age / 1e9:.1f}s in the future: check this desk's clock",
            cid,
        )
    return command


class _Id(msgspec.Struct):
    command_id: str


class _Envelope(msgspec.Struct):
    body: _Id


def _peek_id(payload: bytes) -> str | None:
    """The command id of an entry too broken to decode, if it can be read at all."""
    try:
        return msgspec.msgpack.decode(payload, type=_Envelope).body.command_id
    except (msgspec.DecodeError, RecursionError, ValueError, TypeError):
        return None
