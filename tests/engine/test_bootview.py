"""The book drawn before the engine is built: the journal's positions, marked pending."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from engine.bootview import preview_positions
from tests.engine.conftest import advance, engine_config, open_engine

ROOT = Path(__file__).resolve().parents[2]


def test_preview_shows_the_journals_open_positions_with_no_price(tmp_path):
    engine = open_engine(engine_config(tmp_path))
    advance(engine, 3)
    expected = {v.position_id: v for v in engine.position_views()}
    engine.shutdown()

    preview = {v.position_id: v for v in preview_positions(tmp_path / "journal.db")}

    assert preview.keys() == expected.keys()
    for pid, view in preview.items():
        assert (view.strategy, view.quantity, view.dte) == (
            expected[pid].strategy,
            expected[pid].quantity,
            expected[pid].dte,
        )
        assert view.cost_basis == expected[pid].cost_basis
        assert view.mark_state == "pending" and view.unrealized_pnl is None


def test_no_journal_or_a_broken_one_previews_nothing_and_raises_nothing(tmp_path):
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database" * 50)

    assert preview_positions(tmp_path / "missing.db") == ()
    assert preview_positions(broken) == ()


def test_the_app_and_its_first_frame_load_no_numerical_library():
    # Start-up draws the journal's book before numpy and scipy are loaded: keep it so.
    probe = (
        "import sys, desk.cli, desk.app, desk.feeds.embedded, engine.bootview\n"
        "print(' '.join(m for m in ('numpy', 'scipy', 'plotext') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []
