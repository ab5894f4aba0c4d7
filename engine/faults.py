"""Provides named crash points: the fault tests kill the engine at an exact moment.

Set ``DESK_CRASH_AT`` to a point's name (optionally ``name:N`` for its N-th passing) and
the process dies there by SIGKILL, with no chance to flush or clean up, as in a real
crash. Unset, a crash point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

POINTS = (
    "after_command_journal",
    "after_order_journal",
    "after_submit",
    "after_broker_execution",
    "after_fill_journal",
    "after_roll_submit",
)
_target = os.environ.get("DESK_CRASH_AT", "")
_name, _, _nth = _target.partition(":")
_remaining = int(_nth) if _nth.isdigit() else 1
if _name and _name not in POINTS:
    raise SystemExit(f"DESK_CRASH_AT={_target!r}: unknown crash point; one of {', '.join(POINTS)}")


def crash_point(name: str) -> None:
    global _remaining
    if name != _name:
        return
    _remaining -= 1
    if _remaining <= 0:
        os.kill(os.getpid(), signal.SIGKILL)
