"""Provides the roll dialog: the engine's roll candidates; arrows choose, Enter sends.

Each candidate shows the target expiry and strikes, the net credit or debit at mid, the
credit per extra day and how the Greeks would change. Enter sends one RollPosition with
the command id fixed for this choice, so a repeated Enter cannot roll twice.
"""

from __future__ import annotations

import time
import uuid
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from engine.feed import Feed, FeedError
from engine.records import CommandResult, PositionView, RollCandidate, RollPosition
from widgets import _format as fmt
from widgets._table import Cell, Column, LineTable, Row

COLUMNS = (
    Column("expiry", "Expiry", 10, "left"),
    Column("dte", "DTE", 4),
    Column("strikes", "Strikes", 17, "left"),
    Column("net", "Net @mid", 11),
    Column("per_day", "$/day", 7),
    Column("delta", "ΔΔ", 6),
    Column("theta", "ΔΘ", 6),
    Column("vega", "ΔVega", 6, drop=1),
)


class RollDialog(ModalScreen[CommandResult | None]):
    DEFAULT_CSS = """
    RollDialog { align: center middle; }
    RollDialog > Vertical { width: 90; max-width: 98%; height: 80%; border: thick $warning;
                            background: $surface; padding: 0 1; }
    RollDialog .title { text-style: bold; }
    RollDialog LineTable { height: 1fr; }
    RollDialog #result { min-height: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "send_roll", "Roll", priority=True),
    ]

    def __init__(self, feed: Feed, position: PositionView, actor: str) -> None:
        super().__init__()
        self.feed = feed
        self.position = position
        self.actor = actor
        self.candidates: dict[str, RollCandidate] = {}
        self.ids: dict[str, str] = {}
        self.sending = False

    def compose(self) -> ComposeResult:
        p = self.position
        with Vertical():
            yield Static(
                f"Roll {p.underlying} {p.strategy} ({p.position_id}), expiring "
                f"{p.expiry} ({p.dte} DTE)",
                classes="title",
                markup=False,
            )
            yield LineTable(COLUMNS, empty="asking the engine for candidates…", id="candidates")
            yield Static("↑/↓ choose · Enter rolls · Esc cancels", id="result")
        yield Footer()  # the dialog's own keys, not the desk's underneath

    def on_mount(self) -> None:
        self.query_one(LineTable).focus()
        self.load()

    @work(exclusive=True, group="candidates", exit_on_error=False)
    async def load(self) -> None:
        table = self.query_one(LineTable)
        try:
            candidates = await self.feed.roll_candidates(self.position.position_id)
        except (FeedError, ConnectionError, OSError) as exc:
            table.empty_text = f"no candidates: {exc}"
            table.set_rows([])
            return
        rows = []
        for candidate in candidates:
            key = f"{candidate.to_expiry}:{','.join(f'{s:g}' for s in candidate.strikes)}"
            self.candidates[key] = candidate
            rows.append(_row(key, candidate))
        table.empty_text = "no later expiry is listed for this position"
        table.set_rows(rows)

    def action_cancel(self) -> None:
        if not self.sending:
            self.dismiss(None)

    @on(LineTable.Toggled)
    def _chosen(self) -> None:
        self.action_send_roll()

    def action_send_roll(self) -> None:
        row = self.query_one(LineTable).row_at_cursor()
        if self.sending or row is None or row.key not in self.candidates:
            return
        candidate = self.candidates[row.key]
        command_id = self.ids.setdefault(row.key, uuid.uuid4().hex[:16])
        self.sending = True
        self.query_one("#result", Static).update("[$text-muted]sent, waiting for the engine…[/]")
        self.send(
            RollPosition(
                command_id=command_id,
                actor=self.actor,
                issued_at=time.time_ns(),
                position_id=self.position.position_id,
                to_expiry=candidate.to_expiry,
                strikes=candidate.strikes,
            )
        )

    @work(exclusive=True, group="send", exit_on_error=False)
    async def send(self, command: RollPosition) -> None:
        try:
            result = await self.feed.send(command)
        except (FeedError, ConnectionError, OSError, TimeoutError) as exc:
            self.sending = False
            self.query_one("#result", Static).update(
                f"[b $critical]NOT CONFIRMED[/] {exc} (command {command.command_id})"
            )
            return
        if result.accepted:
            self.dismiss(result)
            return
        self.sending = False
        self.ids.clear()
        self.query_one("#result", Static).update(
            f"[b $critical]REFUSED[/] {result.code}: {result.message}"
        )


def _row(key: str, c: RollCandidate) -> Row:
    net = c.net_price
    price = fmt.DASH if net is None else f"{abs(net):.2f} {'credit' if net < 0 else 'debit'}"
    g = c.greeks_change
    stale = c.mark_state != "ok"
    return Row(
        key=key,
        cells=(
            Cell(c.to_expiry.isoformat()),
            Cell(str(c.dte)),
            Cell("/".join(f"{s:g}" for s in c.strikes)),
            Cell(
                price + (" STALE" if stale else ""),
                "stale" if stale else ("up" if (net or 0) < 0 else "down"),
            ),
            Cell(fmt.num(c.credit_per_day, 2, sign=True), fmt.tone(c.credit_per_day)),
            Cell(fmt.num(g.delta, 0, sign=True)),
            Cell(fmt.num(g.theta, 0, sign=True), fmt.tone(g.theta)),
            Cell(fmt.num(g.vega, 0, sign=True)),
        ),
        sort=(c.to_expiry, c.dte, c.strikes, net, c.credit_per_day, g.delta, g.theta, g.vega),
    )
