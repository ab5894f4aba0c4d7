"""Provides where the engine keeps its files: the journal and the paper broker's ledger."""

from __future__ import annotations

import os
from pathlib import Path

from engine.config import EngineConfig


def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "desk"


def journal_path(config: EngineConfig) -> Path:
    if config.journal.path:
        return Path(config.journal.path).expanduser()
    return state_dir() / f"{config.name}.journal.db"


def ledger_path(config: EngineConfig) -> Path:
    if config.broker.ledger:
        return Path(config.broker.ledger).expanduser()
    journal = journal_path(config)
    return journal.with_name(journal.name.replace(".journal.db", "") + ".paper-ledger.db")
