"""Provides encoding of records to msgpack and JSON inside a versioned envelope.

Every message carries the schema version it was written with, so a client of an older
desk refuses a newer message with a sentence instead of misreading it. Decoding anything
malformed raises :class:`DecodeError` and nothing else.
"""

from __future__ import annotations

from typing import Any, Final, Generic, TypeVar

import msgspec

from engine.records import SCHEMA_VERSION, AnyCommand, AnyEvent, CommandResult, Snapshot

T = TypeVar("T")

# A message larger than this is refused before parsing: no record comes near it.
MAX_MESSAGE_BYTES: Final = 4 * 1024 * 1024


class DecodeError(ValueError):
    """A message could not be turned into a record; the text says why, for a human."""


class SchemaVersionError(DecodeError):
    """A message was written by a newer schema than this program understands."""


class _Version(msgspec.Struct):
    v: int


class Envelope(msgspec.Struct, Generic[T], frozen=True):
    v: int
    body: T


_msgpack_encoder = msgspec.msgpack.Encoder()
_json_encoder = msgspec.json.Encoder()
_version_msgpack = msgspec.msgpack.Decoder(_Version)
_version_json = msgspec.json.Decoder(_Version)
_decoders: dict[tuple[str, Any], Any] = {}


def encode(record: object, *, fmt: str = "msgpack") -> bytes:
    envelope = Envelope(v=SCHEMA_VERSION, body=record)
    if fmt == "msgpack":
        return _msgpack_encoder.encode(envelope)
    if fmt == "json":
        return _json_encoder.encode(envelope)
    raise ValueError(f"unknown format {fmt!r}: expected 'msgpack' or 'json'")


def _decoder(fmt: str, kind: Any) -> Any:
    key = (fmt, kind)
    decoder = _decoders.get(key)
    if decoder is None:
        module = msgspec.msgpack if fmt == "msgpack" else msgspec.json
        decoder = module.Decoder(Envelope[kind])
        _decoders[key] = decoder
    return decoder


def decode(
    data: bytes | bytearray | memoryview, kind: Any, *, fmt: str = "msgpack", label: str = ""
) -> Any:
    """Decode one enveloped record of type ``kind`` (a record class or a union)."""
    if fmt not in ("msgpack", "json"):
        raise ValueError(f"unknown format {fmt!r}: expected 'msgpack' or 'json'")
    if len(data) > MAX_MESSAGE_BYTES:
        raise DecodeError(
            f"message of {len(data):,} bytes refused: the limit is {MAX_MESSAGE_BYTES:,}"
        )
    version_decoder = _version_msgpack if fmt == "msgpack" else _version_json
    try:
        version = version_decoder.decode(data).v
    except (msgspec.DecodeError, RecursionError) as exc:
        raise DecodeError(f"malformed {fmt} message: {exc}") from None
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"message written with schema v{version}, newer than this program's "
            f"v{SCHEMA_VERSION}: upgrade desk to read it"
        )
    if version < 1:
        raise DecodeError(f"message has an invalid schema version {version}")
    try:
        return _decoder(fmt, kind).decode(data).body
    except msgspec.ValidationError as exc:
        raise DecodeError(f"invalid {label or _name(kind)}: {exc}") from None
    except (msgspec.DecodeError, RecursionError, ValueError, TypeError) as exc:
        raise DecodeError(f"malformed {fmt} message: {exc}") from None


def _name(kind: Any) -> str:
    return getattr(kind, "__name__", None) or "record"


def decode_command(data: bytes, *, fmt: str = "msgpack") -> AnyCommand:
    result: AnyCommand = decode(data, AnyCommand, fmt=fmt, label="command")
    return result


def decode_event(data: bytes, *, fmt: str = "msgpack") -> AnyEvent:
    result: AnyEvent = decode(data, AnyEvent, fmt=fmt, label="event")
    return result


def decode_snapshot(data: bytes, *, fmt: str = "msgpack") -> Snapshot:
    result: Snapshot = decode(data, Snapshot, fmt=fmt, label="snapshot")
    return result


def decode_result(data: bytes, *, fmt: str = "msgpack") -> CommandResult:
    result: CommandResult = decode(data, CommandResult, fmt=fmt, label="command result")
    return result


def to_builtins(record: object) -> Any:
    """A record as plain dicts and lists: for logs, JSON journals and printing."""
    return msgspec.to_builtins(record)
