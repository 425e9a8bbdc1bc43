"""Handoffs waiting for me, one row each: the model, who offered it, how far I got."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text

from mlops_tui.domain import Handoff
from mlops_tui.timefmt import ago
from mlops_tui.tui.widgets.shell.fitted_table import Cell, Fit, FittedTable

#: Which model, from whom, how far along stay whole; when and the note give way.
COLUMNS = (
    Fit("Handoff", rank=1, least=None),
    Fit("Model", rank=0, least=None, middle=True, keep=True),
    Fit("From", rank=0, least=None),
    Fit("Checked", rank=0, least=None),
    Fit("Offered", rank=2, least=8),
    Fit("Note", rank=3, least=10),
)


class HandoffTable(FittedTable):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(*COLUMNS, **kwargs)

    def show_handoffs(self, handoffs: list[Handoff], now: datetime) -> None:
        rows: list[list[Cell]] = []
        for h in handoffs:
            done = sum(c.done for c in h.checklist)
            checked = Text(
                f"{done}/{len(h.checklist)}", style="bold green" if done == len(h.checklist) else ""
            )
            rows.append(
                [
                    f"#{h.id}",
                    h.model,
                    h.from_user,
                    checked,
                    f"{ago(h.created_at, now)} by {h.created_by}",
                    h.note or "",
                ]
            )
        self.show(rows)
