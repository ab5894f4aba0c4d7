"""End to end in real terminals: one headless engine on Redis, two traders' desks attached.

Issue 4's "done when", as a user would do it: `desk engine --redis URL --name demo` runs as
its own process; alice and bob each run `desk --connect URL --name demo --trader NAME` in
a 120×40 tmux pane. Both desks show the same book. Alice closes a position and Bob rolls
another with the keys; both desks show both fills. Redis is then SIGKILLed: both desks
say so at once, and when it is back they show the book live again. Afterwards the
engine's journal holds exactly one command, one order and the fills of each action,
signed by the trader who pressed the key.
"""

from __future__ import annotations

import re

import pytest

from engine.journal import Journal
from engine.records import ClosePosition, RollPosition
from tests import tmux
from tests.remote.harness import TRADER_KEYS, EngineProcess
from tests.tmux import DESK, POSITION_ROW, Tmux, desk_env

pytestmark = [
    pytest.mark.skipif(not tmux.available(), reason="tmux is not installed (apt-get install tmux)"),
    pytest.mark.timeout(240),
]

NAME = "demo"
CLOSE_TITLE = re.compile(r"Close \w+ .+? \(([A-Z]+-\d+)\)")
ROLL_TITLE = re.compile(r"Roll \w+ .+? \(([A-Z]+-\d+)\)")
CANDIDATE = re.compile(r"\d{4}-\d\d-\d\d\s+\d+\s+[\d/.]+\s+[\d.]+ (credit|debit)")
# A grid row: marker, symbol, strategy, quantity, DTE (the live numbers after them move).
ROW = re.compile(r"[▸▾] ([A-Z]+)\s+([a-z][a-z ]*?)\s+(-?\d+)\s+(\d+)\s")
FEED_LOST = re.compile(r"\b(DOWN|RECONNECTING)\b")


def book(screen: str) -> list[tuple[str, ...]]:
    return [m.groups() for line in screen.splitlines() if (m := ROW.search(line))]


def open_desk(tmp_path, url: str, trader: str) -> Tmux:
    command = [str(DESK), "--connect", url, "--name", NAME, "--trader", trader]
    env = {**desk_env(tmp_path / trader), "DESK_SIGNING_KEY": TRADER_KEYS[trader]}
    return Tmux(tmp_path / f"tmux-{trader}", command, width=120, height=40, env=env, cwd=tmp_path)


def test_two_desks_on_one_engine_act_once_each_and_ride_out_a_redis_restart(
    persistent_redis, tmp_path
):
    engine = EngineProcess(tmp_path / "engine", persistent_redis.url, name=NAME)
    with engine:
        engine.start()
        alice = open_desk(tmp_path, persistent_redis.url, "alice")
        bob = open_desk(tmp_path, persistent_redis.url, "bob")
        desks = (alice, bob)
        try:
            for desk in desks:
                desk.wait_for(POSITION_ROW, timeout=30)
                desk.wait_for("LIVE", timeout=10)
            # Same positions, same order: symbol, strategy, quantity, DTE.
            bob.wait_for(lambda s: book(s) == book(alice.screen()), timeout=10)
            assert len(book(alice.screen())) >= 5

            alice.send("Down")
            alice.send("Down")
            alice.send("c")
            closed = CLOSE_TITLE.search(alice.wait_for("estimated fill", timeout=15))
            assert closed, alice.screen()
            alice.send("Enter")
            for desk in desks:
                desk.wait_for(re.compile(rf"{re.escape(closed[1])}\s+close\s+\d"), timeout=45)

            bob.send("r")
            screen = bob.wait_for(CANDIDATE, timeout=15)
            rolled = ROLL_TITLE.search(screen)
            assert rolled and rolled[1] != closed[1], screen
            bob.send("Enter")
            for desk in desks:
                desk.wait_for(re.compile(rf"{re.escape(rolled[1])}\s+roll\s+\d"), timeout=45)

            persistent_redis.kill()
            for desk in desks:
                desk.wait_for(FEED_LOST, timeout=10)
            persistent_redis.start()
            for desk in desks:
                desk.wait_for(lambda s: "LIVE" in s and not FEED_LOST.search(s), timeout=30)
            bob.wait_for(lambda s: book(s) == book(alice.screen()), timeout=10)
        finally:
            for desk in desks:
                desk.close()
        assert engine.stop() == 0, engine.log()

    journal = Journal(engine.journal)
    try:
        entries = list(journal.entries())
    finally:
        journal.close()
    commands = [e.record for e in entries if e.kind == "command"]
    closes = [c for c in commands if isinstance(c, ClosePosition) and c.position_id == closed[1]]
    rolls = [c for c in commands if isinstance(c, RollPosition) and c.position_id == rolled[1]]
    assert [c.actor for c in closes] == ["alice"], closes
    assert [c.actor for c in rolls] == ["bob"], rolls
    for command in (closes[0], rolls[0]):
        orders = {
            e.record.order_id
            for e in entries
            if e.kind == "order" and e.record.command_id == command.command_id
        }
        fills = [e.record for e in entries if e.kind == "fill"]
        assert len(orders) == 1, (command, orders)
        mine = [f for f in fills if f.command_id == command.command_id]
        assert mine and sum(f.quantity for f in mine) > 0, command
        assert len({f.fill_id for f in mine}) == len(mine)  # no fill journaled twice
