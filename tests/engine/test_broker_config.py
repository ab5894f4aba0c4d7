"""[broker.paper] in desk.toml: a value out of range is one clear sentence and exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from desk.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("walk_step = -1", "broker.paper.walk_step: expected float > 0.0, found -1"),
        ("walk_step = 0", "broker.paper.walk_step: expected float > 0.0, found 0"),
        ("walk_step = 1.5", "broker.paper.walk_step: expected float <= 1.0, found 1.5"),
        ("fill_threshold = -0.1", "broker.paper.fill_threshold: expected float >= 0.0"),
        ("fill_threshold = 2", "broker.paper.fill_threshold: expected float <= 1.0, found 2"),
        ("walk_interval_s = -15", "broker.paper.walk_interval_s: expected float >= 0.0"),
        ("ack_delay_s = -1", "broker.paper.ack_delay_s: expected float >= 0.0, found -1"),
        ("stale_after_s = 0", "broker.paper.stale_after_s: expected float > 0.0, found 0"),
        ("max_quantity = 0", "broker.paper.max_quantity: expected int >= 1, found 0"),
        ("slippage_ticks = -2", "broker.paper.slippage_ticks: expected int >= 0, found -2"),
        ("slippage_ticks = 1.5", "broker.paper.slippage_ticks: expected int"),
        (
            "commission_per_contract = -0.65",
            "broker.paper.commission_per_contract: expected float >= 0.0, found -0.65",
        ),
        (
            "commission_per_share = -0.005",
            "broker.paper.commission_per_share: expected float >= 0.0",
        ),
    ],
)
def test_a_paper_broker_setting_out_of_range_names_the_key_and_what_it_found(
    tmp_path, line, message
):
    path = tmp_path / "bad.toml"
    path.write_text(f"[broker.paper]\n{line}\n")

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert str(caught.value).startswith(f"{path}: {message}")


def test_the_edges_of_each_range_are_accepted(tmp_path):
    path = tmp_path / "edges.toml"
    path.write_text(
        "[broker.paper]\nwalk_step = 1.0\nfill_threshold = 0.0\nwalk_interval_s = 0\n"
        "ack_delay_s = 0\nslippage_ticks = 0\ncommission_per_contract = 0\nmax_quantity = 1\n"
    )

    paper = load_config(path).broker.paper

    assert (paper.walk_step, paper.fill_threshold, paper.max_quantity) == (1.0, 0.0, 1)


def test_desk_exits_2_on_a_negative_walk_step(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[broker.paper]\nwalk_step = -1\n")

    done = subprocess.run(
        [sys.executable, "-m", "desk.cli", "--config", str(path), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )

    assert done.returncode == 2
    assert "broker.paper.walk_step: expected float > 0.0, found -1" in done.stderr
