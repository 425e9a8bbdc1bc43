"""The Textual application: modes for the main views, one poller, one backend.

Each main view is a mode (its own screen stack), so a later view (builds, git, on-call,
handoffs) is one more entry in MODES and one more number key. All database work runs in
thread workers; the UI thread only renders.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.signal import Signal
from textual.theme import Theme

from mlops_tui.domain import MlopsError, Model, StoreUnavailable
from mlops_tui.store import Change
from mlops_tui.tui import prefs
from mlops_tui.tui.backend import Backend, Snapshot, utc_now
from mlops_tui.tui.commands import MlopsCommands
from mlops_tui.tui.screens.base import MlopsScreen
from mlops_tui.tui.screens.board import BoardScreen
from mlops_tui.tui.screens.build import BuildScreen
from mlops_tui.tui.screens.detail import DetailScreen
from mlops_tui.tui.screens.git import GitScreen
from mlops_tui.tui.screens.help import HelpScreen, key_rows
from mlops_tui.tui.screens.models import ModelsScreen
from mlops_tui.tui.screens.move import MoveScreen


class MlopsApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "mlops"
    MODES: ClassVar[dict[str, Callable[[], MlopsScreen]]] = {  # type: ignore[assignment]
        "board": BoardScreen,
        "models": ModelsScreen,
    }
    COMMANDS = App.COMMANDS | {MlopsCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "switch_mode('board')", "Board"),
        Binding("2", "switch_mode('models')", "Models"),
        Binding("r", "refresh", "Refresh"),
        Binding("question_mark", "help", "Keys"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        url: str,
        *,
        actor: str,
        clock: Callable[[], datetime] = utc_now,
        poll_interval: float = 1.0,
        mode: str = "board",
    ) -> None:
        super().__init__()
        self.backend = Backend(url, actor, clock)
        self.now = clock
        self.poll_interval = poll_interval
        self.start_mode = mode
        self.snapshot: Snapshot | None = None
        self.problem: str | None = None
        self.data_signal: Signal[Snapshot] = Signal(self, "data")
        self.problem_signal: Signal[str | None] = Signal(self, "problem")
        self._poll_gate = threading.Lock()

    # -- start-up and preferences ----------------------------------------------------
    def on_mount(self) -> None:
        theme = prefs.load().get("theme")
        if isinstance(theme, str) and theme in self.available_themes:
            self.theme = theme
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        self.switch_mode(self.start_mode)
        self.poll(force=True)
        self.set_interval(self.poll_interval, self.poll)

    def _remember_theme(self, theme: Theme) -> None:
        prefs.save(theme=theme.name)

    def on_unmount(self) -> None:
        self.backend.close()

    # -- live data -------------------------------------------------------------------
    @work(thread=True, group="poll")
    def poll(self, force: bool = False) -> None:
        """Reload when the newest event moved: anyone's change shows within a poll."""
        if not self._poll_gate.acquire(blocking=False):
            return  # the previous poll is still running
        try:
            head = self.backend.head()
            snapshot = None
            if force or self.snapshot is None or head != self.snapshot.head:
                snapshot = self.backend.snapshot()
        except StoreUnavailable as exc:
            self._from_thread(self.set_problem, exc.message)
        except MlopsError as exc:
            self._from_thread(self.show_error, exc)
        else:
            self._from_thread(self._loaded, snapshot)
        finally:
            self._poll_gate.release()

    def _from_thread(self, callback: Callable[..., object], *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # the app is shutting down
            self.call_from_thread(callback, *args)

    def _loaded(self, snapshot: Snapshot | None) -> None:
        self.set_problem(None)
        if snapshot is not None:
            self.snapshot = snapshot
            self.data_signal.publish(snapshot)

    def set_problem(self, problem: str | None) -> None:
        if problem != self.problem:
            self.problem = problem
            self.problem_signal.publish(problem)

    def show_error(self, exc: MlopsError) -> None:
        if isinstance(exc, StoreUnavailable):
            self.set_problem(exc.message)
        self.notify(exc.message, title=exc.title, severity="error")

    # -- actions shared by the screens -----------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the key of the view already shown: the footer lists only keys that do
        something here, and must fit in 80 columns."""
        shown = action == "switch_mode" and parameters and parameters[0] == self.current_mode
        return not shown

    def action_refresh(self) -> None:
        self.poll(force=True)

    def action_help(self) -> None:
        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        self.push_screen(HelpScreen(screen.sub_title or self.title, key_rows(screen)))

    def open_model(self, name: str) -> None:
        self.push_screen(DetailScreen(name))

    def move_model(self, model: Model | None) -> None:
        if model is None:
            self.notify("Select a model first", severity="warning")
            return
        self.push_screen(MoveScreen(model), self._moved)

    def build_model(self, model: Model | None) -> None:
        """Build from the committed tree at HEAD; the log screen streams it."""
        if self._needs_repo(model, "build"):
            assert model is not None
            self.push_screen(BuildScreen(model.name))

    def git_model(self, model: Model | None) -> None:
        if self._needs_repo(model, "use Git"):
            assert model is not None
            self.push_screen(GitScreen(model.name))

    def _needs_repo(self, model: Model | None, what: str) -> bool:
        if model is None:
            self.notify("Select a model first", severity="warning")
            return False
        if not model.repo:
            self.notify(
                f"{model.name} has no repository to {what} from: "
                f"set one with `mlops model add --repo` or `mlops model set`",
                title="No repository",
                severity="warning",
            )
            return False
        return True

    def _moved(self, change: Change | None) -> None:
        if change is None:
            return
        data = change.event.data
        self.notify(f"{change.model.name}: {data.get('from')} → {data.get('to')}", title="Moved")
        self.poll(force=True)
