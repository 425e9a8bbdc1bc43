"""Handoffs waiting for me, one row each: the model, who offered it, how far I got."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import DataTable

from mlops_tui.domain import Handoff
from mlops_tui.timefmt import ago


class HandoffTable(DataTable[str | Text]):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_columns("Handoff", "Model", "From", "Checked", "Offered", "Note")

    def show(self, handoffs: list[Handoff], now: datetime) -> None:
        keep = self.cursor_row
        self.clear()
        for h in handoffs:
            done = sum(c.done for c in h.checklist)
            checked = Text(
                f"{done}/{len(h.checklist)}", style="bold green" if done == len(h.checklist) else ""
            )
            self.add_row(
                f"#{h.id}",
                h.model,
                h.from_user,
                checked,
                f"{ago(h.created_at, now)} by {h.created_by}",
                h.note or "",
            )
        if handoffs:
            self.move_cursor(row=min(max(keep, 0), len(handoffs) - 1))
