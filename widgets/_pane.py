"""Provides TextPane: a Static that repaints only when its text changes, re-lays out the
screen only when its number of lines does, and lays its text out again when resized.

Every live pane updates several times a second; a Static whose height is ``auto`` asks
Textual for a full layout on each update, which measured as the largest single cost of
a tick with 200 positions. The same text is not drawn again at all.

Panes lay their lines out to their own width (and, when their height is bounded, to
their height), so a resize must redraw them from what they last showed: with a stopped
or quiet engine no new data would come to do it.
"""

from __future__ import annotations

from textual.css.scalar import Unit
from textual.widget import Widget
from textual.widgets import Static


class TextPane(Static):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._text: str | None = None
        self._lines = -1

    def set_text(self, text: str) -> None:
        if text == self._text:
            return
        lines = text.count("\n") + 1
        self.update(text, layout=lines != self._lines)
        self._text = text
        self._lines = lines

    def compose_text(self) -> str | None:
        """The pane's text for its current size, from what it was last shown (or None
        before it was shown anything)."""
        return None

    def repaint(self) -> None:
        text = self.compose_text()
        if text is not None:
            self.set_text(text)

    def on_resize(self) -> None:
        # After the refresh, not now: a resize comes during a layout pass, and a text of
        # another height set inside it never got the layout it asked for (a pane stayed
        # a line short of its text until the next update, for ever on a quiet engine).
        self.call_after_refresh(self.repaint)

    @property
    def inner_width(self) -> int:
        """Cells for text on one line; before the first layout, a guess from the screen."""
        return self.size.width or max(self.app.size.width // 3 - 4, 20)

    def room(self) -> int | None:
        """Lines the pane can show, or None when its height follows its text unbounded.

        A pane sized by its text (``height: auto``) can grow to its ``max-height``; one
        given a height (a grid cell, zoomed) has exactly what it was given.
        """
        styles = self.styles
        height = styles.height
        if height is not None and not height.is_auto:
            return self.size.height or None
        limit = styles.max_height
        if limit is None or limit.unit in (Unit.AUTO, Unit.FRACTION):
            return None
        parent = self.parent
        container = parent.size if isinstance(parent, Widget) else self.app.size
        if limit.unit != Unit.CELLS and not container.height:
            return None  # a share of a container not laid out yet
        cells = int(limit.resolve(container, self.app.size))
        return max(cells - styles.gutter.height, 1)
