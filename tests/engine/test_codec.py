"""One schema on the wire: records round-trip; anything malformed is one readable error."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import codec
from engine.codec import DecodeError, SchemaVersionError
from engine.records import (
    ClosePosition,
    Leg,
    Option,
    PositionsUpdated,
    RollPosition,
    SetKillSwitch,
)

CLOSE = ClosePosition(command_id="c-1", actor="ana", issued_at=123, position_id="SPY-7", limit=1.25)


@pytest.mark.parametrize("fmt", ["msgpack", "json"])
@pytest.mark.parametrize(
    "command",
    [
        CLOSE,
        RollPosition(
            command_id="c-2",
            actor="ana",
            issued_at=1,
            position_id="SPY-7",
            to_expiry=dt.date(2027, 1, 15),
            strikes=(590.0, 600.0),
        ),
        SetKillSwitch(command_id="c-3", actor="ana", issued_at=1, on=True, reason="fat finger"),
    ],
)
def test_commands_round_trip_in_both_formats(fmt, command):
    assert codec.decode_command(codec.encode(command, fmt=fmt), fmt=fmt) == command


def test_events_carry_their_type_and_round_trip():
    event = PositionsUpdated(seq=4, ts=9, changed=(), removed=("SPY-1",))

    assert codec.decode_event(codec.encode(event)) == event


def test_a_newer_schema_is_refused_with_a_sentence_saying_to_upgrade():
    data = b'{"v": 99, "body": {"type": "pause_agent"}}'

    with pytest.raises(SchemaVersionError, match="newer than this program's v1: upgrade"):
        codec.decode_command(data, fmt="json")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b'{"v": 1, "body": {"type": "launch_rockets", "command_id": "x"}}', "invalid"),
        (b'{"v": 1, "body": {"type": "close_position", "command_id": 5}}', "Expected `str`"),
        (
            b'{"v": 1, "body": {"type": "close_position", "command_id": "x", "actor": "a", '
            b'"issued_at": 1, "position_id": "P", "extra": 1}}',
            "unknown field",
        ),
        (b"[" * 50_000, "malformed"),
        (b"", "malformed"),
        (b'{"body": {}}', "malformed"),
    ],
)
def test_malformed_input_raises_decode_error_only(data, words):
    with pytest.raises(DecodeError, match=words):
        codec.decode_command(data, fmt="json")


def test_oversized_message_is_refused_before_parsing():
    with pytest.raises(DecodeError, match="refused: the limit"):
        codec.decode_command(b"x" * (codec.MAX_MESSAGE_BYTES + 1))


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=512))
def test_arbitrary_bytes_never_raise_anything_but_decode_error(data):
    try:
        codec.decode_command(data)
    except DecodeError:
        pass


def test_option_key_is_the_occ_symbol():
    option = Option(underlying="SPY", expiry=dt.date(2026, 12, 18), strike=600.5, right="P")

    assert option.key == "SPY   261218P00600500"
    assert Leg(instrument=option, ratio=-1).instrument.describe() == "SPY 18DEC26 600.5P"
