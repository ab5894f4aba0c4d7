"""Provides the crash-safe journal: an append-only, checksummed record log in SQLite (WAL).

Every command, order change, fill, position change, alert and control change is written
here, committed with ``synchronous=FULL``, before its effect is reported. Each row holds
one enveloped record and a CRC32 over kind, key and body, so a flipped byte is found even
where SQLite's own structure is intact. On open, a bad checksum on the very last record
is treated as a torn tail and dropped (like Redis's ``aof-load-truncated``); a bad one
anywhere else refuses to start, naming the record.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import msgspec

from engine import codec
from engine.records import (
    Alert,
    AnyCommand,
    CommandResult,
    Fill,
    Order,
    Proposal,
    Signal,
)

log = logging.getLogger(__name__)

JOURNAL_FORMAT: Final = 1


class KillSwitchChanged(msgspec.Struct, frozen=True, kw_only=True):
    on: bool
    reason: str
    actor: str
    ts: int


class AgentControlled(msgspec.Struct, frozen=True, kw_only=True):
    agent: str
    paused: bool
    actor: str
    ts: int


class SessionStarted(msgspec.Struct, frozen=True, kw_only=True):
    """A trading day began: equity and each position's value anchor day, week, YTD P&L."""

    date: dt.date
    equity: float
    values: dict[str, float] = {}
    ts: int


class PositionChanged(msgspec.Struct, frozen=True, kw_only=True):
    """The position's legs after a fill: a check on the fold that rebuilds the book."""

    position_id: str
    legs: dict[str, int]
    cash_cents: int
    fill_id: str
    ts: int


class Reconciled(msgspec.Struct, frozen=True, kw_only=True):
    """What a start-up reconciliation with the broker found and did."""

    adopted_fills: tuple[str, ...]
    mismatches: dict[str, tuple[int, int]]
    action: str
    ts: int


KINDS: Final[dict[str, Any]] = {
    "command": AnyCommand,
    "result": CommandResult,
    "order": Order,
    "fill": Fill,
    "position": PositionChanged,
    "alert": Alert,
    "kill_switch": KillSwitchChanged,
    "agent": AgentControlled,
    "signal": Signal,
    "proposal": Proposal,
    "session": SessionStarted,
    "reconciled": Reconciled,
}
# Kinds whose key may appear once: the database refuses a second copy.
UNIQUE_KINDS: Final = ("command", "result", "fill")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS records (
    seq  INTEGER PRIMARY KEY,
    ts   INTEGER NOT NULL,
    kind TEXT NOT NULL,
    key  TEXT NOT NULL,
    body BLOB NOT NULL,
    crc  INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS records_once ON records(kind, key)
    WHERE kind IN ({", ".join(repr(k) for k in UNIQUE_KINDS)});
CREATE INDEX IF NOT EXISTS records_kind ON records(kind, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
"""


class JournalError(RuntimeError):
    """The journal cannot be used; the message says what to do."""


class JournalCorruptError(JournalError):
    """A record in the middle of the journal fails its checksum or does not decode."""


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    ts: int
    kind: str
    key: str
    record: Any


def _crc(kind: str, key: str, body: bytes) -> int:
    return zlib.crc32(body, zlib.crc32(f"{kind}\x00{key}\x00".encode()))


class Journal:
    """One SQLite file. Use ``batch()`` to make several records one atomic commit."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.is_new = not self.path.exists() or self.path.stat().st_size == 0
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._check_sqlite()
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise JournalCorruptError(
                f"journal {self.path} is not a readable SQLite database ({exc}); "
                "refusing to start. Restore it from a backup or move it aside."
            ) from None
        self._depth = 0
        self.dropped_tail: Entry | None = None
        if self.is_new:
            self.set_meta("format", JOURNAL_FORMAT)
        else:
            found = self.get_meta("format")
            if found != JOURNAL_FORMAT:
                raise JournalError(
                    f"journal {self.path} has format {found!r}, this engine reads "
                    f"{JOURNAL_FORMAT}: use the desk version that wrote it"
                )

    def _check_sqlite(self) -> None:
        rows = self._db.execute("PRAGMA quick_check").fetchall()
        if rows != [("ok",)]:
            detail = "; ".join(str(r[0]) for r in rows[:3])
            raise sqlite3.DatabaseError(f"integrity check failed: {detail}")

    def close(self) -> None:
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._db.close()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Everything appended inside is committed together, or not at all."""
        if self._depth == 0:
            self._db.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            if self._depth == 0:
                self._db.execute("ROLLBACK")
            raise
        self._depth -= 1
        if self._depth == 0:
            self._db.execute("COMMIT")

    def append(self, kind: str, key: str, record: object, ts: int) -> bool:
        """Write one record; False if a once-only key was already there (nothing written)."""
        if kind not in KINDS:
            raise ValueError(f"unknown journal kind {kind!r}")
        body = codec.encode(record)
        try:
            with self.batch():
                self._db.execute(
                    "INSERT INTO records(ts, kind, key, body, crc) VALUES (?, ?, ?, ?, ?)",
                    (ts, kind, key, body, _crc(kind, key, body)),
                )
        except sqlite3.IntegrityError:
            if kind in UNIQUE_KINDS:
                return False
            raise
        return True

    def find(self, kind: str, key: str) -> Any | None:
        row = self._db.execute(
            "SELECT body FROM records WHERE kind = ? AND key = ? ORDER BY seq DESC LIMIT 1",
            (kind, key),
        ).fetchone()
        return codec.decode(row[0], KINDS[kind]) if row else None

    def entries(self) -> Iterator[Entry]:
        """Every record in order, checksums verified (see :meth:`verify` for the policy)."""
        rows = self._db.execute("SELECT seq, ts, kind, key, body, crc FROM records ORDER BY seq")
        for seq, ts, kind, key, body, crc in rows:
            yield Entry(seq, ts, kind, key, self._decode(seq, kind, key, body, crc))

    def verify(self) -> int:
        """Check every record; drop a torn last record; raise on corruption before it."""
        last = self._db.execute("SELECT MAX(seq) FROM records").fetchone()[0]
        count = 0
        rows = self._db.execute("SELECT seq, ts, kind, key, body, crc FROM records ORDER BY seq")
        for seq, ts, kind, key, body, crc in rows.fetchall():
            try:
                self._decode(seq, kind, key, body, crc)
            except JournalCorruptError as exc:
                if seq != last:
                    raise
                log.warning("journal: dropping a torn last record (%s)", exc)
                self._db.execute("DELETE FROM records WHERE seq = ?", (seq,))
                self.dropped_tail = Entry(seq, ts, kind, key, None)
                continue
            count += 1
        return count

    def _decode(self, seq: int, kind: str, key: str, body: bytes, crc: int) -> Any:
        where = f"journal {self.path}: record {seq} ({kind} {key})"
        if not isinstance(body, bytes) or _crc(kind, key, body) != crc:
            raise JournalCorruptError(
                f"{where} fails its checksum; refusing to start. The journal was changed "
                "outside the engine: restore it from a backup."
            )
        if kind not in KINDS:
            raise JournalCorruptError(f"{where} has an unknown kind")
        try:
            return codec.decode(body, KINDS[kind])
        except codec.DecodeError as exc:
            raise JournalCorruptError(f"{where} does not decode: {exc}") from None

    def get_meta(self, key: str) -> Any | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return msgspec.msgpack.decode(row[0]) if row else None

    def set_meta(self, key: str, value: object) -> None:
        with self.batch():
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, msgspec.msgpack.encode(value)),
            )

    def count(self, kind: str | None = None) -> int:
        if kind is None:
            return int(self._db.execute("SELECT COUNT(*) FROM records").fetchone()[0])
        row = self._db.execute("SELECT COUNT(*) FROM records WHERE kind = ?", (kind,))
        return int(row.fetchone()[0])
