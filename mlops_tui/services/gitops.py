"""Git from the tool: status, log, pull, commit, tag and push on a model's repository.

Tags follow GTO's format (`NAME@vN.0.0` for version N), so `gto show` in the repository lists
the same versions as this tool. Operations that change something are recorded in the history,
failed attempts included.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from mlops_tui import domain
from mlops_tui.errors import InvalidInput, MlopsError, no_repository
from mlops_tui.services import gate
from mlops_tui.services.context import Context
from mlops_tui.store import schema

if TYPE_CHECKING:
    from mlops_tui.adapters.git_repo import Commit, GitRepo, RepoStatus

GIT_EVENT = "git.{op}"
# GTO's artifact names: lowercase letters, digits and dashes.
_GTO_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")

T = TypeVar("T")


def open_repo(ctx: Context, name: str) -> GitRepo:
    """The model's repository; inside a write use case, only once the gate has checked
    the model (its repository is the model's to change)."""
    from mlops_tui.adapters.git_repo import GitRepo

    model = ctx.store.get_model(domain.validate_model_name(name))
    grant = ctx.store.grants.current
    if grant is not None and grant.action == "git":
        gate.check(ctx, model)
    if not model.repo:
        raise no_repository(name)
    return GitRepo(model.repo)


def version_tag(name: str, version: int) -> str:
    if not _GTO_NAME.fullmatch(name):
        raise InvalidInput(
            f"GTO tags need a name of lowercase letters, digits and '-'; {name!r} has others"
        )
    return f"{name}@v{version}.0.0"


def _recorded(ctx: Context, name: str, op: str, action: Callable[[], T], **data: Any) -> T:
    """Run `action`; record the attempt and its outcome, success or failure."""
    try:
        result = action()
    except MlopsError as exc:
        ctx.record(GIT_EVENT.format(op=op), name, ok=False, error=exc.message, **data)
        raise
    return result


def status(ctx: Context, name: str) -> RepoStatus:
    return open_repo(ctx, name).status()


def log(ctx: Context, name: str, count: int = 10) -> list[Commit]:
    return open_repo(ctx, name).log(count)


@gate.writes("git", model="name")
def pull(ctx: Context, name: str) -> str:
    repo = open_repo(ctx, name)
    before = repo.status().head
    after = _recorded(ctx, name, "pull", repo.pull)
    ctx.record("git.pull", name, ok=True, before=before, after=after or before)
    return after


@gate.writes("git", model="name")
def commit(ctx: Context, name: str, message: str) -> str:
    message = domain.clean_text(message, "commit message", 5000) or ""
    if not message:
        raise InvalidInput("the commit message is empty")
    repo = open_repo(ctx, name)
    sha = _recorded(ctx, name, "commit", lambda: repo.commit(message))
    ctx.record("git.commit", name, ok=True, commit=sha, message=message.splitlines()[0])
    return sha


@gate.writes("git", model="name")
def tag(ctx: Context, name: str) -> tuple[str, str, bool]:
    """Tag the candidate version's commit; returns (tag, commit, created)."""
    model = ctx.store.get_model(domain.validate_model_name(name))
    gate.check(ctx, model)
    if model.version is None:
        raise InvalidInput(
            f"{name} has no version yet: build it first", cli=f"`mlops build {name}`"
        )
    version = ctx.store.row(schema.VERSIONS, model=name, number=model.version)
    if version is None or version.commit is None:
        raise InvalidInput(f"{name} v{model.version} has no recorded commit to tag")
    sha, number = version.commit, version.number
    tag_name = version_tag(name, number)
    repo = open_repo(ctx, name)
    created = _recorded(
        ctx,
        name,
        "tag",
        lambda: repo.tag(tag_name, sha, f"{name} v{number} (mlops-tui)"),
        tag=tag_name,
    )
    if created:
        ctx.record("git.tag", name, ok=True, tag=tag_name, commit=sha, version=number)
    return tag_name, sha, created


@gate.writes("git", model="name")
def push(ctx: Context, name: str) -> tuple[str, list[str]]:
    """Push the branch and this model's tags; returns (remote, tags pushed)."""
    repo = open_repo(ctx, name)
    tags = repo.tags(f"{name}@") + repo.tags(f"{name}#")
    remote = _recorded(ctx, name, "push", lambda: repo.push(tags))
    ctx.record("git.push", name, ok=True, remote=remote, tags=tags)
    return remote, tags
