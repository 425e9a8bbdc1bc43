"""The frame every main screen shares (header, unreachable-database banner, footer), and
its subscription to the app's data, so a new screen only composes its body."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual import events
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header

from mlops_tui.domain import Model
from mlops_tui.tui.backend import Snapshot
from mlops_tui.tui.widgets.shell.banner import Banner
from mlops_tui.tui.widgets.shell.views import ViewBar

if TYPE_CHECKING:
    from mlops_tui.tui.app import MlopsApp


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

    def on_resize(self, event: events.Resize) -> None:
        # Narrow terminals: tighter key hints, so every key still fits on the one line.
        self.query_one(Footer).compact = event.size.width < 100

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
