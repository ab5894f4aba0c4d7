"""The journal: once-only keys, a torn tail dropped, corruption in the middle refused."""

import shutil
from pathlib import Path

import pytest

from engine.journal import Journal, JournalCorruptError
from engine.records import CommandResult, PauseAgent


def command(n: int) -> PauseAgent:
    return PauseAgent(
        command_id=f"cmd-{n:04d}", actor=f"trader-{n:04d}-x", issued_at=n, agent="technical"
    )


def write(path: Path, count: int, *, close: bool = True) -> Journal:
    journal = Journal(path)
    for n in range(count):
        journal.append("command", f"cmd-{n:04d}", command(n), ts=n)
    if close:
        journal.close()
    return journal


def test_records_come_back_in_order_and_decoded(tmp_path):
    write(tmp_path / "j.db", 5)

    journal = Journal(tmp_path / "j.db")

    assert journal.verify() == 5
    assert [e.record for e in journal.entries()] == [command(n) for n in range(5)]


def test_a_once_only_key_is_written_once(tmp_path):
    journal = Journal(tmp_path / "j.db")
    result = CommandResult(command_id="c1", accepted=True, code="OK", message="done")

    assert journal.append("result", "c1", result, ts=1) is True
    assert journal.append("result", "c1", result, ts=2) is False

    assert journal.count("result") == 1


def test_a_batch_is_all_or_nothing(tmp_path):
    journal = Journal(tmp_path / "j.db")

    with pytest.raises(RuntimeError), journal.batch():
        journal.append("command", "a", command(1), ts=1)
        raise RuntimeError("crash inside the batch")

    assert journal.count() == 0


def _flip_in(path: Path, needle: bytes, occurrence: int = 0) -> None:
    data = bytearray(path.read_bytes())
    at = -1
    for _ in range(occurrence + 1):
        at = data.index(needle, at + 1)
    data[at + 2] ^= 0x20
    path.write_bytes(bytes(data))


def test_a_flipped_byte_in_the_last_record_is_a_torn_tail_and_is_dropped(tmp_path):
    path = tmp_path / "j.db"
    write(path, 10)
    _flip_in(path, b"trader-0009-x")

    journal = Journal(path)
    kept = journal.verify()

    assert kept == 9
    assert journal.dropped_tail is not None and journal.dropped_tail.key == "cmd-0009"
    assert [e.key for e in journal.entries()] == [f"cmd-{n:04d}" for n in range(9)]


def test_a_flipped_byte_in_the_middle_refuses_to_start_naming_the_record(tmp_path):
    path = tmp_path / "j.db"
    write(path, 10)
    _flip_in(path, b"trader-0004-x")

    journal = Journal(path)

    with pytest.raises(JournalCorruptError, match=r"record 5 \(command cmd-0004\).*checksum"):
        journal.verify()


@pytest.mark.parametrize("cut", [1, 7, 24, 33, 64])
def test_a_wal_cut_short_by_a_crash_loses_only_the_torn_last_transaction(tmp_path, cut):
    # Arrange: a live journal (never closed, like a SIGKILLed engine), then its files copied.
    live = write(tmp_path / "live.db", 10, close=False)
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    for suffix in ("", "-wal"):
        shutil.copy(tmp_path / f"live.db{suffix}", crashed / f"j.db{suffix}")
    wal = crashed / "j.db-wal"
    wal.write_bytes(wal.read_bytes()[:-cut])

    # Act
    journal = Journal(crashed / "j.db")

    # Assert: the last transaction is gone, everything before it intact.
    assert journal.verify() == 9
    assert [e.key for e in journal.entries()] == [f"cmd-{n:04d}" for n in range(9)]
    live.close()


def test_a_file_that_is_not_a_journal_is_refused_with_a_sentence(tmp_path):
    path = tmp_path / "j.db"
    path.write_bytes(b"this is not sqlite" * 100)

    with pytest.raises(JournalCorruptError, match="not a readable SQLite database"):
        Journal(path)
