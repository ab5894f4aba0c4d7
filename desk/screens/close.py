"""Provides the close dialog: legs, quantity, limit, estimated fill, Greeks before → after.

The command id is made when the dialog opens, so a repeated Enter can only resend the same
command, which the engine answers once. Confirm stays disabled from the moment it is
pressed until the engine's result is back, and the result is shown in the engine's words.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Static

from engine.feed import Feed, FeedError
from engine.records import ClosePosition, ClosePreview, CommandResult, Greeks, Option, PositionView
from widgets import _format as fmt


class CloseDialog(ModalScreen[CommandResult | None]):
    DEFAULT_CSS = """
    CloseDialog { align: center middle; }
    CloseDialog > Vertical { width: 76; max-width: 98%; height: auto; max-height: 95%;
                             border: thick $warning; background: $surface; padding: 0 1; }
    CloseDialog .title { text-style: bold; }
    CloseDialog Horizontal { height: auto; }
    CloseDialog Input { width: 1fr; }
    CloseDialog .label { width: 12; padding: 1 0 0 0; }
    CloseDialog #result { min-height: 1; }
    CloseDialog #buttons { align-horizontal: right; }
    CloseDialog Button { margin-left: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, feed: Feed, position: PositionView, actor: str) -> None:
        super().__init__()
        self.feed = feed
        self.position = position
        self.actor = actor
        self.command_id = _new_id()
        self.preview: ClosePreview | None = None
        self.sending = False

    def compose(self) -> ComposeResult:
        p = self.position
        with Vertical():
            yield Static(
                f"Close {p.underlying} {p.strategy} ({p.position_id})",
                classes="title",
                markup=False,
            )
            yield Static(_legs(p), id="legs", markup=False)
            with Horizontal():
                yield Static("Quantity", classes="label")
                yield Input(
                    str(p.quantity), id="quantity", type="integer", placeholder=f"1–{p.quantity}"
                )
            with Horizontal():
                yield Static("Limit", classes="label")
                yield Input("", id="limit", type="number", placeholder="blank: work from mid")
            yield Static("fetching the engine's preview…", id="preview")
            yield Static("", id="result")
            with Horizontal(id="buttons"):
                yield Button("Cancel (esc)", id="cancel")
                yield Button("Close position (enter)", id="confirm", variant="error", disabled=True)
        yield Footer()  # the dialog's own keys, not the desk's underneath

    def on_mount(self) -> None:
        quantity = self.query_one_optional("#quantity", Input)
        if quantity is None:
            return  # the app quit as the dialog opened: it was never composed
        quantity.focus()
        self.refresh_preview()

    def _inputs(self) -> tuple[int | None, float | None, str]:
        raw_qty = self.query_one("#quantity", Input).value.strip()
        raw_limit = self.query_one("#limit", Input).value.strip()
        try:
            quantity = int(raw_qty) if raw_qty else None
            limit = float(raw_limit) if raw_limit else None
        except ValueError:
            return None, None, "quantity must be a whole number and limit a price"
        if quantity is not None and not 1 <= quantity <= self.position.quantity:
            return None, None, f"quantity must be between 1 and {self.position.quantity}"
        return quantity, limit, ""

    @on(Input.Changed)
    def _changed(self) -> None:
        if not self.sending:
            self.command_id = _new_id()  # different terms make a different command
            self.refresh_preview()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.confirm()

    @work(exclusive=True, group="preview", exit_on_error=False)
    async def refresh_preview(self) -> None:
        quantity, limit, problem = self._inputs()
        confirm = self.query_one("#confirm", Button)
        if problem:
            self.query_one("#preview", Static).update(f"[$warning]{problem}[/]")
            confirm.disabled = True
            return
        try:
            preview = await self.feed.close_preview(self.position.position_id, quantity, limit)
        except (FeedError, ConnectionError, OSError) as exc:
            self.query_one("#preview", Static).update(f"[$critical]no preview: {exc}[/]")
            confirm.disabled = True
            return
        self.preview = preview
        self.query_one("#preview", Static).update(_preview_text(preview))
        confirm.disabled = self.sending or preview.estimated_fill is None

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if not self.sending:
            self.dismiss(None)

    @on(Button.Pressed, "#confirm")
    def _pressed(self) -> None:
        self.confirm()

    def confirm(self) -> None:
        button = self.query_one("#confirm", Button)
        if self.sending or button.disabled:
            return
        quantity, limit, problem = self._inputs()
        if problem:
            return
        self.sending = True
        button.disabled = True
        self.query_one("#result", Static).update("[$text-muted]sent, waiting for the engine…[/]")
        self.send(
            ClosePosition(
                command_id=self.command_id,
                actor=self.actor,
                issued_at=_now_ns(),
                position_id=self.position.position_id,
                quantity=quantity,
                limit=limit,
            )
        )

    @work(exclusive=True, group="send", exit_on_error=False)
    async def send(self, command: ClosePosition) -> None:
        try:
            result = await self.feed.send(command)
        except (FeedError, ConnectionError, OSError, TimeoutError) as exc:
            self.sending = False
            self.query_one("#result", Static).update(
                f"[b $critical]NOT CONFIRMED[/] {exc}: the close may or may not have reached "
                f"the engine; its id is {command.command_id}"
            )
            self.query_one("#confirm", Button).disabled = False
            return
        if result.accepted:
            self.dismiss(result)
            return
        self.sending = False
        self.command_id = _new_id()
        self.query_one("#result", Static).update(
            f"[b $critical]REFUSED[/] {result.code}: {result.message}"
        )
        self.query_one("#confirm", Button).disabled = False


def _new_id() -> str:
    return uuid.uuid4().hex[:16]


def _now_ns() -> int:
    import time

    return time.time_ns()


def _legs(position: PositionView) -> str:
    lines = []
    for leg in position.legs:
        inst = leg.instrument
        name = inst.describe() if isinstance(inst, Option) else f"{inst.symbol} stock"
        lines.append(
            f"  {leg.quantity:+5d}  {name:<22} avg {fmt.price(leg.avg_price):>8}  "
            f"mark {fmt.price(leg.mark):>8}  {_flag(leg.mark_state)}"
        )
    return "\n".join(lines)


def _side(net: float | None) -> str:
    """A signed combo price as a trader says it: 1.25 credit, 0.80 debit."""
    if net is None:
        return fmt.DASH
    return f"{abs(net):.2f} {'credit' if net < 0 else 'debit'}"


def _flag(state: str) -> str:
    return "" if state == "ok" else state.upper()


def _greeks_line(name: str, before: Greeks, after: Greeks) -> str:
    def pair(a: float, b: float, decimals: int = 0) -> str:
        return f"{fmt.num(a, decimals, sign=True)} → {fmt.num(b, decimals, sign=True)}"

    return (
        f"{name} Δ {pair(before.delta, after.delta)}   Γ {pair(before.gamma, after.gamma, 1)}   "
        f"Θ {pair(before.theta, after.theta)}   V {pair(before.vega, after.vega)}"
    )


def _preview_text(preview: ClosePreview) -> str:
    net = preview.estimated_fill
    if net is None:
        price = f"[$critical]no price: {preview.message or preview.mark_state}[/]"
    else:
        price = (
            f"estimated fill [b]{_side(net)}[/] per unit "
            f"(mid {_side(preview.mid)}, natural {_side(preview.natural)})"
        )
    note = f"\n[$warning]{preview.message}[/]" if preview.message and net is not None else ""
    stale = "  [i $stale]STALE[/]" if preview.mark_state == "stale" else ""
    # The book's Greeks are what the close changes for the trader; the position's own go
    # to zero on a full close and say little, so they come second.
    return (
        f"Closing {preview.quantity} of {preview.max_quantity}: {price}{stale}\n"
        + _greeks_line("Book    ", preview.portfolio_greeks_before, preview.portfolio_greeks_after)
        + "\n"
        + _greeks_line("Position", preview.greeks_before, preview.greeks_after)
        + note
    )
