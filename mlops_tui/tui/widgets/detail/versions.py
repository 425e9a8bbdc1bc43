"""Which version is being worked on, which one serves traffic, and what each was built from:
a version is code + data + parameters, so the panel shows all three next to the image."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from mlops_tui.domain import Model, Version
from mlops_tui.tui.colors import version
from mlops_tui.tui.widgets.detail.panel import Panel

SHOWN = 5


class Versions(Panel):
    def __init__(self) -> None:
        super().__init__("Versions", id="versions")

    def show(self, model: Model, versions: list[Version] | None = None) -> None:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        grid.add_row("Current", version(model.version))
        grid.add_row("Production", version(model.production_version))
        if not versions:
            hint = "no versions yet: b builds one" if model.repo else "no versions yet"
            self.update(Group(grid, Text(hint, style="dim")))
            return
        lines: list[Text] = []
        for v in versions[:SHOWN]:
            serving = v.number == model.production_version
            line = Text("★ " if serving else "  ", style="bold green")
            line.append(f"v{v.number}", style="bold")
            line.append(f"  {(v.commit or '-')[:10]}", style="cyan")
            line.append(f"  {v.created_by}", style="italic")
            lines.append(line)
            lines.append(Text(f"    {v.image or 'no image'}", overflow="ellipsis", no_wrap=True))
            params = ", ".join(f"{k}={val}" for k, val in sorted(v.params.items()))
            inputs = " · ".join(x for x in (v.data_ref, params) if x)
            if inputs:
                lines.append(Text(f"    {inputs}", style="dim", overflow="ellipsis", no_wrap=True))
        more = len(versions) - SHOWN
        parts: list[RenderableType] = [grid, Text(""), *lines]
        if more > 0:
            parts.append(Text(f"  and {more} older (T: time travel)", style="dim"))
        self.update(Group(*parts))
