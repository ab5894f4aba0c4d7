"""Provides the paper broker's own durable record of orders and executions.

It stands in for the broker's side of the world: it lives in its own SQLite file, apart
from the engine's journal, so that after a crash the engine can reconcile against it the
way it would against a real broker.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path

from engine import codec
from engine.broker.base import BrokerOrder, Execution, OrderStatus

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_id   INTEGER PRIMARY KEY,
    order_ref  TEXT NOT NULL UNIQUE,
    body       BLOB NOT NULL,
    state      TEXT NOT NULL,
    filled     INTEGER NOT NULL DEFAULT 0,
    aggression REAL NOT NULL DEFAULT 0,
    working    REAL,
    code       TEXT NOT NULL DEFAULT '',
    reason     TEXT NOT NULL DEFAULT '',
    updated    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS executions (
    exec_id  TEXT PRIMARY KEY,
    order_id INTEGER NOT NULL,
    body     BLOB NOT NULL,
    ts       INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

OPEN_STATES = ("new", "working", "partially_filled")


class Ledger:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def max_order_id(self) -> int:
        row = self._db.execute("SELECT MAX(order_id) FROM orders").fetchone()
        return int(row[0] or 0)

    def add_order(self, order: BrokerOrder, state: str, code: str = "", reason: str = "") -> None:
        self._db.execute(
            "INSERT INTO orders(order_id, order_ref, body, state, code, reason, updated) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (order.order_id, order.order_ref, codec.encode(order), state, code, reason, order.ts),
        )

    def has_order(self, order_id: int) -> bool:
        row = self._db.execute("SELECT 1 FROM orders WHERE order_id = ?", (order_id,))
        return row.fetchone() is not None

    def update_order(
        self,
        order_id: int,
        *,
        state: str,
        ts: int,
        aggression: float | None = None,
        working: float | None = None,
        code: str = "",
        reason: str = "",
    ) -> None:
        self._db.execute(
            "UPDATE orders SET state = ?, updated = ?, code = ?, reason = ?, "
            "aggression = COALESCE(?, aggression), working = COALESCE(?, working) "
            "WHERE order_id = ?",
            (state, ts, code, reason, aggression, working, order_id),
        )

    def record_execution(self, execution: Execution, new_state: str) -> None:
        """The execution and the order's new filled quantity, in one commit."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                "INSERT INTO executions(exec_id, order_id, body, ts) VALUES (?, ?, ?, ?)",
                (execution.exec_id, execution.order_id, codec.encode(execution), execution.ts),
            )
            self._db.execute(
                "UPDATE orders SET filled = filled + ?, state = ?, updated = ? WHERE order_id = ?",
                (execution.quantity, new_state, execution.ts, execution.order_id),
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def order(self, order_id: int) -> tuple[BrokerOrder, OrderStatus] | None:
        row = self._db.execute(
            "SELECT body, state, filled, working, code, reason, updated FROM orders "
            "WHERE order_id = ?",
            (order_id,),
        ).fetchone()
        return _order_row(row) if row else None

    def order_by_ref(self, order_ref: str) -> tuple[BrokerOrder, OrderStatus] | None:
        row = self._db.execute(
            "SELECT body, state, filled, working, code, reason, updated FROM orders "
            "WHERE order_ref = ?",
            (order_ref,),
        ).fetchone()
        return _order_row(row) if row else None

    def aggression(self, order_id: int) -> float:
        row = self._db.execute("SELECT aggression FROM orders WHERE order_id = ?", (order_id,))
        found = row.fetchone()
        return float(found[0]) if found else 0.0

    def open_orders(self) -> list[tuple[BrokerOrder, OrderStatus]]:
        rows = self._db.execute(
            "SELECT body, state, filled, working, code, reason, updated FROM orders "
            f"WHERE state IN {OPEN_STATES} ORDER BY order_id"
        ).fetchall()
        return [_order_row(row) for row in rows]

    def executions(self) -> list[Execution]:
        rows = self._db.execute("SELECT body FROM executions ORDER BY ts, exec_id").fetchall()
        return [codec.decode(row[0], Execution) for row in rows]

    def execution_count(self, order_id: int) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM executions WHERE order_id = ?", (order_id,))
        return int(row.fetchone()[0])

    def positions(self) -> dict[str, int]:
        """Net quantity per instrument key, summed over every execution."""
        totals: dict[str, int] = defaultdict(int)
        for execution in self.executions():
            for leg in execution.legs:
                totals[leg.instrument.key] += leg.quantity
        return {key: qty for key, qty in totals.items() if qty}


def _order_row(
    row: tuple[bytes, str, int, float | None, str, str, int],
) -> tuple[BrokerOrder, OrderStatus]:
    body, state, filled, working, code, reason, updated = row
    order: BrokerOrder = codec.decode(body, BrokerOrder)
    status = OrderStatus(
        order_id=order.order_id,
        order_ref=order.order_ref,
        state=state,  # type: ignore[arg-type]
        filled=filled,
        remaining=order.quantity - filled,
        working_price=working,
        code=code,
        reason=reason,
        ts=updated,
    )
    return order, status
