"""FAULTS rows 34 and 36: small and shrinking terminals, and terminals without colour.

Row 34: at 60×20 the desk still shows each position's symbol, quantity and P&L and the
feed state in words; shrunk to 40×10 or 1×1 while the engine keeps publishing it shows
the "too small" notice (or nothing) and does not crash; grown back, the book returns and
keys work, dialogs included. Checked in Textual's test driver and in a real tmux pty.

Row 36: under TERM=dumb, TERM=linux, TERM=xterm without COLORTERM (8 colours), tmux's
own default-terminal, NO_COLOR=1 and LANG=C / LC_ALL=C, the desk starts, and the state a
trader acts on is in words, not only colour: the feed state (LIVE), "kill switch off",
and, after K and y, "KILL SWITCH ON".
"""

from __future__ import annotations

import re

import pytest

from desk.screens.close import CloseDialog
from desk.screens.help import HelpScreen
from tests import tmux
from tests.desk.conftest import engine_of, screen_text, step, wait_attached
from tests.tmux import Tmux, desk_command, desk_env
from widgets.positions_grid import PositionsGrid

needs_tmux = pytest.mark.skipif(
    not tmux.available(), reason="tmux is not installed (apt-get install tmux)"
)
TOO_SMALL = "Terminal too small"
FEED_WORDS = re.compile(r"\b(LIVE|STALE|HALTED|DOWN|RECONNECTING)\b")
# "▸ SPY    bull put spread     3   32   +1,509": symbol, (strategy where it fits),
# quantity, DTE and P&L dollars on one grid row; P&L is "—" while a mark is stale.
BOOK_ROW = re.compile(
    r"[▸▾] (SPY|QQQ|IWM|AAPL|NVDA|TSLA)\s+(?:[a-z][a-z ]*?\s+)?\d+\s+\d+\s+([+-]?[\d,]+|—)\s"
)


def _book_is_readable(text: str) -> bool:
    return bool(BOOK_ROW.search(text) and "P&L" in text and FEED_WORDS.search(text))


def _readable_book(text: str) -> None:
    assert BOOK_ROW.search(text), text
    assert "P&L" in text and "Qty" in text, text
    assert FEED_WORDS.search(text), text


async def _until(pilot, condition, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    assert condition(), "condition never held"


# --- row 34 -------------------------------------------------------------------------------

# The Pilot tests run on both feeds: a remote desk squeezed while Redis delivers must
# behave like the embedded one.
both_feeds = pytest.mark.parametrize("feed_kind", ["embedded", "remote"], indirect=True)


@both_feeds
@pytest.mark.timeout(60)
async def test_60x20_shows_the_book_and_shrinking_to_1x1_mid_update_never_crashes(app_factory):
    app = app_factory()
    async with app.run_test(size=(60, 20)) as pilot:
        await wait_attached(app)
        await pilot.pause()
        assert app.layout_mode == "compact"
        _readable_book(screen_text(app))

        for width, height in [(40, 10), (1, 1), (60, 20), (1, 1), (40, 10), (200, 60), (60, 20)]:
            await pilot.resize_terminal(width, height)
            await step(app, pilot, 3)  # the engine publishes while the size changes
            text = screen_text(app)
            if width < 50 or height < 12:
                assert app.layout_mode == "small"
                if width >= 40:
                    assert TOO_SMALL in text, text
            else:
                assert app.layout_mode != "small"
                _readable_book(text)
        assert app.is_running

        # Keys still work: cursor, help, and a dialog that survives a squeeze.
        grid = app.query_one(PositionsGrid)
        await pilot.press("down")
        assert grid.cursor == 1
        await pilot.press("question_mark")
        await _until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await _until(pilot, lambda: not isinstance(app.screen, HelpScreen))
        await pilot.press("c")
        await _until(pilot, lambda: isinstance(app.screen, CloseDialog))
        for width, height in [(40, 10), (1, 1), (60, 20)]:
            await pilot.resize_terminal(width, height)
            await pilot.pause()
        await pilot.press("escape")
        await _until(pilot, lambda: not isinstance(app.screen, CloseDialog))
        assert engine_of(app).journal.count("command") == 0

        # The notice says q quits, and it does.
        await pilot.resize_terminal(40, 10)
        await pilot.pause()
        await pilot.press("q")
        await _until(pilot, lambda: not app.is_running)


@both_feeds
@pytest.mark.timeout(60)
async def test_a_resize_while_a_dialog_is_open_lays_out_the_desk_underneath(app_factory):
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_attached(app)
        await pilot.press("question_mark")
        await _until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.resize_terminal(60, 20)
        await step(app, pilot)
        await pilot.press("escape")
        await _until(pilot, lambda: not isinstance(app.screen, HelpScreen))
        await pilot.pause()

        assert app.screen.has_class("-compact") and not app.screen.has_class("-medium")
        _readable_book(screen_text(app))


@needs_tmux
@pytest.mark.timeout(90)
def test_a_real_60x20_pty_resized_to_40x10_and_1x1_and_back(tmp_path):
    with Tmux(
        tmp_path / "tmux",
        desk_command(tmp_path / "desk.journal.db"),
        width=60,
        height=20,
        env=desk_env(tmp_path),
        cwd=tmp_path,
    ) as term:
        _readable_book(term.wait_for(_book_is_readable, timeout=30))
        term.resize(40, 10)
        term.wait_for(TOO_SMALL, timeout=10)
        term.resize(1, 1)
        term.wait_for(lambda s: TOO_SMALL not in s, timeout=10)
        term.resize(60, 20)
        _readable_book(term.wait_for(_book_is_readable, timeout=10))
        term.resize(1, 1)
        term.resize(120, 40)
        term.resize(60, 20)
        # The compact layout's third tab shows the app has laid out 60×20 again (tmux
        # would otherwise show the old frame, cropped).
        _readable_book(
            term.wait_for(lambda s: _book_is_readable(s) and "Book  Agents  Risk" in s, timeout=10)
        )
        term.send("Down")  # the cursor still answers after the squeeze
        term.send("?")
        term.wait_for("desk: keys", timeout=10)
        term.send("Escape")
        term.wait_for(BOOK_ROW, timeout=10)
        assert not term.dead()[0]
        term.send("q")
        assert term.wait_exit(timeout=15) == "0", term.screen()


# --- row 36 -------------------------------------------------------------------------------

SGR = re.compile(r"\x1b\[([0-9;:]*)m")
# 256-colour indexes without hue: black, the two greys and white of the 16, the grey
# diagonal of the 6×6×6 cube, and the grey ramp.
GREY_256 = {0, 7, 8, 15, 16, 59, 102, 145, 188, 231, *range(232, 256)}
GREY_BASIC = {30, 37, 90, 97, 40, 47, 100, 107, 39, 49}


def _hues(ansi: str) -> set[str]:
    """Every colour with a hue in SGR sequences (basic, 256-colour or RGB)."""
    found: set[str] = set()
    for match in SGR.finditer(ansi):
        params = [int(p) if p.isdigit() else 0 for p in re.split("[;:]", match[1] or "0")]
        i = 0
        while i < len(params):
            code = params[i]
            if code in (38, 48, 58) and i + 1 < len(params):
                if params[i + 1] == 5 and i + 2 < len(params):
                    if params[i + 2] not in GREY_256:
                        found.add(f"{code};5;{params[i + 2]}")
                    i += 3
                    continue
                if params[i + 1] == 2 and i + 4 < len(params):
                    r, g, b = params[i + 2 : i + 5]
                    if max(r, g, b) - min(r, g, b) > 3:
                        found.add(f"{code};2;{r};{g};{b}")
                    i += 5
                    continue
            elif (30 <= code <= 49 or 90 <= code <= 107) and code not in GREY_BASIC:
                found.add(str(code))
            i += 1
    return found


TERMINALS = {
    "TERM=dumb": ({"TERM": "dumb"}, (), ""),
    "TERM=linux": ({"TERM": "linux"}, (), ""),
    "TERM=xterm, no COLORTERM": ({"TERM": "xterm"}, ("COLORTERM",), ""),
    "tmux default-terminal screen": ({}, ("COLORTERM",), 'set -g default-terminal "screen"\n'),
    "NO_COLOR=1": ({"NO_COLOR": "1"}, (), ""),
    "LANG=C": ({"LANG": "C"}, ("LC_ALL",), ""),
    "LC_ALL=C": ({"LC_ALL": "C", "LANG": "C"}, (), ""),
}


@needs_tmux
@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", list(TERMINALS))
def test_state_is_in_words_without_colour(tmp_path, name):
    env, unset, conf = TERMINALS[name]
    with Tmux(
        tmp_path / "tmux",
        desk_command(tmp_path / "desk.journal.db"),
        width=120,
        height=40,
        env={**desk_env(tmp_path), **env},
        unset=unset,
        cwd=tmp_path,
        extra_conf=conf,
    ) as term:
        screen = term.wait_for(lambda s: _book_is_readable(s) and "kill switch" in s, timeout=30)
        header = screen.splitlines()[0]
        assert FEED_WORDS.search(header), header
        assert "kill switch off" in header, header
        _readable_book(screen)
        if name == "NO_COLOR=1":
            # Textual honours NO_COLOR by drawing in greys: no hue may reach the screen.
            hues = _hues(term.run("capture-pane", "-p", "-e", "-t", "main"))
            assert not hues, f"NO_COLOR=1 but the screen has colours: {sorted(hues)[:10]}"

        term.send("K")
        term.wait_for("Pull the kill switch?", timeout=10)
        term.send("y")
        header = term.wait_for("KILL SWITCH ON", timeout=10).splitlines()[0]
        assert "KILL SWITCH ON" in header, header
        term.send("q")
        assert term.wait_exit(timeout=15) == "0", term.screen()
