"""Provides the paper broker: combo orders worked from mid toward natural, on a durable ledger.

An order starts at the combo's mid and, every ``walk_interval_s`` of engine time, moves a
``walk_step`` fraction of the way toward the natural price (never past its limit). It
fills once it is ``fill_threshold`` of the way across, the point where a market maker
would take the other side, for as many units as the quoted sizes show; the rest keeps
working. Like a real broker it refuses, with a code and a reason, what it cannot trade
whoever sent it: a bad quantity, an expired or unknown contract, no fresh quote. It does
not know the desk's kill switch; the engine checks that before it sends, again at a
restart. The fault switches (disconnect, withheld acks, lost submits, a regressing next
order id, a missing positions report) exist for the engine's fault tests.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from engine.broker.base import (
    BrokerDisconnectedError,
    BrokerListener,
    BrokerOrder,
    Execution,
    OrderStatus,
)
from engine.broker.checks import refusal
from engine.broker.config import PaperBrokerConfig
from engine.broker.ledger import Ledger
from engine.clock import NS_PER_SECOND
from engine.combo import allocate, quote_combo, round_tick
from engine.market.base import MarketSource
from engine.records import LegFill, Option

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Working:
    order: BrokerOrder
    filled: int
    aggression: float
    last_step: int
    acked: bool
    ack_due: int
    outbox: list[OrderStatus | Execution] = field(default_factory=list)


class PaperBroker:
    name = "paper"

    def __init__(
        self,
        ledger_path: str | Path,
        config: PaperBrokerConfig | None = None,
        *,
        market: MarketSource | None = None,
    ) -> None:
        self.config = config or PaperBrokerConfig()
        self._market = market
        self.ledger = Ledger(ledger_path)
        self._listener: BrokerListener | None = None
        self._connected = True
        self._withhold_until = 0
        self._drop_submits = 0
        self._reported_next_id: int | None = None
        self._withhold_positions = False
        self._now = 0
        self._working: dict[int, _Working] = {}
        for order, status in self.ledger.open_orders():
            self._working[order.order_id] = _Working(
                order=order,
                filled=status.filled,
                aggression=self.ledger.aggression(order.order_id),
                last_step=status.ts,
                acked=status.state != "new",
                ack_due=status.ts,
            )

    # --- switches for fault tests ---------------------------------------------------------

    def disconnect(self) -> None:
        self._connected = False
        for work in self._working.values():
            work.outbox.clear()
        if self._listener:
            self._listener.on_connection(False)

    def reconnect(self) -> None:
        self._connected = True
        if self._listener:
            self._listener.on_connection(True)

    def withhold_acks(self, seconds: float) -> None:
        """Accept orders but say nothing about them for ``seconds`` of engine time."""
        self._withhold_until = self._now + int(seconds * NS_PER_SECOND)

    def drop_submits(self, count: int = 1) -> None:
        """Lose the next ``count`` submits in transit: the broker never sees them."""
        self._drop_submits = count

    def report_next_id(self, next_id: int | None) -> None:
        """Report this as the next valid id, as a broker restored from old state might."""
        self._reported_next_id = next_id

    def withhold_positions(self, withhold: bool = True) -> None:
        """Answer the positions request with nothing, as a broker that never reports them."""
        self._withhold_positions = withhold

    # --- Broker protocol ----------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    def set_listener(self, listener: BrokerListener) -> None:
        self._listener = listener

    def next_valid_id(self) -> int:
        if self._reported_next_id is not None:
            return self._reported_next_id
        return self.ledger.max_order_id() + 1

    def submit(self, order: BrokerOrder) -> None:
        if not self._connected:
            raise BrokerDisconnectedError("paper broker is disconnected")
        if self._drop_submits > 0:
            self._drop_submits -= 1
            log.warning("paper broker: submit of order %s lost in transit", order.order_id)
            return
        if self.ledger.has_order(order.order_id):
            self._emit_status(
                order,
                "rejected",
                0,
                None,
                "DUPLICATE_ORDER_ID",
                f"order id {order.order_id} was already used",
            )
            return
        problem = refusal(order, self._market, self.config)
        state = "rejected" if problem else "new"
        self.ledger.add_order(order, state, *(problem or ("", "")))
        if problem:
            self._emit_status(order, "rejected", 0, None, *problem)
            return
        delay = int(self.config.ack_delay_s * NS_PER_SECOND)
        self._working[order.order_id] = _Working(
            order=order,
            filled=0,
            aggression=0.0,
            last_step=order.ts,
            acked=False,
            ack_due=max(order.ts + delay, self._withhold_until),
        )

    def cancel(self, order_id: int) -> None:
        work = self._working.pop(order_id, None)
        if work is None:
            return
        self.ledger.update_order(
            order_id,
            state="cancelled",
            ts=self._now,
            code="CANCELLED",
            reason="cancelled on request",
        )
        self._queue(work, self._status(work, "cancelled", "CANCELLED", "cancelled on request"))
        self._flush(work)

    def find_order(self, order_ref: str) -> OrderStatus | None:
        found = self.ledger.order_by_ref(order_ref)
        return found[1] if found else None

    def open_orders(self) -> list[OrderStatus]:
        return [status for _, status in self.ledger.open_orders()]

    def executions(self) -> list[Execution]:
        return self.ledger.executions()

    def positions(self) -> dict[str, int] | None:
        if self._withhold_positions:
            return None
        return self.ledger.positions()

    def close(self) -> None:
        self.ledger.close()

    # --- working orders -----------------------------------------------------------------

    def on_tick(self, now_ns: int, market: MarketSource) -> None:
        self._now = now_ns
        self._market = market
        for work in list(self._working.values()):
            if not work.acked and now_ns >= max(work.ack_due, self._withhold_until):
                work.acked = True
                self.ledger.update_order(work.order.order_id, state="working", ts=now_ns)
                self._queue(work, self._status(work, "working"))
            self._step(work, now_ns, market)
            self._flush(work)

    def _step(self, work: _Working, now_ns: int, market: MarketSource) -> None:
        order = work.order
        stale_ns = int(self.config.stale_after_s * NS_PER_SECOND)
        quote = quote_combo(order.legs, market, now_ns, stale_ns)
        if not quote.ok or not math.isfinite(quote.mid):
            return  # nothing trades on a price we cannot trust; the order waits
        interval = int(self.config.walk_interval_s * NS_PER_SECOND)
        steps = (now_ns - work.last_step) // interval if interval > 0 else 1
        if steps > 0:
            work.aggression = min(1.0, work.aggression + steps * self.config.walk_step)
            work.last_step += steps * interval if interval > 0 else now_ns - work.last_step
        width = quote.natural - quote.mid
        price = round_tick(quote.mid + work.aggression * width)
        clearing = quote.mid + self.config.fill_threshold * width
        if order.limit is not None:
            price = min(price, order.limit)
        self.ledger.update_order(
            order.order_id,
            state=self._open_state(work),
            ts=now_ns,
            aggression=work.aggression,
            working=price,
        )
        if price < clearing - 1e-9 or quote.size < 1:
            return
        fill_price = price + self.config.slippage_ticks * 0.01
        if order.limit is not None:
            fill_price = min(fill_price, order.limit)
        units = min(order.quantity - work.filled, quote.size)
        self._execute(
            work,
            units,
            round_tick(fill_price),
            allocate(order.legs, quote, round_tick(fill_price), units),
            now_ns,
        )

    def _execute(
        self, work: _Working, units: int, net: float, legs: tuple[LegFill, ...], now_ns: int
    ) -> None:
        order = work.order
        seq = self.ledger.execution_count(order.order_id) + 1
        execution = Execution(
            exec_id=f"P{order.order_id}.{seq}",
            order_id=order.order_id,
            order_ref=order.order_ref,
            position_id=order.position_id,
            intent=order.intent,
            quantity=units,
            net_price=net,
            legs=legs,
            commission=self._commission(legs),
            ts=now_ns,
        )
        work.filled += units
        state = "filled" if work.filled >= order.quantity else "partially_filled"
        self.ledger.record_execution(execution, state)
        self._queue(work, execution)
        self._queue(work, self._status(work, state))
        if state == "filled":
            self._working.pop(order.order_id, None)

    def settle(
        self,
        order: BrokerOrder,
        prices: dict[str, float],
        now_ns: int,
        *,
        source: str = "expiration",
        commission: float = 0.0,
    ) -> Execution:
        """Book an execution at given per-leg prices at once: expirations and the demo book."""
        legs = tuple(
            LegFill(
                instrument=leg.instrument,
                quantity=leg.ratio * order.quantity,
                price=prices[leg.instrument.key],
            )
            for leg in order.legs
        )
        self.ledger.add_order(order, "new")
        net = sum(leg.ratio * prices[leg.instrument.key] for leg in order.legs)
        execution = Execution(
            exec_id=f"P{order.order_id}.1",
            order_id=order.order_id,
            order_ref=order.order_ref,
            position_id=order.position_id,
            intent=order.intent,
            quantity=order.quantity,
            net_price=round(net, 4),
            legs=legs,
            commission=commission,
            ts=now_ns,
            source=source,
        )
        self.ledger.record_execution(execution, "filled")
        return execution

    def _commission(self, legs: tuple[LegFill, ...]) -> float:
        cents = 0.0
        for leg in legs:
            rate = (
                self.config.commission_per_contract
                if isinstance(leg.instrument, Option)
                else self.config.commission_per_share
            )
            cents += abs(leg.quantity) * rate * 100
        return round(cents) / 100

    def _open_state(self, work: _Working) -> str:
        if not work.acked:
            return "new"
        return "partially_filled" if work.filled else "working"

    def _status(self, work: _Working, state: str, code: str = "", reason: str = "") -> OrderStatus:
        return OrderStatus(
            order_id=work.order.order_id,
            order_ref=work.order.order_ref,
            state=state,  # type: ignore[arg-type]
            filled=work.filled,
            remaining=work.order.quantity - work.filled,
            code=code,
            reason=reason,
            ts=self._now,
        )

    def _emit_status(
        self,
        order: BrokerOrder,
        state: str,
        filled: int,
        price: float | None,
        code: str,
        reason: str,
    ) -> None:
        if self._listener and self._connected:
            self._listener.on_order_status(
                OrderStatus(
                    order_id=order.order_id,
                    order_ref=order.order_ref,
                    state=state,  # type: ignore[arg-type]
                    filled=filled,
                    remaining=order.quantity - filled,
                    working_price=price,
                    code=code,
                    reason=reason,
                    ts=order.ts,
                )
            )

    def _queue(self, work: _Working, message: OrderStatus | Execution) -> None:
        if self._connected:
            work.outbox.append(message)

    def _flush(self, work: _Working) -> None:
        """Deliver what the engine may hear: nothing while disconnected or unacknowledged."""
        if not (self._connected and work.acked and self._listener):
            return
        pending, work.outbox = work.outbox, []
        for message in pending:
            if isinstance(message, Execution):
                self._listener.on_execution(message)
            else:
                self._listener.on_order_status(message)
