"""Provides the agent status pane: each agent's state (mark and word), timing and output.

Agent statuses arrive less often than ticks (the engine publishes them every few), so a
status can be a cycle or two old when drawn. An agent runs on a fixed interval on the
engine clock (``next_run = last_run + interval``, run on the first tick at or after
``next_run``), so its schedule is carried forward to the engine time the desk has: the
countdown and the last run stay right between publications instead of reading "0s".
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.records import AgentStatus
from widgets import _format as fmt
from widgets._table import Cell, Column, LineTable, Row

# When the pane is narrow the highest ``drop`` goes first; state, name and countdown stay.
COLUMNS = (
    Column("state", "State", 8, "left"),
    Column("name", "Agent", 12, "left", flex=True),
    Column("kind", "Kind", 12, "left", drop=6),
    Column("last", "Last", 8, drop=2),
    Column("next", "Next", 6),
    Column("cycle", "Cycle", 6, drop=4),
    Column("signals", "Sigs", 4, drop=1),
    Column("errors", "Errs", 4, drop=5),
)
MARKS = {
    "ACTIVE": ("●", "up"),
    "IDLE": ("○", "dim"),
    "PAUSED": ("‖", "warning"),
    "ERROR": ("✖", "critical"),
}


class AgentStatusPane(LineTable):
    """Agents and, when the engine runs one, the orchestrator. ``p`` acts on the cursor row."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, empty="no agents running", expandable=True, id=id)

    def show(self, agents: Iterable[AgentStatus], engine_time: int | None) -> None:
        """``engine_time``: the latest engine clock the desk has (ns), for the countdowns."""
        self.set_rows(_row(agent, engine_time) for agent in agents)


def schedule(agent: AgentStatus, now: int | None) -> tuple[int | None, int | None]:
    """The agent's last and next run as of engine time ``now``.

    A status whose ``next_run`` has passed describes an agent that has run since it was
    published: move both on by whole intervals. Without an interval (never run, paused,
    disabled) the status is shown as it is.
    """
    last, upcoming = agent.last_run, agent.next_run
    if now is None or last is None or upcoming is None or now < upcoming:
        return last, upcoming
    interval = upcoming - last
    if interval <= 0:
        return last, upcoming
    cycles = (now - upcoming) // interval + 1
    return upcoming + (cycles - 1) * interval, upcoming + cycles * interval


def _countdown(agent: AgentStatus, upcoming: int | None, now: int | None) -> str:
    if agent.state == "PAUSED":
        return "paused"
    if upcoming is None or now is None:
        return fmt.DASH
    left = (upcoming - now) / 1e9
    return "due" if left < 1 else fmt.duration(left)


def _cycle(ms: float | None) -> str:
    if ms is None:
        return fmt.DASH
    if ms < 1:
        return f"{ms:.2f}ms"
    if ms < 10:
        return f"{ms:.1f}ms"
    if ms < 1000:
        return f"{ms:.0f}ms"
    return f"{ms / 1000:.1f}s"


def _row(agent: AgentStatus, now: int | None) -> Row:
    mark, tone = MARKS.get(agent.state, ("?", ""))
    last, upcoming = schedule(agent, now)
    name = agent.name
    if agent.kind == "orchestrator" and "orchestrator" not in name:
        name = f"{name} (orchestrator)"
    children = []
    if agent.last_error:
        children.append(
            Row(
                key=f"{agent.name}/error",
                cells=(Cell(""), Cell(agent.last_error, "critical")),
                tone="dim",
            )
        )
    signals = agent.signals_emitted
    return Row(
        key=agent.name,
        cells=(
            Cell(f"{mark} {agent.state}", tone),
            Cell(name, "strong" if agent.kind == "orchestrator" else ""),
            Cell(agent.kind, "dim"),
            Cell(fmt.clock(last)),
            Cell(_countdown(agent, upcoming, now), "warning" if agent.state == "PAUSED" else ""),
            Cell(_cycle(agent.last_cycle_ms)),
            Cell(str(signals) if signals < 10_000 else f"{min(signals // 1000, 999)}k"),
            Cell(str(agent.errors), "critical" if agent.errors else "dim"),
        ),
        search=f"{agent.name} {agent.kind} {agent.state}",
        children=children,
    )
