"""Provides the desk header: feed kind, source, engine clock, feed state, kill switch."""

from __future__ import annotations

from engine.records import EngineStatus
from widgets import _format as fmt
from widgets._markup import text
from widgets._pane import TextPane

FEED_STYLES = {
    "LIVE": "b $pnl-up",
    "STALE": "b $warning",
    "DOWN": "b reverse $critical",
    "RECONNECTING": "b $warning",
    "CONNECTING": "$text-muted",
}


class DeskHeader(TextPane):
    DEFAULT_CSS = """
    DeskHeader { height: 1; background: $panel; padding: 0 1; }
    """

    _last: tuple[EngineStatus | None, str, str, str, str] | None = None

    def on_resize(self) -> None:
        # The short form is chosen by width: redraw now, not at the next status event
        # (none comes while the feed is down or the engine is stopped).
        if self._last is not None:
            status, feed, state, detail, clock = self._last
            self.show(status, feed=feed, state=state, detail=detail, clock=clock)

    def show(
        self,
        status: EngineStatus | None,
        *,
        feed: str,
        state: str,
        detail: str = "",
        clock: str = "",
    ) -> None:
        """``clock``: this machine's clock against the engine's, when off ("clock +90s vs
        engine"); kept in the short form too, as the engine refuses commands for it."""
        self._last = (status, feed, state, detail, clock)
        if clock:
            detail = f"{detail} · {clock}" if detail else clock
        state_text = f"[{FEED_STYLES.get(state, '')}]● {state}[/]"
        if status is None:
            self.set_text(f"[b]desk[/] · {feed.upper()} · {state_text} {text(detail)}")
            return
        speed = "" if status.clock_mode == "live" else f" ×{status.speed:g}"
        # Before the first layout the header has no size yet: judge by the screen's.
        width = self.size.width or (self.app.size.width - 2)
        if width < 100:
            kill = "[b reverse $critical] KILL ON [/]" if status.kill_switch else "kill off"
            self.set_text(
                f"{feed.upper()} {text(status.source)}{speed} {fmt.clock(status.engine_time)} "
                f"{state_text} {kill}"
                + (" [b $critical]BROKER DOWN[/]" if not status.broker_connected else "")
                + (" [b $critical]HALTED[/]" if status.trading_halted else "")
                + (f" [b $warning]{text(clock)}[/]" if clock else "")
            )
            return
        kill = (
            "[b reverse $critical] KILL SWITCH ON [/]"
            if status.kill_switch
            else "kill switch [$pnl-up]off[/]"
        )
        broker = "" if status.broker_connected else " · [b $critical]BROKER DOWN[/]"
        halted = " · [b $critical]HALTED[/]" if status.trading_halted else ""
        self.set_text(
            f"[b]desk[/]{_name(status.name)} · {feed.upper()} · {text(status.source)}{speed} · "
            f"{fmt.stamp(status.engine_time)} · {state_text}{' ' + text(detail) if detail else ''}"
            f" · {kill}{broker}{halted}"
        )


def _name(engine: str) -> str:
    """The engine's name after the product's, unless it is the default one."""
    return "" if engine == "desk" else f" {text(engine)}"
