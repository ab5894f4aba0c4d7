"""Provides the fault switches every source offers the engine's tests: freeze and inject.

``freeze`` stops symbols' quotes where they are while the clock runs on, as a dead feed on
a connection that still looks healthy does: nothing flags it but the quotes' age.
``inject_quote`` hands the next step raw values for one symbol, as a feed would send them,
so they go through validation like any other quote; for a frozen symbol the injection
waits until it is unfrozen.
"""

from __future__ import annotations

from collections.abc import Iterable

RawQuote = tuple[float | None, float | None, float | None]


class FaultDrills:
    """Mixin for sources that keep `_columns` (symbol -> column), `_frozen` and `_injected`."""

    _columns: dict[str, int]
    _frozen: set[str]
    _injected: dict[str, RawQuote]

    def freeze(self, symbols: Iterable[str] | None = None) -> None:
        """Freeze these symbols (all, underlyings and indices, when None)."""
        names = set(self._columns) if symbols is None else set(symbols)
        unknown = names - set(self._columns)
        if unknown:
            raise KeyError(f"cannot freeze unknown symbols {sorted(unknown)}")
        self._frozen |= names

    def unfreeze(self) -> None:
        """Every symbol quotes again from the next step."""
        self._frozen.clear()

    def inject_quote(
        self, symbol: str, bid: float | None, ask: float | None, last: float | None
    ) -> None:
        """The next step ingests these raw values for ``symbol`` instead of its own."""
        if symbol not in self._columns:
            raise KeyError(f"cannot inject a quote for unknown symbol {symbol!r}")
        self._injected[symbol] = (bid, ask, last)
