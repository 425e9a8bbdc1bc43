"""The model's history, newest first, in the same words as the command line's history."""

from __future__ import annotations

from datetime import datetime

from rich.table import Table
from rich.text import Text

from mlops_tui.domain import Event
from mlops_tui.timefmt import ago, local
from mlops_tui.tui.widgets.detail.panel import Panel


class Timeline(Panel):
    def __init__(self) -> None:
        super().__init__("History", id="timeline")

    def show(self, events: list[tuple[Event, str]], now: datetime, limit: int) -> None:
        table = Table.grid(padding=(0, 2), expand=True)
        table.add_column(no_wrap=True, style="dim")
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True, style="italic")
        table.add_column(ratio=1, overflow="fold")
        for event, text in events:
            table.add_row(ago(event.at, now), local(event.at), event.actor, text)
        if not events:
            self.update(Text("No history", style="dim"))
            return
        self.border_subtitle = (
            f"newest {len(events)}" if len(events) >= limit else f"{len(events)} events"
        )
        self.update(table)
