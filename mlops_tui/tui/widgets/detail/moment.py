"""The model as it was after one event of its history (time travel), beside what it is now."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from mlops_tui.domain import Health, Stage
from mlops_tui.timefmt import local
from mlops_tui.tui.colors import health_text, stage_text
from mlops_tui.tui.widgets.detail.panel import Panel

# (label, state key): what status shows, plus the roles and the iteration
FIELDS = (
    ("Stage", "stage"),
    ("Owner", "owner"),
    ("Backup", "backup"),
    ("On call", "oncall"),
    ("Iteration", "iteration"),
    ("Version", "version"),
    ("Production", "production_version"),
    ("Health", "health"),
)


LABEL_WIDTH = max(len(label) for label, _ in FIELDS)


def _cell(key: str, value: Any) -> Text:
    if value is None:
        return Text("none", style="dim")
    if key == "stage":
        return stage_text(Stage(value))
    if key == "health":
        return health_text(Health(value))
    if key in ("version", "production_version"):
        return Text(f"v{value}")
    return Text(str(value))


class Moment(Panel):
    def __init__(self) -> None:
        super().__init__("As it was", id="moment")

    def show(self, state: dict[str, Any], now: dict[str, Any], what: str, at: datetime) -> None:
        """`state` after the selected event; fields that differ from `now` are marked."""
        grid = Table.grid(padding=(0, 2))
        # The labels never shrink: a narrow panel cuts the "now" column, not "Production".
        grid.add_column(style="bold", no_wrap=True, min_width=LABEL_WIDTH)
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True, style="dim", overflow="ellipsis")
        for label, key in FIELDS:
            then = state.get(key)
            differs = then != now.get(key)
            grid.add_row(
                label,
                _cell(key, then),
                Text(f"now {_cell(key, now.get(key)).plain}") if differs else Text(""),
            )
        # Long lines of their own, under the grid, so they wrap instead of widening it.
        changed = Text.assemble(
            (f"{'Changed':<{LABEL_WIDTH}}  ", "bold"),
            f"{local(state['updated_at'])} by {state['updated_by']}",
        )
        event = Text.assemble((f"{'Event':<{LABEL_WIDTH}}  ", "bold"), what)
        self.border_title = f"As it was at {local(at)}"
        self.update(Group(grid, changed, event))
