"""Where work handed to or from someone will wait; handoffs are not recorded yet."""

from __future__ import annotations

from rich.text import Text

from mlops_tui.tui.widgets.detail.panel import Panel


class Handoffs(Panel):
    def __init__(self) -> None:
        super().__init__("Pending handoffs", id="handoffs")

    def on_mount(self) -> None:
        self.update(Text("No pending handoffs", style="dim"))
