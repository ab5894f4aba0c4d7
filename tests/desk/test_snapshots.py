"""The desk's screen, pixel for pixel, at three sizes and in every theme.

Each snapshot is a seeded market (seed 7, first session 2025-03-03) on a stopped engine
with a fresh journal, taken once the first snapshot from the engine is on screen. The
engine clock is simulated and never moves here; the two wall-clock readings that reach
the screen (staleness, agent cycle time) are frozen by ``freeze``. Run twice, the SVGs
are identical. Update them after a deliberate change with ``pytest --snapshot-update``.
"""

from __future__ import annotations

import pytest

from tests.desk.conftest import freeze, wait_attached
from themes import NAMES

DEFAULT = "desk-dark"


async def _attached(pilot) -> None:
    await wait_attached(pilot.app)
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_default_theme(app_factory, snap_compare, size):
    app = freeze(app_factory(**{"ui.theme": DEFAULT}))
    assert snap_compare(app, terminal_size=size, run_before=_attached)


@pytest.mark.parametrize("theme", [name for name in NAMES if name != DEFAULT])
def test_other_themes_at_80x24(app_factory, snap_compare, theme):
    app = freeze(app_factory(**{"ui.theme": theme}))
    assert snap_compare(app, terminal_size=(80, 24), run_before=_attached)
