"""The frame every main screen shares (header, unreachable-database banner, footer), and
its subscription to the app's data, so a new screen only composes its body."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar, cast

from textual import events
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header
from textual.worker import get_current_worker

from mlops_tui.domain import Model
from mlops_tui.errors import MlopsError, StoreUnavailable
from mlops_tui.tui.backend import Snapshot
from mlops_tui.tui.widgets.shell.banner import Banner
from mlops_tui.tui.widgets.shell.views import ViewBar

if TYPE_CHECKING:
    from mlops_tui.tui.app import MlopsApp

T = TypeVar("T")


class MlopsScreen(Screen[None]):
    """Subclasses implement `compose_body` and `show_snapshot`."""

    @property
    def mlops(self) -> MlopsApp:
        return cast("MlopsApp", self.app)

    #: the mode this screen is the main view of (board, models…), or None for a screen
    #: opened on top of one (a model, a build log), which shows no view bar
    VIEW: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        if self.VIEW is not None:
            yield ViewBar(self.VIEW)
        yield Banner()
        yield from self.compose_body()
        yield Footer()

    #: below this width the footer leaves out its command palette hint, for a screen whose
    #: own keys need the room at 80 columns (ctrl+p still works, and `?` lists it)
    PALETTE_HINT_WIDTH = 0

    def on_resize(self, event: events.Resize) -> None:
        # Narrow terminals: tighter key hints, so every key still fits on the one line.
        footer = self.query_one(Footer)
        footer.compact = event.size.width < 100
        footer.show_command_palette = event.size.width >= self.PALETTE_HINT_WIDTH

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.mlops.data_signal.subscribe(self, self.show_snapshot)
        if self.mlops.snapshot is not None:
            self.call_after_refresh(self.show_snapshot, self.mlops.snapshot)

    async def show_snapshot(self, snapshot: Snapshot) -> None:
        """Show the newest data; called whenever anyone changed anything."""

    @property
    def selected_model(self) -> Model | None:
        """The model the user has selected here, for `m` and the command palette."""
        return None

    def fetch(self, read: Callable[[], T], show: Callable[[T], None], group: str) -> None:
        """Read off the UI thread, then show on it. An unreachable database becomes the
        banner and any other refusal a notification: never a traceback. A newer fetch of the
        same group replaces one still running, so a burst of changes reads once."""

        def job() -> None:
            try:
                result = read()
            except StoreUnavailable as exc:
                self.mlops.call_from_thread(self.mlops.set_problem, exc.message)
            except MlopsError as exc:
                self.mlops.call_from_thread(self.mlops.show_error, exc)
            else:
                if not get_current_worker().is_cancelled:  # else a newer read shows
                    self.mlops.call_from_thread(show, result)

        self.run_worker(job, thread=True, exclusive=True, group=group)
