"""Git operations on a model's real repository and a bare remote, with GTO's tag format."""

from __future__ import annotations

import git
import pytest

from mlops_tui.errors import GitError, InvalidInput
from mlops_tui.services import builds, gitops, lifecycle, queries
from mlops_tui.services.context import Context
from tests.conftest import known


@pytest.fixture
def model(ctx: Context, gitrepo) -> str:
    gitrepo.commit("first", **{"train.py": "print('train')\n"})
    gitrepo.repo.git.push("--set-upstream", "origin", "main")
    lifecycle.add_model(ctx, "churn", owner="alice", repo=str(gitrepo.path))
    return "churn"


def other_clone(gitrepo, tmp_path) -> git.Repo:
    clone = git.Repo.clone_from(str(gitrepo.root / "remote.git"), str(tmp_path / "other"))
    with clone.config_writer() as cfg:
        cfg.set_value("user", "name", "Other")
        cfg.set_value("user", "email", "other@example.com")
    return clone


def test_status_and_log(ctx, model, gitrepo) -> None:
    gitrepo.write("train.py", "print('changed')\n")
    st = gitops.status(ctx, model)
    assert (st.branch, st.upstream, st.ahead, st.behind) == ("main", "origin/main", 0, 0)
    assert st.dirty == ["train.py"]
    (commit,) = gitops.log(ctx, model)
    assert (commit.summary, commit.author) == ("first", "Tester")


def test_commit_tag_and_push_in_gtos_format(ctx, model, gitrepo) -> None:
    gitrepo.write("train.py", "print('v2')\n")
    sha = gitops.commit(ctx, model, "better features")
    assert gitrepo.repo.head.commit.hexsha == sha and gitops.status(ctx, model).ahead == 1
    builds.record(ctx, model, commit=sha, image="reg/churn:1")
    tag, tagged, created = gitops.tag(ctx, model)
    assert (tag, tagged, created) == ("churn@v1.0.0", sha, True)
    assert gitops.tag(ctx, model)[2] is False  # idempotent
    remote, tags = gitops.push(ctx, model)
    assert (remote, tags) == ("origin", ["churn@v1.0.0"])
    bare = gitrepo.remote
    assert bare.tags["churn@v1.0.0"].commit.hexsha == sha
    assert bare.heads["main"].commit.hexsha == sha
    kinds = [e.kind for e in queries.history(ctx, model=model, limit=3)]
    assert kinds == ["git.push", "git.tag", "build.finished"]


def test_a_tag_never_moves(ctx, model, gitrepo) -> None:
    first = gitrepo.repo.head.commit.hexsha
    builds.record(ctx, model, commit=first, image="reg/churn:1")
    gitops.tag(ctx, model)
    gitrepo.repo.delete_tag("churn@v1.0.0")
    gitrepo.repo.create_tag("churn@v1.0.0", ref=gitrepo.commit("x", **{"a.txt": "a"}))
    with pytest.raises(GitError, match="already exists on"):
        gitops.tag(ctx, model)


def test_rejected_push_and_diverged_pull_are_clear_and_recorded(ctx, model, gitrepo, tmp_path):
    other = other_clone(gitrepo, tmp_path)
    (tmp_path / "other" / "theirs.txt").write_text("theirs")
    other.git.add("--all")
    other.git.commit("-m", "theirs")
    other.git.push("origin", "main")
    gitrepo.commit("mine", **{"mine.txt": "mine"})
    with pytest.raises(GitError, match="rejected the push of main: pull first"):
        gitops.push(ctx, model)
    with pytest.raises(GitError, match="have diverged"):
        gitops.pull(ctx, model)
    failed = queries.history(ctx, model=model, limit=2)
    assert [(e.kind, e.data["ok"]) for e in failed] == [("git.pull", False), ("git.push", False)]


def test_pull_fast_forwards(ctx, model, gitrepo, tmp_path) -> None:
    other = other_clone(gitrepo, tmp_path)
    (tmp_path / "other" / "theirs.txt").write_text("theirs")
    other.git.add("--all")
    other.git.commit("-m", "theirs")
    other.git.push("origin", "main")
    assert gitops.pull(ctx, model) == other.head.commit.hexsha
    assert gitops.pull(ctx, model) == ""


def test_no_remote_detached_head_and_nothing_to_commit(ctx, model, gitrepo) -> None:
    with pytest.raises(GitError, match="nothing to commit"):
        gitops.commit(ctx, model, "empty")
    gitrepo.repo.git.checkout(gitrepo.repo.head.commit.hexsha)
    with pytest.raises(GitError, match="detached HEAD"):
        gitops.push(ctx, model)
    gitrepo.repo.git.checkout("main")
    gitrepo.repo.delete_remote(gitrepo.repo.remote("origin"))
    with pytest.raises(GitError, match="has no remote"):
        gitops.push(ctx, model)


def test_user_input_is_validated(ctx, model) -> None:
    with pytest.raises(InvalidInput, match="no version yet"):
        gitops.tag(ctx, model)
    with pytest.raises(InvalidInput, match="control characters"):
        gitops.commit(ctx, model, "msg\x1b[31m")
    with pytest.raises(InvalidInput, match="empty"):
        gitops.commit(ctx, model, "   ")
    known(ctx, "a")
    lifecycle.add_model(ctx, "remote-only", owner="a", repo="git@example.com:x.git")
    with pytest.raises(InvalidInput, match="not a local folder"):
        gitops.status(ctx, "remote-only")
    with pytest.raises(InvalidInput, match="GTO tags need"):
        gitops.version_tag("churn_v2", 1)
