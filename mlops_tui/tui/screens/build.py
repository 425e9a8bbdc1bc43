"""A build, live: the Docker log as it streams, searchable, with a key to cancel.

The build runs on its own connection in a thread; leaving the screen does not stop it (its
outcome arrives as a notification), only `c` does, after a confirmation.
"""

from __future__ import annotations

import contextlib
import threading
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Log, Static

from mlops_tui.domain import MlopsError
from mlops_tui.services import builds
from mlops_tui.tui.screens.base import MlopsScreen
from mlops_tui.tui.screens.confirm import ConfirmScreen
from mlops_tui.tui.session import own_context

#: cancel switches of builds still running, set when the app quits
RUNNING: set[threading.Event] = set()


class BuildScreen(MlopsScreen):
    SUB_TITLE = "Build"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("c", "cancel_build", "Cancel build"),
        Binding("slash", "search", "Search"),
        Binding("n", "next_match", "Next match"),
        Binding("N", "previous_match", "Previous match"),
        Binding("f", "follow", "Follow"),
    ]
    DEFAULT_CSS = """
    BuildScreen #build-status { height: 1; padding: 0 1; text-style: bold; }
    BuildScreen Log { height: 1fr; border: round $primary-darken-2; }
    BuildScreen #build-search { display: none; }
    BuildScreen #build-search.visible { display: block; }
    """

    def __init__(self, name: str, ref: str = "HEAD") -> None:
        super().__init__()
        self.model_name = name
        self.ref = ref
        self.cancel = threading.Event()
        self.running = False
        self.matches: list[int] = []
        self.match = -1

    def compose_body(self) -> ComposeResult:
        yield Static(f"Building {self.model_name} at {self.ref}…", id="build-status")
        yield Log(highlight=False, auto_scroll=True)
        yield Input(placeholder="search the log (enter)", id="build-search")

    def on_mount(self) -> None:
        super().on_mount()
        self.running = True
        RUNNING.add(self.cancel)
        self.run_build()

    # -- the build ---------------------------------------------------------------------
    @work(thread=True, group="build")
    def run_build(self) -> None:
        try:
            with own_context(self.mlops.backend) as ctx:
                result = builds.build(
                    ctx,
                    self.model_name,
                    ref=self.ref,
                    cancel=self.cancel,
                    on_line=lambda line: self._from_thread(self._line, line),
                )
        except MlopsError as exc:
            self._from_thread(self._finished, None, exc)
        except Exception as exc:  # shown, never a traceback
            self._from_thread(self._finished, None, MlopsError(f"{type(exc).__name__}: {exc}"))
        else:
            self._from_thread(self._finished, result, None)
        finally:
            RUNNING.discard(self.cancel)

    def _from_thread(self, callback, *args) -> None:  # type: ignore[no-untyped-def]
        with contextlib.suppress(RuntimeError):  # the app has gone
            self.app.call_from_thread(callback, *args)

    def _line(self, line: str) -> None:
        if self.is_attached:
            self.query_one(Log).write_line(line)

    def _finished(self, result: builds.BuildResult | None, error: MlopsError | None) -> None:
        self.running = False
        if result is not None:
            b = result.build
            text = f"{b.model} v{b.version} built from {b.commit[:12]} as {b.image}"
            self.app.notify(text, title=f"Build #{b.id} succeeded")
            for warning in result.warnings:
                self.app.notify(warning, title="Build", severity="warning")
        else:
            assert error is not None
            text = f"{error.title}: {error.message}"
            self.app.notify(error.message, title=error.title, severity="error")
        if self.is_attached:
            self.query_one("#build-status", Static).update(text)
        self.mlops.poll(force=True)

    # -- keys ----------------------------------------------------------------------------
    def action_back(self) -> None:
        if self.running:
            self.app.notify("The build goes on; its result will show here", title="Build")
        self.app.pop_screen()

    def action_cancel_build(self) -> None:
        if not self.running:
            self.app.notify("No build is running", severity="warning")
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.cancel.set()

        self.app.push_screen(ConfirmScreen(f"Cancel the build of {self.model_name}?"), answer)

    def action_follow(self) -> None:
        log = self.query_one(Log)
        log.auto_scroll = not log.auto_scroll
        if log.auto_scroll:
            log.scroll_end(animate=False)
        self.app.notify("Following the log" if log.auto_scroll else "Not following")

    def action_search(self) -> None:
        box = self.query_one("#build-search", Input)
        box.add_class("visible")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        term = event.value.strip().lower()
        log = self.query_one(Log)
        self.matches = [i for i, line in enumerate(log.lines) if term and term in line.lower()]
        self.match = -1
        event.input.remove_class("visible")
        log.focus()
        if not self.matches:
            self.app.notify(f"No line contains {event.value!r}", severity="warning")
            return
        self.action_next_match()

    def _show_match(self) -> None:
        log = self.query_one(Log)
        log.auto_scroll = False
        line = self.matches[self.match]
        log.scroll_to(y=max(line - 2, 0), animate=False)
        self.query_one("#build-status", Static).update(
            f"match {self.match + 1}/{len(self.matches)} at line {line + 1}: "
            f"{log.lines[line][:120]}"
        )

    def action_next_match(self) -> None:
        if self.matches:
            self.match = (self.match + 1) % len(self.matches)
            self._show_match()

    def action_previous_match(self) -> None:
        if self.matches:
            self.match = (self.match - 1) % len(self.matches)
            self._show_match()
