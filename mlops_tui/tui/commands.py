"""The command palette's entries (ctrl+p): every action, named `area: Verb`, per screen."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from mlops_tui.tui.app import MlopsApp

Command = tuple[str, Callable[[], object], str]


class MlopsCommands(Provider):
    def _commands(self) -> Iterator[Command]:
        app = cast("MlopsApp", self.app)
        screen = self.screen
        selected = getattr(screen, "selected_model", None)
        yield "view: Board", lambda: app.switch_mode("board"), "The loop, a column per stage (1)"
        yield "view: Models", lambda: app.switch_mode("models"), "All models in a table (2)"
        if selected is not None:
            name = selected.name
            yield (
                "model: Move…",
                lambda: app.move_model(selected),
                f"Move {name} to another stage (m)",
            )
            yield (
                "model: Build",
                lambda: app.build_model(selected),
                f"Build {name} from its committed tree at HEAD (b on the model)",
            )
            yield (
                "model: Git…",
                lambda: app.git_model(selected),
                f"{name}'s repository: status, pull, commit, tag, push (g on the model)",
            )
            if getattr(screen, "model_name", None) != name:
                yield "model: Open", lambda: app.open_model(name), f"Show {name} in full (enter)"
        if screen.query("#filter"):
            yield (
                "models: Filter…",
                lambda: screen.run_action("filter"),
                "Filter by name, owner, stage or tag (/)",
            )
            yield "models: Sort", lambda: screen.run_action("sort"), "Sort by the next column (s)"
        yield "app: Refresh", app.action_refresh, "Reload from the database now (r)"
        yield "app: Keys", app.action_help, "Every key of this screen (?)"
        yield "app: Theme…", app.action_change_theme, "Pick a colour theme (remembered)"
        yield "app: Quit", app.action_quit, "Leave mlops (q)"

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            if (score := matcher.match(name)) > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
