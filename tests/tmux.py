"""Provides Tmux: a private tmux server driving a program in a real pseudo-terminal.

Each instance runs its own server on a socket in a temp directory, with its own config
(no status line, so the pane is the whole W×H; remain-on-exit, so the last screen stays
readable after the program ends), and ``close()`` kills that server and nothing else. The
program's exit status is written to a file by the pane's shell. Used by the desk's
end-to-end and fault tests and by the start-up and CPU benchmarks.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DESK = ROOT / ".venv" / "bin" / "desk"
CONF = "set -g remain-on-exit on\nset -g status off\nset -g history-limit 0\n"


def available() -> bool:
    return shutil.which("tmux") is not None


class TmuxError(AssertionError):
    """A wait ran out, or the program in the pane died; the message holds the screen."""


class Tmux:
    """One session ``main`` running ``command`` in a ``width``×``height`` pane."""

    def __init__(
        self,
        workdir: Path,
        command: str | Sequence[str],
        *,
        width: int = 120,
        height: int = 40,
        env: Mapping[str, str] | None = None,
        unset: Sequence[str] = (),
        cwd: Path | None = None,
        extra_conf: str = "",
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.socket = self.workdir / "tmux.sock"
        conf = self.workdir / "tmux.conf"
        conf.write_text(CONF + extra_conf)
        self.conf = conf
        text = command if isinstance(command, str) else shlex.join(command)
        # The pane's environment is set inside the command: tmux overrides TERM with
        # default-terminal, and the server's own environment would leak otherwise.
        # COLUMNS/LINES would override the pty's real size in Textual (Rich reads them
        # first); they reach the pane under pytest, so they are always removed.
        prefix = ["env", *(f"-u{name}" for name in ("COLUMNS", "LINES", "TMUX", *unset))]
        prefix += [f"{k}={v}" for k, v in (env or {}).items()]
        # The exit status goes to a file: tmux 3.3 sometimes never reaps a pane's process
        # (it stays a zombie, pane_dead_status empty), so the shell reports it instead.
        self.status_file = self.workdir / "exit-status"
        self.status_file.unlink(missing_ok=True)
        status = shlex.quote(str(self.status_file))
        text = f"{shlex.join(prefix)} {text}; echo $? > {status}.new; mv {status}.new {status}"
        if cwd is not None:
            text = f"cd {shlex.quote(str(cwd))} && {text}"
        self.command = text
        self.started = time.perf_counter()
        self.run(
            "new-session", "-d", "-s", "main", "-x", str(width), "-y", str(height), text,
            config=True,
        )  # fmt: skip

    # --- plumbing ---------------------------------------------------------------------------

    def run(self, *args: str, config: bool = False, check: bool = True) -> str:
        cmd = ["tmux", "-S", str(self.socket)]
        if config:
            cmd += ["-f", str(self.conf)]
        done = subprocess.run(
            [*cmd, *args], capture_output=True, text=True, timeout=10, check=False
        )
        if check and done.returncode != 0:
            raise TmuxError(f"tmux {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def close(self) -> None:
        """Kill this server (and so the program in it); never any other tmux."""
        subprocess.run(
            ["tmux", "-S", str(self.socket), "kill-server"],
            capture_output=True,
            timeout=10,
            check=False,
        )
        self.socket.unlink(missing_ok=True)

    def __enter__(self) -> Tmux:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the pane -----------------------------------------------------------------------------

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "main")

    def pane(self, fmt: str) -> str:
        return self.run("display-message", "-p", "-t", "main", fmt).strip()

    def pid(self) -> int:
        """The program's own process id (the pane's shell is its parent)."""
        shell = int(self.pane("#{pane_pid}"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            children = Path(f"/proc/{shell}/task/{shell}/children")
            found = children.read_text().split() if children.exists() else []
            if found:
                return int(found[0])
            time.sleep(0.01)
        raise TmuxError(f"no program under the pane's shell {shell}")

    def dead(self) -> tuple[bool, str]:
        """(exited?, its exit status as text; 128+N when signal N ended it)."""
        if self.status_file.exists():
            return True, self.status_file.read_text().strip()
        dead = self.pane("#{pane_dead}") == "1"
        if dead and self.status_file.exists():  # written between the two looks
            return True, self.status_file.read_text().strip()
        return dead, "unknown (the shell died too)" if dead else ""

    def send(self, *keys: str) -> None:
        """tmux key names: ``Down``, ``Enter``, ``Escape``, ``q``, ``M-t``…"""
        self.run("send-keys", "-t", "main", *keys)

    def resize(self, width: int, height: int) -> None:
        self.run("resize-window", "-t", "main", "-x", str(width), "-y", str(height))

    def wait_for(
        self,
        what: str | re.Pattern[str] | Callable[[str], bool],
        timeout: float = 20.0,
        interval: float = 0.05,
        *,
        alive: bool = True,
    ) -> str:
        """Poll the screen until ``what`` (text, regex or predicate) shows; return it."""
        if isinstance(what, str):
            text = what

            def test(screen: str) -> bool:
                return text in screen

        elif isinstance(what, re.Pattern):
            pattern = what

            def test(screen: str) -> bool:
                return pattern.search(screen) is not None

        else:
            test = what
        deadline = time.monotonic() + timeout
        screen = ""
        while True:
            screen = self.screen()
            if test(screen):
                return screen
            if alive:
                dead, status = self.dead()
                if dead:
                    raise TmuxError(f"the program exited ({status}) while waiting:\n{screen}")
            if time.monotonic() > deadline:
                raise TmuxError(f"not on screen after {timeout:.0f}s: {what!r}\n{screen}")
            time.sleep(interval)

    def wait_exit(self, timeout: float = 15.0) -> str:
        """Until the program has exited; return its exit status (see ``dead``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead, status = self.dead()
            if dead:
                return status
            time.sleep(0.05)
        raise TmuxError(
            f"the program did not exit within {timeout:.0f}s ({self.dead()}):\n{self.screen()}"
        )


def desk_env(base: Path) -> dict[str, str]:
    """XDG directories under ``base``, so no user file is read and none is written."""
    env = {}
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        path = base / name.lower()
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    return env


def desk_command(journal: Path, *args: str) -> list[str]:
    return [str(DESK), "--journal", str(journal), "--seed", "7", *args]


# A position row of the grid: the expand marker, then a symbol in capitals.
POSITION_ROW = re.compile(r"[▸▾] (SPY|QQQ|IWM|AAPL|NVDA|TSLA)\b")
