"""Which version is being worked on and which one serves traffic."""

from __future__ import annotations

from rich.table import Table

from mlops_tui.domain import Model
from mlops_tui.tui.colors import version
from mlops_tui.tui.widgets.detail.panel import Panel


class Versions(Panel):
    def __init__(self) -> None:
        super().__init__("Versions", id="versions")

    def show(self, model: Model) -> None:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        grid.add_row("Current", version(model.version))
        grid.add_row("Production", version(model.production_version))
        self.update(grid)
