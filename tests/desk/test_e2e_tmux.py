"""End to end in a real terminal: `desk` in tmux, a position closed by keys, the journal checked.

The desk runs as a real process in a 120×40 tmux pane (a real pty), on a temp journal and
temp XDG directories, with the market running at its configured speed. The test selects
the third position with the arrow keys, presses `c`, waits for the engine's preview and
confirms with Enter, waits for the close fill to show in Recent fills, quits with `q`
(confirming if orders are still working), and then reads the journal the process left:
one ClosePosition command and close orders for that position, exactly one close fill,
and the position closed when the journal's fills are folded into a fresh book.
"""

from __future__ import annotations

import re

import pytest

from engine.journal import Journal
from engine.portfolio import Book
from engine.records import ClosePosition
from tests import tmux
from tests.tmux import POSITION_ROW, Tmux, desk_command, desk_env

pytestmark = [
    pytest.mark.skipif(not tmux.available(), reason="tmux is not installed (apt-get install tmux)"),
    pytest.mark.timeout(120),
]

DIALOG_TITLE = re.compile(r"Close (\w+) (.+?) \(([A-Z]+-\d+)\)")


def test_close_a_position_with_keys_then_the_journal_shows_it_closed(tmp_path):
    journal = tmp_path / "state" / "desk.journal.db"
    with Tmux(
        tmp_path / "tmux",
        desk_command(journal),
        width=120,
        height=40,
        env=desk_env(tmp_path),
        cwd=tmp_path,  # no ./desk.toml here: built-in defaults, as a new user gets
    ) as term:
        term.wait_for(POSITION_ROW, timeout=30)
        term.send("Down")
        term.send("Down")
        term.send("c")
        # Enter only confirms once the engine's preview is in (the button is disabled
        # until then), so wait for it rather than for the dialog alone.
        screen = term.wait_for("estimated fill", timeout=15)
        title = DIALOG_TITLE.search(screen)
        assert title, screen
        position_id = title[3]
        assert position_id.startswith(("IWM-", "SPY-", "QQQ-", "AAPL-", "NVDA-", "TSLA-"))

        term.send("Enter")
        # The fill, newest first in Recent fills: "09:31:15 IWM-3 … close  2 …".
        term.wait_for(re.compile(rf"{re.escape(position_id)}\s+close\s+\d"), timeout=45)

        term.send("q")
        screen = term.wait_for(
            lambda s: "Quit with orders working?" in s or term.dead()[0], timeout=10, alive=False
        )
        if "Quit with orders working?" in screen and not term.dead()[0]:
            term.send("y")
        status = term.wait_exit(timeout=15)
        assert status == "0", term.screen()

    with_journal = Journal(journal)
    try:
        entries = list(with_journal.entries())
    finally:
        with_journal.close()
    commands = [
        e.record
        for e in entries
        if e.kind == "command"
        and isinstance(e.record, ClosePosition)
        and e.record.position_id == position_id
    ]
    close_orders = {
        e.record.order_id
        for e in entries
        if e.kind == "order" and e.record.position_id == position_id and e.record.intent == "close"
    }
    fills = [e.record for e in entries if e.kind == "fill"]
    close_fills = [f for f in fills if f.position_id == position_id and f.intent == "close"]

    assert len(commands) == 1, commands
    assert len(close_orders) == 1, close_orders
    assert len(close_fills) == 1, close_fills
    assert close_fills[0].command_id == commands[0].command_id
    book = Book(0.0)
    for fill in fills:
        book.apply_fill(fill)
    assert book.positions[position_id].closed_at is not None
    assert all(p.closed_at is None for k, p in book.positions.items() if k != position_id)
