"""Broker faults (FAULTS.md rows 18-20): the link to the broker fails, the engine stays honest.

* 18: while the broker is disconnected new orders are refused with a reason; on reconnect
  the engine pulls the executions it missed, the orders' states and checks positions
  before it takes orders again, so the book equals the broker's from the first command on
  (or trading halts, naming the difference, when the broker holds something it did not).
* 19: a broker that reports a lower next order id (restored from old state) never makes
  the engine reuse an id; every order carries its command id as the broker's reference.
* 20: an order whose acknowledgement never arrives is shown "unknown", looked up by its
  reference and never sent twice; one the broker never received ends rejected
  NOT_ACKNOWLEDGED after the configured look-ups.

The paper broker's switches (disconnect/reconnect, withhold_acks, drop_submits,
report_next_id) are the only fakes; everything else is the real engine on a real journal.
"""

from __future__ import annotations

from collections import defaultdict

from engine.broker.base import BrokerOrder, Execution
from engine.engine import Engine
from engine.records import Leg, LegFill, Order, OrderUpdated
from engine.runner import build_engine, start
from tests.engine.conftest import advance, close, engine_config, open_engine, until


def net_positions(engine: Engine) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for position in engine.book.open_positions():
        for key, leg in position.legs.items():
            if leg.quantity:
                totals[key] += leg.quantity
    return dict(totals)


def order_history(engine: Engine, order_id: int) -> list[Order]:
    """Every state the engine publishes for one order from now on, in order."""
    seen: list[Order] = []
    engine.bus.listeners.append(
        lambda event: (
            seen.append(event.order)
            if isinstance(event, OrderUpdated) and event.order.order_id == order_id
            else None
        )
    )
    return seen


def alert_codes(engine: Engine) -> list[str]:
    return [alert.code for alert in engine.alerts]


# --- 18: disconnect, then reconcile before unblocking -------------------------------------


def test_while_the_broker_is_down_new_orders_are_refused_with_a_reason(engine):
    orders_before = len(engine.orders)

    engine.broker.disconnect()
    refused = engine.execute(close("AAPL-4"))

    assert (refused.accepted, refused.code) == (False, "BROKER_DISCONNECTED")
    assert "broker is disconnected" in refused.message
    assert len(engine.orders) == orders_before
    assert engine.status().broker_connected is False
    assert alert_codes(engine)[-1] == "BROKER_DISCONNECTED"


def test_on_reconnect_missed_executions_are_reconciled_before_orders_are_taken(engine):
    # Arrange: a close working at the broker when the link drops, and filled while it is down.
    working = engine.execute(close("IWM-3"))
    assert working.accepted, working.message
    engine.broker.disconnect()
    ledger = engine.broker.ledger
    until(engine, lambda: ledger.order(working.order_id)[1].state == "filled")
    assert engine.orders[working.order_id].state != "filled", "nothing crosses a dead link"
    assert net_positions(engine) != ledger.positions()

    # Act
    engine.broker.reconnect()

    # Assert: before any tick or command, the fill is in and the book is the broker's.
    assert engine.orders[working.order_id].state == "filled"
    assert engine.book.positions["IWM-3"].closed_at is not None
    assert net_positions(engine) == ledger.positions()
    codes = alert_codes(engine)
    assert codes.index("FILLS_RECOVERED") < codes.index("BROKER_RECONNECTED")
    assert engine.status().broker_connected is True
    after = engine.execute(close("AAPL-4"))
    assert after.accepted, after.message


def test_an_order_still_working_at_reconnect_is_working_on_both_sides(engine):
    # Buying back the short put for a cent: patient, it will not fill.
    working = engine.execute(close("NVDA-5", limit=0.01))
    assert working.accepted, working.message
    engine.broker.disconnect()
    advance(engine, 4)

    engine.broker.reconnect()
    advance(engine)

    assert engine.orders[working.order_id].state == "working"
    assert engine.broker.ledger.order(working.order_id)[1].state == "working"
    assert engine.working_positions() == {"NVDA-5": "closing"}
    assert net_positions(engine) == engine.broker.ledger.positions()


def test_a_trade_booked_at_the_broker_while_disconnected_halts_trading_on_reconnect(engine):
    # Arrange: while the link is down, someone sells a put at the broker, outside the desk.
    put = next(leg.instrument for leg in engine.book.positions["NVDA-5"].open_legs)
    engine.broker.disconnect()
    ledger = engine.broker.ledger
    order = BrokerOrder(
        order_id=900,
        order_ref="placed-at-the-broker-by-hand",
        position_id="",
        intent="open",
        legs=(Leg(instrument=put, ratio=-1),),
        quantity=1,
        limit=None,
        ts=engine.now(),
    )
    ledger.add_order(order, "filled")
    ledger.record_execution(
        Execution(
            exec_id="MANUAL.1",
            order_id=900,
            order_ref=order.order_ref,
            position_id="",
            intent="open",
            quantity=1,
            net_price=-4.0,
            legs=(LegFill(instrument=put, quantity=-1, price=4.0),),
            commission=0.65,
            ts=engine.now(),
        ),
        "filled",
    )

    # Act
    engine.broker.reconnect()
    refused = engine.execute(close("AAPL-4"))

    # Assert: positions were checked before unblocking, and the difference halts trading.
    assert f"{put.key.strip()}: journal -1, broker -2" in engine.halt_reason
    assert "POSITION_MISMATCH" in alert_codes(engine)
    assert (refused.accepted, refused.code) == (False, "TRADING_HALTED")
    assert "MANUAL.1" not in engine.book.fill_ids, "not taken into the book as if it were ours"


# --- 19: an order id sequence that goes backwards ------------------------------------------


def test_a_lower_next_id_from_the_broker_never_makes_the_engine_reuse_an_id(engine):
    first = engine.execute(close("IWM-3", quantity=1))
    until(engine, lambda: engine.orders[first.order_id].state == "filled")
    used = set(engine.orders)

    engine.broker.report_next_id(1)
    second = engine.execute(close("SPY-1", quantity=1))
    until(engine, lambda: engine.orders[second.order_id].state == "filled")

    assert second.accepted, second.message
    assert second.order_id not in used and second.order_id > max(used)
    assert all(o.code != "DUPLICATE_ORDER_ID" for o in engine.orders.values())


def test_after_a_restart_a_broker_reporting_old_ids_gets_strictly_higher_ones(tmp_path):
    # Arrange: a session that used ids, then a restart where the broker reports id 1 next.
    config = engine_config(tmp_path)
    engine = open_engine(config)
    placed = [engine.execute(close(pid, quantity=1)) for pid in ("IWM-3", "SPY-1")]
    until(engine, lambda: all(engine.orders[r.order_id].state == "filled" for r in placed))
    high = max(engine.orders)
    engine.shutdown()
    engine = build_engine(config)
    engine.broker.report_next_id(1)
    start(engine)

    # Act
    results = [engine.execute(close(pid)) for pid in ("AAPL-4", "NVDA-5", "QQQ-2")]
    until(engine, lambda: all(engine.orders[r.order_id].state == "filled" for r in results))

    # Assert: ids strictly increase past everything used, and the broker took each once.
    ids = [r.order_id for r in results]
    assert ids == sorted(ids) and len(set(ids)) == 3 and ids[0] > high
    for result in results:
        at_broker, status = engine.broker.ledger.order_by_ref(result.command_id)
        assert at_broker.order_id == result.order_id, "the order's reference is its command id"
        assert status.code != "DUPLICATE_ORDER_ID"
    engine.shutdown()


# --- 20: ambiguous submits ------------------------------------------------------------------


def test_a_withheld_ack_shows_unknown_is_looked_up_by_reference_and_never_resent(engine):
    # Arrange: the broker takes orders but says nothing for a minute (ack timeout is 10 s).
    engine.broker.withhold_acks(60)
    orders_at_broker = engine.broker.ledger.max_order_id()

    # Act
    result = engine.execute(close("NVDA-5"))
    history = order_history(engine, result.order_id)
    until(engine, lambda: engine.orders[result.order_id].state == "filled")
    advance(engine, 6)  # past the withheld ack: the late messages arrive and change nothing

    # Assert
    states = [o.state for o in history]
    assert states[0] == "unknown" and history[0].reason == "not acknowledged – checking"
    assert "found at the broker by its reference" in {o.reason for o in history}
    assert "rejected" not in states
    assert engine.broker.ledger.max_order_id() == orders_at_broker + 1, "sent exactly once"
    assert [x.order_id for x in engine.broker.executions()].count(result.order_id) == 1
    assert engine.orders[result.order_id].filled_quantity == 1
    assert engine.book.positions["NVDA-5"].closed_at is not None
    assert net_positions(engine) == engine.broker.ledger.positions()


def test_a_lost_submit_is_rejected_not_acknowledged_after_the_look_ups_and_never_resent(
    tmp_path,
):
    # Arrange
    engine = open_engine(
        engine_config(
            tmp_path, broker={"ack_timeout_s": 10, "lookup_interval_s": 2, "lookup_attempts": 5}
        )
    )
    engine.broker.drop_submits(1)
    orders_at_broker = engine.broker.ledger.max_order_id()
    command = close("SPY-7")

    # Act
    result = engine.execute(command)
    history = order_history(engine, result.order_id)
    until(engine, lambda: engine.orders[result.order_id].state == "rejected")
    again = engine.execute(command)

    # Assert: unknown while it was looked up, then rejected; the broker never saw it.
    order = engine.orders[result.order_id]
    assert result.accepted and history[0].state == "unknown"
    assert (order.code, order.reason) == (
        "NOT_ACKNOWLEDGED",
        "the broker never acknowledged it (5 look-ups)",
    )
    assert order.updated_at - order.created_at >= (10 + 4 * 2) * 10**9
    assert engine.broker.ledger.max_order_id() == orders_at_broker
    assert engine.broker.ledger.order_by_ref(command.command_id) is None
    assert again.duplicate and again.order_id == result.order_id
    assert "NOT_ACKNOWLEDGED" in alert_codes(engine)
    # The position is free again: a new close goes through and fills.
    retry = engine.execute(close("SPY-7"))
    until(engine, lambda: engine.orders[retry.order_id].state == "filled")
    assert net_positions(engine) == engine.broker.ledger.positions()
    engine.shutdown()
