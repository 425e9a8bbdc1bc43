"""A model's Git repository: branch, ahead/behind, uncommitted files, recent commits, and a
key for each operation. Anything that changes a remote asks first."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from mlops_tui import timefmt
from mlops_tui.errors import MlopsError
from mlops_tui.services import gitops
from mlops_tui.services.context import Context
from mlops_tui.tui.screens.base import MlopsScreen
from mlops_tui.tui.screens.confirm import ConfirmScreen
from mlops_tui.tui.screens.prompt import PromptScreen
from mlops_tui.tui.session import own_context

if TYPE_CHECKING:
    from mlops_tui.adapters.git_repo import Commit, RepoStatus


class GitScreen(MlopsScreen):
    SUB_TITLE = "Git"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("p", "pull", "Pull"),
        Binding("c", "commit", "Commit"),
        Binding("t", "tag", "Tag version"),
        Binding("P", "push", "Push"),
        Binding("r", "reload", "Refresh"),
    ]
    DEFAULT_CSS = """
    GitScreen #git-state { height: auto; padding: 0 1; }
    GitScreen DataTable { height: 1fr; }
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.model_name = name

    def compose_body(self) -> ComposeResult:
        yield Static(f"{self.model_name}: reading the repository…", id="git-state")
        table: DataTable[str] = DataTable(cursor_type="row", zebra_stripes=True)
        table.add_columns("commit", "when", "author", "summary")
        yield table

    def on_mount(self) -> None:
        super().on_mount()
        self.action_reload()

    @work(thread=True, exclusive=True, group="git-read")
    def action_reload(self) -> None:
        try:
            with own_context(self.mlops.backend) as ctx:
                state = gitops.status(ctx, self.model_name)
                commits = gitops.log(ctx, self.model_name, 20)
        except MlopsError as exc:
            self.app.call_from_thread(self._show_error, exc)
            return
        self.app.call_from_thread(self._show, state, commits)

    def _show(self, state: RepoStatus, commits: list[Commit]) -> None:
        branch = state.branch or f"detached HEAD at {(state.head or '?')[:12]}"
        lines = [f"[b]{self.model_name}[/b]  branch [b]{branch}[/b]"]
        if state.upstream:
            lines.append(f"tracks {state.upstream}: ahead {state.ahead}, behind {state.behind}")
        else:
            lines.append("no upstream branch")
        dirty = ", ".join(state.dirty[:8]) + (" …" if len(state.dirty) > 8 else "")
        lines.append(f"uncommitted: {dirty}" if state.dirty else "working copy clean")
        self.query_one("#git-state", Static).update("\n".join(lines))
        table = self.query_one(DataTable)
        table.clear()
        for c in commits:
            table.add_row(c.sha[:12], timefmt.local(c.at), c.author, c.summary)

    def _show_error(self, exc: MlopsError) -> None:
        self.query_one("#git-state", Static).update(f"{self.model_name}: {exc.message}")
        self.app.notify(exc.message, title=exc.title, severity="error", markup=False)

    @work(thread=True, group="git-write")
    def _run(self, what: str, action: Callable[[Context], str]) -> None:
        try:
            with own_context(self.mlops.backend) as ctx:
                message = action(ctx)
        except MlopsError as exc:
            self.app.call_from_thread(
                self.app.notify, exc.message, title=exc.title, severity="error", markup=False
            )
        else:
            self.app.call_from_thread(self.app.notify, message, title=what)
        self.app.call_from_thread(self.action_reload)
        self.app.call_from_thread(self.mlops.poll, True)

    # -- keys ----------------------------------------------------------------------------
    def action_back(self) -> None:
        self.app.pop_screen()

    def action_pull(self) -> None:
        def pull(ctx: Context) -> str:
            after = gitops.pull(ctx, self.model_name)
            return f"now at {after[:12]}" if after else "already up to date"

        self._run("Pull", pull)

    def action_commit(self) -> None:
        def got(message: str | None) -> None:
            if message:
                self._run(
                    "Commit",
                    lambda ctx: "committed " + gitops.commit(ctx, self.model_name, message)[:12],
                )

        prompt = PromptScreen(
            "Commit message", "what changed and why", required="A commit needs a message."
        )
        self.app.push_screen(prompt, got)

    def action_tag(self) -> None:
        def tag(ctx: Context) -> str:
            name, sha, created = gitops.tag(ctx, self.model_name)
            return f"{'tagged' if created else 'already tagged'} {sha[:12]} as {name}"

        self._run("Tag", tag)

    def action_push(self) -> None:
        def push(ctx: Context) -> str:
            remote, tags = gitops.push(ctx, self.model_name)
            return f"pushed the branch and {len(tags)} tag(s) to {remote}"

        def answer(yes: bool | None) -> None:
            if yes:
                self._run("Push", push)

        question = f"Push {self.model_name}'s branch and its tags to the remote?"
        self.app.push_screen(ConfirmScreen(question), answer)
