"""Provides DeskScreen: the desk's own screen, whose focus keys come from the registry."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import BindingType
from textual.screen import Screen

from desk import actions


class DeskScreen(Screen[None]):
    # Bound by key, these replace Screen's own tab and shift+tab, which carry no id and so
    # would keep answering after a [ui.keys] remap moved focus-next elsewhere.
    BINDINGS: ClassVar[list[BindingType]] = actions.bindings("screen")  # type: ignore[assignment]
