"""FAULTS row 35: the desk over a 300 ms SSH link answers a key within the RTT + 200 ms.

A real OpenSSH server runs on 127.0.0.1 (a temp host key, a temp user key, its own config,
as the current user) behind DelayProxy, which holds every chunk 150 ms in each direction.
tmux runs on the *client* side with `ssh -tt` inside it, and `desk` runs on the far side
of the link, so a key sent with `tmux send-keys` crosses the delayed link to the desk and
its repaint crosses back before `capture-pane` can show it: what is timed is key press to
visible change, link included (plus tmux's own hops and a 10 ms poll). Every timing must
be at least the RTT (proof that the link was crossed); the median of seven must be at most
RTT + 200 ms, and none more than 300 ms over that.

Also over that link: Escape is read as Escape (it closes the help) and Alt+t is not read
as Escape followed by `t` (the theme does not change); a key pressed once acts once; and
the kill switch (`K`) opens a confirmation, sends nothing on `n`, and only `y` pulls it
(the journal holds exactly one kill-switch record afterwards).
"""

from __future__ import annotations

import getpass
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.journal import Journal
from tests import tmux
from tests.delay_proxy import DelayProxy
from tests.tmux import POSITION_ROW, ROOT, Tmux, TmuxError, desk_command, desk_env

pytestmark = pytest.mark.timeout(180)

ONE_WAY_S = 0.150
RTT_S = 2 * ONE_WAY_S
BUDGET_S = RTT_S + 0.200
# Textual reports a lone Escape only after ESCDELAY (100 ms) with no following byte, and
# checks that timer on its 100 ms input poll: up to 200 ms more than any other key.
ESCAPE_BUDGET_S = BUDGET_S + 0.200
# The goal is judged on the median of several presses; one slow press on a shared 2-core
# box is allowed, a stalled event loop (every press late, or one by far) is not.
REPEATS = 7
TAIL_SLACK_S = 0.300
HELP_TITLE = "desk: keys"


def _sshd() -> str | None:
    found = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
    return str(Path(found).resolve()) if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited ({proc.returncode}): {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sshd not listening on {port} after {timeout}s: {log.read_text()}")


@dataclass(frozen=True)
class Sshd:
    port: int
    key: Path
    user: str


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    """A throwaway sshd on 127.0.0.1 accepting one temp key for the current user."""
    binary = _sshd()
    if binary is None:
        pytest.skip("sshd not found: install Debian's openssh-server (scripts/test does)")
    for tool in ("ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not found: install openssh-client")
    if not tmux.available():
        pytest.skip("tmux is not installed (apt-get install tmux)")
    if os.geteuid() == 0 and not Path("/run/sshd").is_dir():
        # sshd running as root refuses to start without its privilege-separation dir.
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
    where = tmp_path / "ssh"
    where.mkdir(mode=0o700)
    for name in ("host_key", "user_key"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(where / name)],
            check=True,
            timeout=30,
        )
    authorized = where / "authorized_keys"
    authorized.write_text((where / "user_key.pub").read_text())
    authorized.chmod(0o600)
    user = getpass.getuser()
    port = _free_port()
    config = where / "sshd_config"
    config.write_text(
        f"""Port {port}
ListenAddress 127.0.0.1
HostKey {where / "host_key"}
PidFile {where / "sshd.pid"}
AuthorizedKeysFile {authorized}
AllowUsers {user}
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding no
LogLevel ERROR
"""
    )
    checked = subprocess.run(
        [binary, "-t", "-f", str(config)], capture_output=True, text=True, timeout=30
    )
    if checked.returncode != 0:
        pytest.skip(f"sshd refuses the test config here: {checked.stderr.strip()}")
    log = where / "sshd.log"
    proc = subprocess.Popen([binary, "-D", "-e", "-f", str(config)], stderr=log.open("wb"))
    try:
        _wait_listening(port, proc, log, timeout=10)
        yield Sshd(port=port, key=where / "user_key", user=user)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _ssh_command(server: Sshd, port: int, remote: str) -> list[str]:
    return [
        "ssh", "-tt", "-F", "/dev/null", "-p", str(port), "-i", str(server.key),
        "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
        f"{server.user}@127.0.0.1", remote,
    ]  # fmt: skip


def _timed(term: Tmux, keys: list[str], shown, timeout: float = 5.0) -> float:
    """Seconds from send-keys to the screen showing the change (polled every 10 ms)."""
    started = time.perf_counter()
    term.send(*keys)
    term.wait_for(shown, timeout=timeout, interval=0.01)
    return time.perf_counter() - started


def test_keys_over_a_300ms_ssh_link(sshd: Sshd, tmp_path: Path) -> None:
    journal = tmp_path / "far" / "desk.journal.db"
    env = desk_env(tmp_path / "far")
    far_side = " ".join(
        [
            f"cd {shlex.quote(str(tmp_path))} &&",
            "exec env",
            *(f"{k}={shlex.quote(v)}" for k, v in env.items()),
            shlex.join(desk_command(journal)),
        ]
    )
    with (
        DelayProxy(sshd.port, delay=ONE_WAY_S).running() as proxy,
        Tmux(
            tmp_path / "client",
            _ssh_command(sshd, proxy.port, far_side),
            width=120,
            height=40,
            cwd=ROOT,
        ) as term,
    ):
        term.wait_for(POSITION_ROW, timeout=60)
        time.sleep(0.5)
        # What the running desk sends down the link with no key pressed (for the report).
        sent, since = proxy.stats.bytes_down, time.perf_counter()
        time.sleep(2.0)
        idle_rate = (proxy.stats.bytes_down - sent) / (time.perf_counter() - since)

        opened, closed = [], []
        for _ in range(REPEATS):
            opened.append(_timed(term, ["?"], HELP_TITLE))
            time.sleep(0.3)
            closed.append(_timed(term, ["Escape"], lambda s: HELP_TITLE not in s))
            time.sleep(0.3)
        print(
            f"\nover {RTT_S * 1000:.0f} ms RTT: '?' → help shown "
            f"{', '.join(f'{t * 1000:.0f}' for t in opened)} ms; "
            f"Escape → help gone {', '.join(f'{t * 1000:.0f}' for t in closed)} ms; "
            f"the running desk sends {idle_rate / 1024:.1f} KiB/s down the link"
        )
        # At least the RTT: the key and its repaint really crossed the delayed link.
        assert min(opened) >= RTT_S, opened
        assert statistics.median(opened) <= BUDGET_S, opened
        assert max(opened) <= BUDGET_S + TAIL_SLACK_S, opened
        assert statistics.median(closed) <= ESCAPE_BUDGET_S, closed

        # Alt+t arrives as ESC t in one write: it must not act as Escape then `t`.
        # Read that way, `t` would switch the theme and say "theme desk-light".
        term.send("M-t")
        time.sleep(RTT_S + 0.3)
        assert "theme desk-" not in term.screen()
        term.send("?")  # and the link and the desk still answer
        term.wait_for(HELP_TITLE, timeout=5)
        term.send("Escape")
        term.wait_for(lambda s: HELP_TITLE not in s, timeout=5)

        # The kill switch asks first; `n` sends nothing; `y` pulls it.
        # (The modal covers the header, so the header is read once it is gone.)
        term.send("K")
        term.wait_for("Pull the kill switch?", timeout=5)
        time.sleep(RTT_S + 0.2)
        term.send("n")
        term.wait_for(lambda s: "Pull the kill switch?" not in s, timeout=5)
        time.sleep(RTT_S + 0.2)
        assert "kill switch off" in term.screen()
        term.send("K")
        term.wait_for("Pull the kill switch?", timeout=5)
        term.send("y")
        term.wait_for("KILL SWITCH ON", timeout=5)

        # A key pressed once acts once: one `t` moves one theme on, not two.
        term.send("t")
        term.wait_for("theme desk-light", timeout=5)
        time.sleep(RTT_S + 0.3)
        assert "theme desk-contrast" not in term.screen()

        term.send("q")
        try:
            term.wait_for(
                lambda s: "Quit with orders working?" in s or term.dead()[0],
                timeout=10,
                alive=False,
            )
        except TmuxError:
            pass
        if not term.dead()[0]:
            term.send("y")
        assert term.wait_exit(timeout=20) == "0", term.screen()

    found = Journal(journal)
    try:
        switches = [e.record for e in found.entries() if e.kind == "kill_switch"]
    finally:
        found.close()
    assert [s.on for s in switches] == [True]
