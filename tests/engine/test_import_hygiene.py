"""The engine runs headless: importing it, or running `desk engine`, never loads textual."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UI = ("textual", "rich", "plotext", "textual_plotext", "widgets")


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_importing_every_engine_module_loads_no_ui_library():
    modules = _modules_after(
        "import pkgutil, importlib, engine\n"
        "for m in pkgutil.walk_packages(engine.__path__, 'engine.'):\n"
        "    importlib.import_module(m.name)"
    )
    assert {m.split(".")[0] for m in modules} & set(UI) == set()


def test_desk_engine_command_path_loads_no_ui_library(tmp_path):
    modules = _modules_after(
        "from desk.cli import main\n"
        f"main(['engine', '--duration', '0.5', '--journal', r'{tmp_path / 'j.db'}', "
        "'--status-every', '60'])"
    )
    assert {m.split(".")[0] for m in modules} & set(UI) == set()
    assert "engine.engine" in modules
