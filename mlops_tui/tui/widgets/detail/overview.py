"""What a model is and who answers for it."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from mlops_tui.domain import Model
from mlops_tui.tui.colors import health_text, stage_text
from mlops_tui.tui.widgets.detail.panel import Panel


class Overview(Panel):
    def __init__(self) -> None:
        super().__init__("Overview", id="overview")

    def show(self, model: Model) -> None:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        grid.add_row("Description", model.description or Text("none", style="dim"))
        grid.add_row("Stage", stage_text(model.stage))
        grid.add_row("Health", health_text(model.health))
        grid.add_row("Repository", model.repo or Text("none", style="dim"))
        grid.add_row("Tags", ", ".join(model.tags) or Text("none", style="dim"))
        grid.add_row("Owner", model.owner)
        grid.add_row("Backup", model.backup or Text("nobody", style="dim"))
        grid.add_row("On call", model.oncall or Text("nobody", style="dim"))
        grid.add_row("Iteration", str(model.iteration))
        grid.add_row("Revision", str(model.revision))
        self.update(grid)
