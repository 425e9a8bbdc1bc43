"""How the serving version is doing: the last check, open alerts, the last test run and
deployment, and a sparkline of each threshold metric's recent values, so a drift shows as a
rising line before it crosses critical."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from mlops_tui.domain import Deployment, Health, TestRun
from mlops_tui.tui.colors import HEALTH_COLORS, health_text

if TYPE_CHECKING:
    from mlops_tui.services.monitoring import LoopSummary

MAX_POINTS = 40


class HealthPanel(Vertical):
    DEFAULT_CSS = """
    HealthPanel {
        border: round $primary-background-lighten-2;
        border-title-color: $text-accent;
        border-title-style: bold;
        padding: 0 1;
        height: auto;
    }
    HealthPanel Static { height: auto; }
    HealthPanel Sparkline { height: 2; margin-bottom: 1; }
    """

    def __init__(self) -> None:
        super().__init__(id="health")
        self.border_title = "Health"
        # Two loads can finish together (opening the screen and a live refresh); without
        # the lock their removes and mounts interleave and a metric shows twice.
        self._rebuilding = asyncio.Lock()

    def compose(self) -> ComposeResult:
        yield Static(Text("no checks yet", style="dim"), id="health-summary")

    async def show(self, health: Health, summary: LoopSummary) -> None:
        """Rebuild from the model's loop summary."""
        async with self._rebuilding:
            await self._rebuild(health, summary)

    async def _rebuild(self, health: Health, summary: LoopSummary) -> None:
        lines = Text()
        lines.append_text(health_text(health))
        check = summary.last_check
        if check is not None:
            lines.append(f"  last check v{check.version}", style="dim")
            if check.detail:
                lines.append(f"\n{check.detail}", style="italic")
        for alert in summary.alerts:
            lines.append(f"\n✖ alert #{alert.id} {alert.status.value}: ", style="bold red")
            lines.append(alert.detail or alert.metric)
        # isinstance, not `is not None`: LoopSummary declares both `object | None`
        if isinstance(t := summary.last_test, TestRun):
            lines.append(f"\ntests v{t.version}: {t.status.value}", style="dim")
        if isinstance(d := summary.last_deployment, Deployment):
            lines.append(f"\n{d.kind} v{d.version}: {d.status.value}", style="dim")
        self.query_one("#health-summary", Static).update(lines)
        await self.query("Sparkline, .metric-label").remove()
        rows: list[Static | Sparkline] = []
        for metric, values in summary.series.items():
            values = values[-MAX_POINTS:]
            warn, critical = summary.thresholds.get(metric, (None, None))
            label = Text(f"{metric} ", style="bold")
            label.append(f"{values[-1]:g}")
            limits = [f"warn {warn:g}" if warn is not None else "", ""]
            if critical is not None:
                limits[1] = f"critical {critical:g}"
            shown = " · ".join(x for x in limits if x)
            if shown:
                label.append(f"  ({shown})", style="dim")
            top = max(values)
            colour = HEALTH_COLORS[Health.OK]
            if critical is not None and top >= critical:
                colour = HEALTH_COLORS[Health.CRITICAL]
            elif warn is not None and top >= warn:
                colour = HEALTH_COLORS[Health.WARN]
            rows.append(Static(label, classes="metric-label"))
            rows.append(Sparkline(values, min_color=HEALTH_COLORS[Health.OK], max_color=colour))
        await self.mount_all(rows)
