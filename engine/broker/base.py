"""Provides the broker interface the engine trades through, and its wire records."""

from __future__ import annotations

from typing import Protocol

import msgspec

from engine.records import Leg, LegFill, OrderIntent, OrderState


class BrokerOrder(msgspec.Struct, frozen=True, kw_only=True):
    """A combo order as sent. ``order_ref`` is the command id: it finds the order again."""

    order_id: int
    order_ref: str
    position_id: str
    intent: OrderIntent
    legs: tuple[Leg, ...]
    quantity: int
    limit: float | None
    ts: int


class Execution(msgspec.Struct, frozen=True, kw_only=True):
    """One fill as the broker reports it; ``exec_id`` is unique for ever."""

    exec_id: str
    order_id: int
    order_ref: str
    position_id: str
    intent: OrderIntent
    quantity: int
    net_price: float
    legs: tuple[LegFill, ...]
    commission: float
    ts: int
    source: str = "broker"


class OrderStatus(msgspec.Struct, frozen=True, kw_only=True):
    order_id: int
    order_ref: str
    state: OrderState
    filled: int
    remaining: int
    working_price: float | None = None
    code: str = ""
    reason: str = ""
    ts: int


class BrokerListener(Protocol):
    def on_order_status(self, status: OrderStatus) -> None: ...

    def on_execution(self, execution: Execution) -> None: ...

    def on_connection(self, connected: bool) -> None: ...


class BrokerDisconnectedError(ConnectionError):
    """The broker cannot take orders now."""


class Broker(Protocol):
    name: str

    @property
    def connected(self) -> bool: ...

    def set_listener(self, listener: BrokerListener) -> None: ...

    def next_valid_id(self) -> int: ...

    def submit(self, order: BrokerOrder) -> None: ...

    def cancel(self, order_id: int) -> None: ...

    def find_order(self, order_ref: str) -> OrderStatus | None: ...

    def open_orders(self) -> list[OrderStatus]: ...

    def executions(self) -> list[Execution]: ...

    def positions(self) -> dict[str, int] | None:
        """Net quantity per instrument key, or None when the broker does not answer."""
        ...

    def close(self) -> None: ...
