"""One model in full: overview, versions, pending handoffs and its history."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static
from textual.worker import get_current_worker

from mlops_tui.domain import Model
from mlops_tui.errors import MlopsError, NotFound, StoreUnavailable
from mlops_tui.tui.backend import Detail, Snapshot
from mlops_tui.tui.colors import STAGE_COLORS
from mlops_tui.tui.screens.base import MlopsScreen
from mlops_tui.tui.widgets.detail.handoffs import Handoffs
from mlops_tui.tui.widgets.detail.health import HealthPanel
from mlops_tui.tui.widgets.detail.overview import Overview
from mlops_tui.tui.widgets.detail.timeline import Timeline
from mlops_tui.tui.widgets.detail.versions import Versions

if TYPE_CHECKING:
    from mlops_tui.services.monitoring import LoopSummary

HISTORY_LIMIT = 100


class DetailScroll(VerticalScroll):
    """The page: arrow keys and j/k scroll it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "scroll_down", "Scroll down", show=False),
        Binding("k", "scroll_up", "Scroll up", show=False),
    ]


class DetailScreen(MlopsScreen):
    SUB_TITLE = "Model"
    # The loop's keys, escape and quit fill 80 columns by themselves.
    PALETTE_HINT_WIDTH = 100
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        # In the loop's order: move, build, test, deploy, then the rest.
        Binding("m", "move", "Move"),
        Binding("b", "build", "Build"),
        Binding("t", "test", "Test"),
        Binding("d", "deploy", "Deploy"),
        Binding("R", "rollback", "Rollback"),
        Binding("C", "check", "Check", id="model.check"),
        # Out of the footer, which must fit 80 columns; `?` and the palette list them.
        Binding("g", "git", "Git", show=False),
        Binding("h", "hand_over", "Hand over", show=False),
        Binding("c", "changes", "Changes since the owner looked", show=False),
        Binding("T", "time_travel", "Time travel", show=False),
    ]
    DEFAULT_CSS = """
    DetailScreen #detail-title { height: 1; padding: 0 1; text-style: bold; }
    DetailScreen #detail-top { height: auto; }
    DetailScreen #overview { width: 2fr; }
    DetailScreen #detail-side { width: 1fr; height: auto; }
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.model_name = name
        self.model: Model | None = None
        self._looked = False

    def compose_body(self) -> ComposeResult:
        yield Static(self.model_name, id="detail-title")
        with DetailScroll(id="detail"):
            with Horizontal(id="detail-top"):
                yield Overview()
                with VerticalScroll(id="detail-side", can_focus=False):
                    yield Versions()
                    yield HealthPanel()
                    yield Handoffs()
            yield Timeline()

    def on_mount(self) -> None:
        super().on_mount()
        self.sub_title = self.model_name
        self.query_one(DetailScroll).focus()
        self.load()

    @property
    def selected_model(self) -> Model | None:
        return self.model

    async def show_snapshot(self, snapshot: Snapshot) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="detail")
    def load(self) -> None:
        try:
            detail = self.mlops.backend.detail(self.model_name, limit=HISTORY_LIMIT)
        except NotFound as exc:
            self.mlops.call_from_thread(self._gone, exc)
        except StoreUnavailable as exc:
            self.mlops.call_from_thread(self.mlops.set_problem, exc.message)
        except MlopsError as exc:
            self.mlops.call_from_thread(self.mlops.show_error, exc)
        else:
            self.mlops.call_from_thread(self._show, detail)
            if not self._looked:  # the owner has now seen it
                self._looked = True
                with contextlib.suppress(MlopsError):
                    self.mlops.backend.looked(detail.model)
            try:  # health, sparklines, alerts
                loop = self.mlops.backend.loop_summary(self.model_name)
            except MlopsError:
                return
            if get_current_worker().is_cancelled:
                return  # a newer load replaced this one; its result is the one to show
            # Textual types call_from_thread's callback `Callable[..., T | Awaitable[T]]`, a
            # union mypy cannot solve for a coroutine function (it infers Awaitable[Never]).
            self.mlops.call_from_thread(self._show_loop, detail.model, loop)  # type: ignore[arg-type]

    async def _show_loop(self, model: Model, loop: LoopSummary) -> None:
        if self.is_attached:
            await self.query_one(HealthPanel).show(model.health, loop)

    def _gone(self, exc: MlopsError) -> None:
        self.mlops.show_error(exc)
        if self.is_current:
            self.dismiss()

    def _show(self, detail: Detail) -> None:
        if not self.is_attached:
            return  # a load that finished after the screen was closed
        model = self.model = detail.model
        title = Text(model.name, style="bold")
        title.append(f"  {model.stage.value}", style=f"bold {STAGE_COLORS[model.stage]}")
        title.append(f"  owner {model.owner}", style="italic")
        self.query_one("#detail-title", Static).update(title)
        self.query_one(Overview).show(model)
        self.query_one(Versions).show(
            model, detail.versions, detail.mlflow, detail.aliases, detail.link
        )
        self.query_one(Timeline).show(detail.history, self.mlops.now(), HISTORY_LIMIT)
        self.query_one(Handoffs).load(model.name)

    def action_back(self) -> None:
        self.dismiss()

    def action_move(self) -> None:
        self.mlops.move_model(self.model)

    def action_build(self) -> None:
        self.mlops.build_model(self.model)

    def action_git(self) -> None:
        self.mlops.git_model(self.model)

    def action_time_travel(self) -> None:
        from mlops_tui.tui.screens.timetravel import TimeTravelScreen

        self.mlops.push_screen(TimeTravelScreen(self.model_name))

    # -- test, deploy, rollback, check ----------------------------------------------------
    def action_test(self) -> None:
        self.mlops.test_model(self.model)

    def action_deploy(self) -> None:
        self.mlops.deploy_model(self.model)

    def action_rollback(self) -> None:
        self.mlops.rollback_model(self.model)

    def action_check(self) -> None:
        self.mlops.check_model(self.model)

    # -- hand over, changes since the owner last looked ---------------------------------
    def action_hand_over(self) -> None:
        self.mlops.hand_over(self.model)

    def action_changes(self) -> None:
        from mlops_tui.tui.screens.changes import ChangesScreen

        self.mlops.push_screen(ChangesScreen(self.model_name))
