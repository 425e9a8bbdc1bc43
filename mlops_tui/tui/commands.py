"""The command palette's entries (ctrl+p): every action, named `area: Verb`, per screen."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen

from mlops_tui.domain import Model
from mlops_tui.tui.screens.base import MlopsScreen
from mlops_tui.tui.widgets.detail.versions import Versions

if TYPE_CHECKING:
    from mlops_tui.tui.app import MlopsApp

Command = tuple[str, Callable[[], object], str]


class MlopsCommands(Provider):
    def _commands(self) -> Iterator[Command]:
        app = cast("MlopsApp", self.app)
        screen = self.screen
        selected = screen.selected_model if isinstance(screen, MlopsScreen) else None
        yield "view: Board", lambda: app.switch_mode("board"), "The loop, a column per stage (1)"
        yield "view: Models", lambda: app.switch_mode("models"), "All models in a table (2)"
        yield "view: On-call", lambda: app.switch_mode("oncall"), "Every production model (3)"
        yield "view: Inbox", lambda: app.switch_mode("inbox"), "Handoffs waiting for you (4)"
        yield "view: Alerts", lambda: app.switch_mode("alerts"), "Open alerts, acknowledge (5)"
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
            yield from _loop_model_commands(app, selected)
            yield (
                "handoff: Hand over…",
                lambda: app.hand_over(selected),
                f"Offer {name} to someone; they accept in their inbox (h)",
            )
            yield from _registry_model_commands(app, name)
        if screen.query("#filter"):
            yield (
                "models: Filter…",
                lambda: screen.run_action("filter"),
                "Filter by name, owner, stage or tag (/)",
            )
            yield "models: Sort", lambda: screen.run_action("sort"), "Sort by the next column (s)"
        yield from _registry_commands(app)
        yield from _mlflow_commands(app, screen, selected)
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


# -- time travel, approvals ---------------------------------------------------------------
def _registry_model_commands(app: MlopsApp, name: str) -> Iterator[Command]:
    def time_travel() -> None:
        from mlops_tui.tui.screens.timetravel import TimeTravelScreen

        app.push_screen(TimeTravelScreen(name))

    yield (
        "model: Time travel",
        time_travel,
        f"Scrub {name}'s history and see it as it was at each event (T on the model)",
    )


def _registry_commands(app: MlopsApp) -> Iterator[Command]:
    def pending() -> None:
        from mlops_tui.tui.screens.approvals import ApprovalsScreen

        app.push_screen(ApprovalsScreen())

    yield (
        "approvals: Pending…",
        pending,
        "Versions waiting for approval before production: approve (a) or reject (x)",
    )


# -- MLflow ----------------------------------------------------------------------------------
def _mlflow_commands(
    app: MlopsApp, screen: Screen[object], model: Model | None
) -> Iterator[Command]:
    yield (
        "mlflow: Sync",
        app.mlflow_sync,
        "Bring in the new MLflow versions and alias moves of every linked model",
    )
    # Whether a model is linked is known where its page shows it, without asking the
    # database from the UI thread.
    if model is not None and any(v.linked == model.name for v in screen.query(Versions)):
        name = model.name
        yield (
            f"mlflow: Sync {name}",
            lambda: app.mlflow_sync(name),
            f"Bring in {name}'s new MLflow versions and alias moves",
        )


# -- test, deploy, rollback, check ---------------------------------------------------------
def _loop_model_commands(app: MlopsApp, model: Model) -> Iterator[Command]:
    name = model.name
    yield (
        "model: Test",
        lambda: app.test_model(model),
        f"Run {name}'s tests on its candidate version (t on the model)",
    )
    yield (
        "model: Deploy…",
        lambda: app.deploy_model(model),
        f"Deploy {name}'s candidate, after confirming version and target (d on the model)",
    )
    yield (
        "model: Rollback…",
        lambda: app.rollback_model(model),
        f"Return {name} to its previous production version (R on the model)",
    )
    if model.production_version is not None:  # nothing serves otherwise: nothing to check
        yield (
            "model: Check health",
            lambda: app.check_model(model),
            f"Check {name}'s production version now: health, metrics, alerts (C on the model)",
        )
