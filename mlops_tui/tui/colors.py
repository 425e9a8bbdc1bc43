"""One colour per stage and per health, so a stage reads the same on every screen.

Colours are fixed hex values rather than theme variables: people learn "yellow means test"
and that meaning must survive a change of theme.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from mlops_tui.domain import Health, Stage

STAGE_COLORS: dict[Stage, str] = {
    Stage.PLAN: "#5c9cf5",  # blue
    Stage.BUILD: "#d16dd1",  # magenta
    Stage.TEST: "#e5c07b",  # yellow
    Stage.DEPLOY: "#4fc1cf",  # cyan
    Stage.MONITOR: "#8fcc6a",  # green
}

HEALTH_COLORS: dict[Health, str] = {
    Health.OK: "#8fcc6a",  # green
    Health.WARN: "#e5c07b",  # yellow
    Health.CRITICAL: "#e8505b",  # red
    Health.STALE: "#d16dd1",  # magenta
    Health.UNKNOWN: "#8a8f98",  # grey
}

HEALTH_MARKS: dict[Health, str] = {
    Health.OK: "●",
    Health.WARN: "▲",
    Health.CRITICAL: "✖",
    Health.STALE: "◌",
    Health.UNKNOWN: "·",
}


def stage_style(stage: Stage) -> Style:
    return Style(color=STAGE_COLORS[stage], bold=True)


def health_style(health: Health) -> Style:
    return Style(color=HEALTH_COLORS[health])


def stage_text(stage: Stage) -> Text:
    return Text(stage.value, style=stage_style(stage))


def health_text(health: Health) -> Text:
    """A mark as well as a colour, so health still reads without colour (NO_COLOR, themes)."""
    return Text(f"{HEALTH_MARKS[health]} {health.value}", style=health_style(health))


def version(number: int | None) -> str:
    return f"v{number}" if number is not None else "-"
