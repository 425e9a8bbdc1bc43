"""The model's pending handoffs: who offered it to whom, and how far the checklist got."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.table import Table
from rich.text import Text
from textual import work

from mlops_tui.domain import Handoff
from mlops_tui.errors import MlopsError
from mlops_tui.tui.widgets.detail.panel import Panel

if TYPE_CHECKING:
    from mlops_tui.tui.app import MlopsApp


class Handoffs(Panel):
    def __init__(self) -> None:
        super().__init__("Pending handoffs", id="handoffs")
        self.pending: list[Handoff] = []

    def on_mount(self) -> None:
        self.update(Text("No pending handoffs", style="dim"))

    @work(thread=True, exclusive=True, group="detail-handoffs")
    def load(self, name: str) -> None:
        app = cast("MlopsApp", self.app)
        try:
            pending = app.backend.handoffs_of(name)
        except MlopsError:
            return  # the detail screen reports database problems
        app.call_from_thread(self.show, pending)

    def show(self, pending: list[Handoff]) -> None:
        self.pending = pending
        if not pending:
            self.update(Text("No pending handoffs", style="dim"))
            return
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True, style="bold")
        grid.add_column(overflow="fold")
        for h in pending:
            done = sum(c.done for c in h.checklist)
            line = Text(f"{h.from_user} → {h.to_user}")
            line.append(f"  checklist {done}/{len(h.checklist)}", style="dim")
            if h.note:
                line.append(f"\n{h.note}", style="italic")
            grid.add_row(f"#{h.id}", line)
        self.update(grid)
