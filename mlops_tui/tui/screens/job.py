"""A long job, live: builds, test runs, deploys and rollbacks stream their output here,
searchable, with a key to cancel the jobs that can stop halfway.

The job runs on its own connection in a thread; leaving the screen does not stop it (its
outcome arrives as a notification), only `c` does, after a confirmation.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Log, Static

from mlops_tui.errors import MlopsError
from mlops_tui.services.context import Context
from mlops_tui.tui.screens.base import MlopsScreen
from mlops_tui.tui.screens.confirm import ConfirmScreen
from mlops_tui.tui.session import own_context

if TYPE_CHECKING:
    from mlops_tui.domain import TestRun
    from mlops_tui.services.deploys import DeployResult

#: cancel switches of jobs still running, set when the app quits
RUNNING: set[threading.Event] = set()

#: what a job returns when it succeeds
R = TypeVar("R")


class JobScreen(MlopsScreen, Generic[R]):
    """Subclasses say what runs (`run_job`) and what its success means (`describe`)."""

    SUB_TITLE = "Job"
    #: what the job is called in messages: "build", "test run", "deploy"
    job = "job"
    #: whether `c` can stop it halfway (a deploy must finish or roll back on its own)
    cancellable = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("c", "cancel_job", "Cancel"),
        Binding("slash", "search", "Search"),
        Binding("n", "next_match", "Next match"),
        Binding("N", "previous_match", "Previous match"),
        Binding("f", "follow", "Follow"),
    ]
    # The ids keep the names of the build screen this grew from.
    DEFAULT_CSS = """
    JobScreen #build-status { height: 1; padding: 0 1; text-style: bold; }
    JobScreen Log { height: 1fr; border: round $primary-darken-2; }
    JobScreen #build-search { display: none; }
    JobScreen #build-search.visible { display: block; }
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.model_name = name
        self.cancel = threading.Event()
        self.running = False
        self.matches: list[int] = []
        self.match = -1

    def starting(self) -> str:
        return f"Running {self.job} of {self.model_name}…"

    def run_job(self, ctx: Context, on_line: Callable[[str], None]) -> R:
        """Do the work (in a thread); returns what `describe` turns into a message."""
        raise NotImplementedError

    def describe(self, result: R) -> tuple[str, str, list[str]]:
        """(status line, notification title, warnings) for a job that succeeded."""
        return str(result), self.job.capitalize(), []

    def compose_body(self) -> ComposeResult:
        yield Static(self.starting(), id="build-status")
        yield Log(highlight=False, auto_scroll=True)
        yield Input(placeholder="search the log (enter)", id="build-search")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.cancellable or action != "cancel_job"

    def on_mount(self) -> None:
        super().on_mount()
        self.running = True
        RUNNING.add(self.cancel)
        self._work()

    # -- the job ---------------------------------------------------------------------------
    @work(thread=True, group="job")
    def _work(self) -> None:
        try:
            with own_context(self.mlops.backend) as ctx:
                result = self.run_job(ctx, lambda line: self._from_thread(self._line, line))
        except MlopsError as exc:
            self._from_thread(self._failed, exc)
        except Exception as exc:  # shown, never a traceback
            self._from_thread(self._failed, MlopsError(f"{type(exc).__name__}: {exc}"))
        else:
            self._from_thread(self._succeeded, result)
        finally:
            RUNNING.discard(self.cancel)

    def _from_thread(self, callback: Callable[..., object], *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # the app has gone
            self.app.call_from_thread(callback, *args)

    def _line(self, line: str) -> None:
        if self.is_attached:
            self.query_one(Log).write_line(line)

    def _succeeded(self, result: R) -> None:
        self.running = False
        text, title, warnings = self.describe(result)
        self.app.notify(text, title=title)
        for warning in warnings:
            self.app.notify(warning, title=self.job.capitalize(), severity="warning")
        self._finished(text)

    def _failed(self, error: MlopsError) -> None:
        self.running = False
        self.app.notify(error.message, title=error.title, severity="error", markup=False)
        self._finished(f"{error.title}: {error.message}")

    def _finished(self, text: str) -> None:
        """The status line says how the job ended; the views show what it changed."""
        if self.is_attached:
            self.query_one("#build-status", Static).update(text)
        self.mlops.poll(force=True)

    # -- keys ------------------------------------------------------------------------------
    def action_back(self) -> None:
        if self.running:
            self.app.notify(
                f"The {self.job} goes on; its result will show here", title=self.job.capitalize()
            )
        self.app.pop_screen()

    def action_cancel_job(self) -> None:
        if not self.running:
            self.app.notify(f"No {self.job} is running", severity="warning")
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.cancel.set()

        self.app.push_screen(ConfirmScreen(f"Cancel the {self.job} of {self.model_name}?"), answer)

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


class TestScreen(JobScreen["TestRun"]):
    """`t` on a model: its candidate's tests, streamed."""

    __test__ = False
    SUB_TITLE = "Test"
    job = "test run"

    def starting(self) -> str:
        return f"Testing {self.model_name}…"

    def run_job(self, ctx: Context, on_line: Callable[[str], None]) -> TestRun:
        from mlops_tui.services import testing

        return testing.run(ctx, self.model_name, on_line=on_line, cancel=self.cancel)

    def describe(self, result: TestRun) -> tuple[str, str, list[str]]:
        from mlops_tui.services import testing

        return testing.summary(result), f"Test run #{result.id} passed", []


class DeployScreen(JobScreen["DeployResult"]):
    """`d` (deploy the candidate) and `R` (roll back) on a model, streamed."""

    SUB_TITLE = "Deploy"
    job = "deploy"
    cancellable = False

    def __init__(
        self, name: str, *, rollback_to: int | None = None, rollback: bool = False
    ) -> None:
        super().__init__(name)
        self.rollback = rollback
        self.rollback_to = rollback_to
        if rollback:
            self.job = "rollback"

    def starting(self) -> str:
        verb = "Rolling back" if self.rollback else "Deploying"
        return f"{verb} {self.model_name}…"

    def run_job(self, ctx: Context, on_line: Callable[[str], None]) -> DeployResult:
        from mlops_tui.services import deploys

        if self.rollback:
            return deploys.rollback(ctx, self.model_name, to=self.rollback_to, on_line=on_line)
        return deploys.deploy(ctx, self.model_name, on_line=on_line)

    def describe(self, result: DeployResult) -> tuple[str, str, list[str]]:
        from mlops_tui.services import deploys

        d = result.deployment
        return (
            deploys.summary(result),
            f"{self.job.capitalize()} #{d.id} succeeded",
            result.warnings,
        )
