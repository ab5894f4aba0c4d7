"""desk.toml: the shipped file is honest, and a bad value gets one clear sentence and exit 2."""

import subprocess
import sys
import tomllib
from pathlib import Path

import msgspec
import pytest

from desk.config import ConfigError, DeskConfig, load_config, to_toml

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_desk_toml_loads_and_equals_the_built_in_defaults():
    assert load_config(ROOT / "desk.toml") == DeskConfig()


def test_every_key_in_the_shipped_file_has_a_comment_above_it():
    lines = (ROOT / "desk.toml").read_text().splitlines()
    uncommented = []
    for i, line in enumerate(lines):
        if "=" in line and not line.lstrip().startswith("#"):
            j = i - 1
            while j >= 0 and "=" in lines[j] and not lines[j].lstrip().startswith("#"):
                j -= 1
            if j < 0 or not lines[j].lstrip().startswith("#"):
                uncommented.append(line)
    assert uncommented == []


def test_effective_config_printed_as_toml_loads_back_to_the_same_values(tmp_path):
    config = load_config(ROOT / "desk.toml", {"market.sim.seed": 42, "clock.speed": 5.0})
    path = tmp_path / "again.toml"
    path.write_text(to_toml(config))

    assert load_config(path) == config


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[clock]\ntick_rate = 'fast'\n", "clock.tick_rate: expected float, got str, found 'fast'"),
        ("[clock]\ntick_rate = 500\n", "clock.tick_rate: expected float <= 100.0, found 500"),
        ("[risk]\nmax_order_quantity = 0\n", "risk.max_order_quantity: expected int >= 1, found 0"),
        ("[market]\nsorce = 'sim'\n", "unknown key `sorce` in [market]"),
        (
            "[market.sim.chain]\nnear_band = 0.5\nfar_band = 0.2\n",
            "far_band must be at least near_band",
        ),
        ("[market.sim]\nstart_date = 2025-13-01\n", "not valid TOML"),
        ("[broker]\nreconcile = 'ignore'\n", "broker.reconcile: expected one of 'adopt', 'halt'"),
    ],
)
def test_a_bad_value_names_the_key_the_expectation_and_what_was_found(tmp_path, toml, message):
    path = tmp_path / "bad.toml"
    path.write_text(toml)

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert str(caught.value).startswith(str(path))
    assert message.lower() in str(caught.value).lower()


def test_flags_override_the_file():
    config = load_config(ROOT / "desk.toml", {"clock.speed": 120.0, "journal.path": "/tmp/x.db"})

    assert config.clock.speed == 120.0
    assert config.journal.path == "/tmp/x.db"


def test_cli_exits_2_with_the_message_on_a_bad_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[clock]\nspeed = -1\n")

    done = subprocess.run(
        [sys.executable, "-m", "desk.cli", "--config", str(path), "config"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2
    assert "clock.speed: expected float >= 0" in done.stderr
    assert "found -1" in done.stderr


def test_cli_config_prints_toml_with_flags_applied(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "desk.cli",
            "--config",
            str(ROOT / "desk.toml"),
            "config",
            "--seed",
            "11",
            "--speed",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    printed = tomllib.loads(done.stdout)
    assert printed["market"]["sim"]["seed"] == 11
    assert printed["clock"]["speed"] == 2.0
    assert msgspec.convert(printed, DeskConfig).market.sim.seed == 11


def test_cli_version():
    done = subprocess.run(
        [sys.executable, "-m", "desk.cli", "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.startswith("desk 0.")


def test_cli_engine_options_have_defaults_and_common_flags_work_on_either_side():
    from desk.cli import build_parser

    plain = build_parser().parse_args(["engine"])
    before = build_parser().parse_args(["--seed", "3", "engine", "--speed", "9"])

    assert plain.duration is None and plain.status_every == 5.0 and plain.redis is None
    assert (before.seed, before.speed) == (3, 9.0)


# Long tables of their own, which `desk config` prints and the file's header points to.
NOT_REPEATED = {"market.sim.underlyings", "market.sim.regimes"}


def _keys(struct: type, prefix: str = "") -> list[tuple[str, bool]]:
    """Every (dotted key, has a default of None) of a config struct, nested sections too."""
    found = []
    for field in msgspec.structs.fields(struct):
        key = prefix + field.encode_name
        if key in NOT_REPEATED:
            continue
        if isinstance(field.type, type) and issubclass(field.type, msgspec.Struct):
            found += _keys(field.type, key + ".")
        else:
            found.append((key, field.default is None))
    return found


def test_the_shipped_file_shows_every_key_and_an_example_of_each_optional_one():
    text = (ROOT / "desk.toml").read_text()
    shipped = tomllib.loads(text)
    missing = []
    for key, optional in _keys(DeskConfig):
        *tables, name = key.split(".")
        section = shipped
        for table in tables:
            section = section.get(table, {})
        if optional:
            # None cannot be written in TOML: an example, commented, in its own section.
            start = text.index(f"[{'.'.join(tables)}]") if tables else 0
            end = text.find("\n[", start + 1)
            if f"# {name} = " not in text[start : end if end > 0 else None]:
                missing.append(key)
        elif name not in section:
            missing.append(key)
    assert missing == []
