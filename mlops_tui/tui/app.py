"""The Textual application: modes for the main views, one poller, one backend.

Each main view is a mode (its own screen stack), so a later view (builds, git, on-call,
handoffs) is one more entry in MODES and one more number key. All database work runs in
thread workers; the UI thread only renders.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.signal import Signal
from textual.theme import Theme

from mlops_tui.domain import Alert, Handoff, Health, Model
from mlops_tui.domain.mlflow import PushStatus
from mlops_tui.errors import MlopsError, StoreUnavailable
from mlops_tui.store import Change
from mlops_tui.tui import prefs
from mlops_tui.tui.backend import Backend, Snapshot, utc_now
from mlops_tui.tui.commands import MlopsCommands
from mlops_tui.tui.screens.alerts import AlertsScreen
from mlops_tui.tui.screens.board import BoardScreen
from mlops_tui.tui.screens.build import BuildScreen
from mlops_tui.tui.screens.detail import DetailScreen
from mlops_tui.tui.screens.git import GitScreen
from mlops_tui.tui.screens.help import HelpScreen, key_rows
from mlops_tui.tui.screens.inbox import InboxScreen
from mlops_tui.tui.screens.models import ModelsScreen
from mlops_tui.tui.screens.move import MoveScreen
from mlops_tui.tui.screens.oncall import OncallScreen
from mlops_tui.tui.widgets.shell.views import VIEWS

if TYPE_CHECKING:
    from mlops_tui.services.mlflow_bridge import Report
    from mlops_tui.services.monitoring import CheckOutcome

#: How long the listening thread waits at a time: a bound on how long closing the app waits
#: for it, not on how fast a change shows (a notice ends the wait at once).
LISTEN_WAIT_S = 0.5


#: Textual's palette entries that MlopsCommands offers in its own words (app: Theme…, app:
#: Keys, app: Quit).
OURS = frozenset({"Theme", "Keys", "Quit"})

#: How a check's health reads as a notification: a critical model must not slip by.
CHECK_SEVERITY: dict[Health, SeverityLevel] = {
    Health.OK: "information",
    Health.WARN: "warning",
    Health.CRITICAL: "error",
}


def check_notice(outcome: CheckOutcome) -> tuple[str, str, SeverityLevel]:
    """(title, message, severity) for a check run from the keyboard.

    The CLI's one-liner is built to be grepped; a notification is read once, so it says in
    sentences what the person needs to act on: the health, which metrics crossed their
    thresholds and why the model is not answering, and whether the check opened an alert
    and sent the model back to Plan (the model keeps serving all the same).
    """
    from mlops_tui.services.monitoring import UP

    check = outcome.check
    version = f"v{check.version}" if check.version is not None else "production"
    sentences = [f"{outcome.model} {version}: health {check.health}."]
    crossed = [
        f"{metric} = {value:g}, past its {status} threshold"
        for metric, value, status in outcome.results
        if metric != UP and value is not None and status != Health.OK
    ]
    if crossed:
        sentences.append("; ".join(crossed) + ".")
    if outcome.problems:
        sentences.append("; ".join(outcome.problems) + ".")
    if not crossed and not outcome.problems:
        measured = any(metric != UP for metric, _, _ in outcome.results)
        sentences.append(
            "Every metric is within its thresholds." if measured else "It answers its health check."
        )
    if outcome.opened:
        opened = (
            f"An alert (#{outcome.opened[0].id}) was opened"
            if len(outcome.opened) == 1
            else f"{len(outcome.opened)} alerts were opened"
        )
        if outcome.moved_to_plan:
            opened += f" and the model went back to Plan; {version} keeps serving"
        sentences.append(opened + ".")
    severity = CHECK_SEVERITY.get(check.health, "warning")
    return f"Checked {outcome.model}", " ".join(sentences), severity


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def sync_notice(name: str | None, reports: list[Report]) -> tuple[str, list[str]]:
    """(summary, drift warnings) for an MLflow sync run from the palette: what came in, in
    one line, and each model whose production MLflow's alias disagrees with."""
    plans = [p for r in reports for p in r.plans]
    if not plans:
        return "MLflow: no model is linked yet", []
    versions = sum(len(p.versions) for p in plans)
    moves = sum(len(p.moves) for p in plans)
    pushed = sum(1 for r in reports for x in r.pushes if x.status == PushStatus.DONE)
    done = [
        part
        for n, part in (
            (versions, _count(versions, "new version", "new versions")),
            (moves, _count(moves, "alias moved", "aliases moved")),
            (pushed, _count(pushed, "alias pushed", "aliases pushed")),
        )
        if n
    ]
    changed = sorted({p.name for p in plans if p.versions or p.moves})
    if not done:
        summary = f"MLflow: {name} is up to date" if name else "MLflow: up to date"
    else:
        summary = "MLflow: " + ", ".join(done)
        if changed:
            more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
            summary += f" ({', '.join(changed[:3])}{more})"
    drifts = [f"{p.name}: {p.drift}" for p in plans if p.drift]
    return summary, drifts


class MlopsApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "mlops"
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        "board": BoardScreen,
        "models": ModelsScreen,
        "oncall": OncallScreen,
        "inbox": InboxScreen,
        "alerts": AlertsScreen,
    }
    COMMANDS = App.COMMANDS | {MlopsCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        # Shown in the view bar under the header, not the footer (see widgets/shell/views).
        *(Binding(key, f"switch_mode('{mode}')", label, show=False) for key, mode, label in VIEWS),
        # The app polls every second; `r` stays for the impatient, listed by `?`.
        Binding("r", "refresh", "Refresh", show=False),
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
        self._checking: set[str] = set()  # models whose check is running: one at a time
        self._stop_listening = threading.Event()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's own palette entries, less those ours already offer in the palette's
        `area: Verb` words (a theme remembered across runs, our keys screen, quit): one
        entry per thing to do, not two that look alike."""
        for command in super().get_system_commands(screen):
            if command.title not in OURS:
                yield command

    # -- start-up and preferences ----------------------------------------------------
    def on_mount(self) -> None:
        theme = prefs.load().get("theme")
        if isinstance(theme, str) and theme in self.available_themes:
            self.theme = theme
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        self.switch_mode(self.start_mode)
        self.poll(force=True)
        self.set_interval(self.poll_interval, self.poll)
        self.listen()

    def _remember_theme(self, theme: Theme) -> None:
        prefs.save(theme=theme.name)

    def on_unmount(self) -> None:
        self._stop_listening.set()
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

    @work(thread=True, group="listen")
    def listen(self) -> None:
        """Poll as soon as anyone's change commits, where the database says so (PostgreSQL's
        LISTEN/NOTIFY): a teammate's change shows in a moment, not at the next poll. Where
        it cannot (SQLite), or once the listening connection fails, the poll alone goes on,
        so nothing is lost but the moment."""
        watch = self.backend.watch()
        if watch is None:
            return
        try:
            while not self._stop_listening.is_set():
                if watch.wait(LISTEN_WAIT_S):
                    self._from_thread(self.poll)
        except MlopsError:
            pass  # the poll shows the outage, and keeps the board current once it is over
        finally:
            watch.close()

    def _from_thread(self, callback: Callable[..., object], *args: object, **kw: object) -> None:
        with contextlib.suppress(RuntimeError):  # the app is shutting down
            self.call_from_thread(callback, *args, **kw)

    def _loaded(self, snapshot: Snapshot | None) -> None:
        self.set_problem(None)
        if snapshot is not None:
            self.snapshot = snapshot
            self.data_signal.publish(snapshot)
            self.relay()

    @work(thread=True, exclusive=True, group="webhooks")
    def relay(self) -> None:
        """Something changed: send due webhook events and MLflow aliases, on a connection
        of its own so the board never waits for a receiver. Failures stay in the outboxes."""
        with contextlib.suppress(Exception):
            if self.backend.has_relays():
                from mlops_tui.services import relays
                from mlops_tui.tui.session import own_context

                with own_context(self.backend) as ctx:
                    relays.after_write(ctx)

    def set_problem(self, problem: str | None) -> None:
        if problem != self.problem:
            self.problem = problem
            self.problem_signal.publish(problem)

    def show_error(self, exc: MlopsError) -> None:
        if isinstance(exc, StoreUnavailable):
            self.set_problem(exc.message)
        # Plain text: a message that names `[monitor]` in mlops.toml is not markup.
        self.notify(exc.message, title=exc.title, severity="error", markup=False)

    # -- actions shared by the screens -----------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """View keys (1-5, shown in the view bar) work on the main views only: a screen
        opened on top (a model, a build log, a dialog) has its own keys, and escape goes
        back first, so a view is never left with a dialog half-answered under it."""
        if action != "switch_mode":
            return True
        on_a_view = len(self.screen_stack) <= 1
        return on_a_view and not (parameters and parameters[0] == self.current_mode)

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

    # -- test, deploy, rollback ---------------------------------------------------------
    def test_model(self, model: Model | None) -> None:
        """Run the candidate's tests; the log screen streams them."""
        if self._needs_repo(model, "test"):
            from mlops_tui.tui.screens.job import TestScreen

            assert model is not None
            self.push_screen(TestScreen(model.name))

    def deploy_model(self, model: Model | None) -> None:
        """Ask, naming the version and the target, then deploy with the log streaming."""
        if model is None:
            self.notify("Select a model first", severity="warning")
            return
        self._plan_deploy(model.name, rollback=False)

    def rollback_model(self, model: Model | None) -> None:
        if model is None:
            self.notify("Select a model first", severity="warning")
            return
        self._plan_deploy(model.name, rollback=True)

    @work(thread=True, group="deploy-plan")
    def _plan_deploy(self, name: str, rollback: bool) -> None:
        try:
            if rollback:
                to, target = self.backend.rollback_plan(name)
            else:
                to, target = None, self.backend.deploy_plan(name)
        except MlopsError as exc:
            self._from_thread(self.show_error, exc)
            return
        self._from_thread(self._confirm_deploy, name, rollback, to, target)

    def _confirm_deploy(self, name: str, rollback: bool, to: int | None, target: str) -> None:
        from mlops_tui.tui.screens.confirm import ConfirmScreen
        from mlops_tui.tui.screens.job import DeployScreen

        question = f"Roll back to {target}?" if rollback else f"Deploy {target}?"

        def answer(yes: bool | None) -> None:
            if yes:
                self.push_screen(DeployScreen(name, rollback=rollback, rollback_to=to))

        self.push_screen(ConfirmScreen(question), answer)

    # -- health check --------------------------------------------------------------------
    def check_model(self, model: Model | None) -> None:
        """Check a production model's health now, from the model or the on-call review,
        without waiting for the next `mlops check` round; the outcome, and any alert or move
        it led to, arrives as a notification. One check per model at a time: a second C
        while one waits on a slow model would only probe it twice."""
        if model is None:
            self.notify("Select a model first", severity="warning")
            return
        name = model.name
        if name in self._checking:
            self.notify(f"{name} is being checked already", title="Health check")
            return
        self._checking.add(name)
        self.notify(f"Checking {name}…", title="Health check", timeout=2)
        self._check(name)

    @work(thread=True, group="check")
    def _check(self, name: str) -> None:
        try:
            outcome = self.backend.check(name)
        except MlopsError as exc:
            self._from_thread(self._checked, name, exc)
        except Exception as exc:  # shown, never a traceback
            self._from_thread(self._checked, name, MlopsError(f"{type(exc).__name__}: {exc}"))
        else:
            self._from_thread(self._checked, name, outcome)

    def _checked(self, name: str, outcome: CheckOutcome | MlopsError) -> None:
        self._checking.discard(name)
        if isinstance(outcome, MlopsError):
            self.show_error(outcome)
        else:
            title, text, severity = check_notice(outcome)
            timeout = None if severity == "information" else 15
            self.notify(text, title=title, severity=severity, timeout=timeout, markup=False)
        self.poll(force=True)  # health, alerts and stage on every screen

    def ack_alert(self, alert: Alert) -> None:
        """Ask for an optional note (escape cancels), then acknowledge: from the alerts list
        and the on-call review alike."""
        from mlops_tui.tui.screens.alerts import AckPrompt

        def answer(note: str | None) -> None:
            if note is not None:
                self._ack(alert.id, note or None)

        self.push_screen(
            AckPrompt(
                f"Acknowledge alert #{alert.id} on {alert.model} ({alert.detail})?",
                placeholder="what you are doing about it (optional)",
            ),
            answer,
        )

    @work(thread=True, group="alert-ack")
    def _ack(self, alert_id: int, note: str | None) -> None:
        try:
            alert = self.backend.ack(alert_id, note)
        except MlopsError as exc:
            self._from_thread(self.show_error, exc)
            return
        self._from_thread(
            self.notify, f"Alert #{alert.id} on {alert.model} acknowledged", title="Alerts"
        )
        self._from_thread(self.poll, True)

    # -- MLflow ---------------------------------------------------------------------------
    def mlflow_sync(self, name: str | None = None) -> None:
        """Bring MLflow's new versions and alias moves in now, for every linked model or
        one, rather than at the next `mlops mlflow sync`. One sync at a time: a second
        would only read the same registry again and find nothing left to bring."""
        if any(w.group == "mlflow-sync" and not w.is_finished for w in self.workers):
            self.notify("MLflow is being synced already", title="MLflow")
            return
        self.notify(
            f"Syncing {name or 'the linked models'} with MLflow…", title="MLflow", timeout=2
        )
        self._mlflow_sync(name)

    @work(thread=True, group="mlflow-sync")
    def _mlflow_sync(self, name: str | None) -> None:
        try:
            reports = self.backend.mlflow_sync(name)
        except MlopsError as exc:
            self._from_thread(self.show_error, exc)
        except Exception as exc:  # shown, never a traceback
            self._from_thread(self.show_error, MlopsError(f"{type(exc).__name__}: {exc}"))
        else:
            self._from_thread(self._mlflow_synced, name, reports)
        self._from_thread(self.poll, True)  # new versions show on the board and the model

    def _mlflow_synced(self, name: str | None, reports: list[Report]) -> None:
        summary, drifts = sync_notice(name, reports)
        self.notify(summary, title="MLflow sync", markup=False)
        for drift in drifts:  # production differs there and here: a person must decide
            self.notify(drift, title="MLflow drift", severity="warning", timeout=15, markup=False)

    # -- hand over ---------------------------------------------------------------------
    def hand_over(self, model: Model | None) -> None:
        """Offer the model to someone; they accept in their inbox (4)."""
        if model is None:
            self.notify("Select a model first", severity="warning")
            return
        from mlops_tui.tui.screens.handoff import HandoffScreen

        def offered(handoff: Handoff | None) -> None:
            if handoff is not None:
                h = handoff
                self.notify(
                    f"{h.model}: offered to {h.to_user} (#{h.id}); {h.model} stays "
                    f"{h.from_user}'s until they accept",
                    title="Handoff offered",
                )
                self.poll(force=True)

        self.push_screen(HandoffScreen(model), offered)

    def _needs_repo(self, model: Model | None, what: str) -> bool:
        if model is None:
            self.notify("Select a model first", severity="warning")
            return False
        if not model.repo:
            self.notify(
                f"{model.name} has no repository to {what} from: "
                "link the model to its Git repository first",
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
