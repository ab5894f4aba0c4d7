"""Provides the agent status pane: each agent's state (mark and word), timing and output."""

from __future__ import annotations

from collections.abc import Iterable

from engine.records import AgentStatus
from widgets import _format as fmt
from widgets._table import Cell, Column, LineTable, Row

COLUMNS = (
    Column("state", "State", 8, "left"),
    Column("name", "Agent", 12, "left", flex=True),
    Column("last", "Last", 8, drop=2),
    Column("next", "Next in", 7),
    Column("cycle", "Cycle", 7, drop=1),
    Column("signals", "Sigs", 5),
    Column("errors", "Errs", 4, drop=1),
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
        self.set_rows(_row(agent, engine_time) for agent in agents)


def _row(agent: AgentStatus, now: int | None) -> Row:
    mark, tone = MARKS.get(agent.state, ("?", ""))
    countdown = fmt.DASH
    if agent.next_run is not None and now is not None and agent.state != "PAUSED":
        countdown = fmt.duration((agent.next_run - now) / 1e9)
    cycle = fmt.DASH if agent.last_cycle_ms is None else f"{agent.last_cycle_ms:.1f}ms"
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
    return Row(
        key=agent.name,
        cells=(
            Cell(f"{mark} {agent.state}", tone),
            Cell(name, "strong" if agent.kind == "orchestrator" else ""),
            Cell(fmt.clock(agent.last_run)),
            Cell(countdown),
            Cell(cycle),
            Cell(str(agent.signals_emitted)),
            Cell(str(agent.errors), "critical" if agent.errors else "dim"),
        ),
        search=f"{agent.name} {agent.kind} {agent.state}",
        children=children,
    )
