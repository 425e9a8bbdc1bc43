"""A model's Git repository, through GitPython: argument lists only, validated refs, and
Git's failures turned into one clear message each."""

from __future__ import annotations

import io
import os
import posixpath
import tarfile
from dataclasses import dataclass
from datetime import datetime

import git
from git.exc import GitCommandError, InvalidGitRepositoryError, NoSuchPathError

from mlops_tui.domain import validate_ref
from mlops_tui.errors import GitError, InvalidInput


@dataclass(frozen=True)
class Commit:
    sha: str
    summary: str
    author: str
    at: datetime


@dataclass(frozen=True)
class RepoStatus:
    branch: str | None  # None: detached HEAD
    head: str | None
    upstream: str | None
    ahead: int
    behind: int
    dirty: list[str]


def _reason(exc: GitCommandError) -> str:
    text = (exc.stderr or exc.stdout or str(exc)).strip()
    lines = [ln.strip() for ln in text.replace("stderr:", "").splitlines() if ln.strip()]
    lines = [ln.strip("'").strip() for ln in lines]
    for ln in lines:
        if ln.startswith(("error:", "fatal:", "!", "hint:")) and not ln.startswith("hint:"):
            return ln
    return lines[-1] if lines else "git failed"


_MAX_HOPS = 40  # as the kernel's ELOOP: a longer chain of links is a loop


def leads_outside(members: list[tarfile.TarInfo]) -> tuple[str, str] | None:
    """The first (path, target) of a link in a tree that leads outside its root, resolved as
    the kernel would once extracted: through the tree's other links too, since `d -> .` is
    harmless alone but makes `x -> d/../etc` leave the tree, which a look at each target
    alone would miss. A chain of links longer than the kernel follows counts as outside (it
    cannot be checked); a path that is itself outside (`../x`) comes back with target ''."""
    links: dict[str, str] = {}
    for m in members:
        name = m.name.removeprefix("./").rstrip("/")
        if name.startswith("/") or ".." in name.split("/"):
            return name, ""
        if m.issym():
            links[name] = m.linkname
        elif m.islnk() and _resolve([], m.linkname, {}) is None:
            return name, m.linkname
    for name, target in links.items():
        parent = name.rpartition("/")[0]
        if _resolve(parent.split("/") if parent else [], target, links) is None:
            return name, target
    return None


def _resolve(
    base: list[str], target: str, links: dict[str, str], hops: list[int] | None = None
) -> list[str] | None:
    """Where `target`, read from the folder `base`, ends up: its path parts from the root,
    or None when it leaves the root on the way or goes through too many links (a loop)."""
    hops = hops if hops is not None else [0]
    if target.startswith("/"):
        return None
    parts = list(base)
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(part)
        link = links.get("/".join(parts))
        if link is not None:
            hops[0] += 1
            if hops[0] > _MAX_HOPS:
                return None
            resolved = _resolve(parts[:-1], link, links, hops)
            if resolved is None:
                return None
            parts = resolved
    return parts


class GitRepo:
    def __init__(self, path: str) -> None:
        if not path or "://" in path or path.startswith("git@"):
            raise InvalidInput(
                f"the model's repository {path!r} is not a local folder",
                cli="set a local one with `mlops model set NAME --repo PATH`",
            )
        try:
            self.repo = git.Repo(path)
        except (InvalidGitRepositoryError, NoSuchPathError):
            raise GitError(f"{path} is not a Git repository") from None
        # Never stop to ask for credentials: fail with a message instead.
        self.repo.git.update_environment(GIT_TERMINAL_PROMPT="0")
        self.path = path

    @classmethod
    def create(cls, path: str, files: dict[str, str], message: str, author: str) -> GitRepo:
        """A new repository at `path` (which must not hold one) with `files` committed on
        `main` by `author`: the demo's example model starts as a real, committed project."""
        try:
            repo = git.Repo.init(path, initial_branch="main")
            with repo.config_writer() as cfg:
                cfg.set_value("user", "name", author)
                cfg.set_value("user", "email", f"{author}@example.com")
            for name, text in files.items():
                target = os.path.join(path, name)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "w", encoding="utf-8") as out:
                    out.write(text)
            repo.git.add("--all", "--", ".")
            repo.git.commit("--quiet", "-m", message)
        except (GitCommandError, OSError) as exc:
            why = _reason(exc) if isinstance(exc, GitCommandError) else str(exc)
            raise GitError(f"cannot create a repository at {path}: {why}") from None
        return cls(path)

    def resolve(self, ref: str) -> str:
        """The full SHA of the commit `ref` names."""
        validate_ref(ref)
        try:
            return self.repo.commit(ref).hexsha
        except (git.BadName, ValueError, GitCommandError):
            raise GitError(f"{ref!r} is not a commit, branch or tag in {self.path}") from None

    def read(self, sha: str, path: str) -> bytes | None:
        """A file's content as committed at `sha`, or None when it is not there."""
        try:
            blob = self.repo.commit(sha).tree / path
        except KeyError:
            return None
        return blob.data_stream.read() if blob.type == "blob" else None

    def archive(self, sha: str, subdir: str = ".") -> io.BytesIO:
        """A tar of the committed tree at `sha` (below `subdir`): what a build or a test run
        may see. Refused (InvalidInput) when a symlink in it leads outside it, so that
        nothing outside the repository is read or written through a link, once extracted
        or sent to Docker."""
        subdir = posixpath.normpath(subdir.strip("/") or ".")
        treeish = sha
        if subdir != ".":
            treeish = f"{sha}:{subdir}"
            try:
                kind = (self.repo.commit(sha).tree / subdir).type
            except KeyError:
                kind = None
            if kind != "tree":
                raise InvalidInput(f"{subdir!r} is not a folder at {sha[:12]}")
        out = io.BytesIO()
        try:
            self.repo.archive(out, treeish=treeish, format="tar")
        except GitCommandError as exc:
            raise GitError(f"cannot read {subdir!r} at {sha[:12]}: {_reason(exc)}") from None
        out.seek(0)
        with tarfile.open(fileobj=out) as tar:
            bad = leads_outside(tar.getmembers())
        if bad is not None:
            where = "the repository" if subdir == "." else f"{subdir}/"
            path = bad[0] if subdir == "." else f"{subdir}/{bad[0]}"
            what = f"a symlink to {bad[1]!r} that leaves" if bad[1] else "a path outside"
            raise InvalidInput(
                f"{path!r} at {sha[:12]} is {what} {where}: commit the files themselves, "
                "or a link that stays inside"
            )
        out.seek(0)
        return out

    def dirty_files(self) -> list[str]:
        diffs = list(self.repo.index.diff(None))
        if self.repo.head.is_valid():
            diffs += self.repo.index.diff("HEAD")
        # An index's raw diff always names the path; a_path is None only in patch diffs.
        changed = {d.a_path for d in diffs if d.a_path is not None}
        changed |= set(self.repo.untracked_files)
        return sorted(changed)

    def status(self) -> RepoStatus:
        head = self.repo.head.commit.hexsha if self.repo.head.is_valid() else None
        if self.repo.head.is_detached:
            return RepoStatus(None, head, None, 0, 0, self.dirty_files())
        branch = self.repo.active_branch
        upstream = branch.tracking_branch()
        ahead = behind = 0
        if upstream is not None and upstream.is_valid() and head:
            ahead = sum(1 for _ in self.repo.iter_commits(f"{upstream.path}..{branch.path}"))
            behind = sum(1 for _ in self.repo.iter_commits(f"{branch.path}..{upstream.path}"))
        return RepoStatus(
            branch.name,
            head,
            upstream.name if upstream else None,
            ahead,
            behind,
            self.dirty_files(),
        )

    def log(self, count: int = 10) -> list[Commit]:
        if not self.repo.head.is_valid():
            return []
        return [
            Commit(
                c.hexsha,
                c.summary if isinstance(c.summary, str) else c.summary.decode(),
                c.author.name or "",
                c.committed_datetime,
            )
            for c in self.repo.iter_commits("HEAD", max_count=count)
        ]

    def commit_time(self, sha: str) -> datetime:
        return self.repo.commit(sha).committed_datetime

    def _branch(self) -> str:
        if self.repo.head.is_detached:
            raise GitError(f"{self.path} is on a detached HEAD: check out a branch first")
        return self.repo.active_branch.name

    def _remote(self) -> git.Remote:
        if not self.repo.remotes:
            raise GitError(f"{self.path} has no remote: add one with git remote add origin URL")
        branch = self.repo.active_branch if not self.repo.head.is_detached else None
        upstream = branch.tracking_branch() if branch else None
        if upstream is not None:
            return self.repo.remote(upstream.remote_name)
        names = [r.name for r in self.repo.remotes]
        return self.repo.remote("origin" if "origin" in names else names[0])

    def _git(self, *args: str) -> str:
        try:
            return self.repo.git.execute(["git", *args])
        except GitCommandError as exc:
            raise GitError(_reason(exc)) from None

    def pull(self) -> str:
        """Fast-forward only: a pull never makes a merge commit or leaves conflicts behind."""
        branch = self._branch()
        remote = self._remote()
        before = self.repo.head.commit.hexsha
        try:
            self.repo.git.pull("--ff-only", remote.name, branch)
        except GitCommandError as exc:
            reason = _reason(exc)
            if "Not possible to fast-forward" in reason or "diverg" in reason:
                reason = (
                    f"{branch} and {remote.name}/{branch} have diverged: merge or rebase "
                    "them by hand, then try again"
                )
            elif "would be overwritten" in reason:
                reason = "local changes would be overwritten: commit or stash them first"
            raise GitError(reason) from None
        after = self.repo.head.commit.hexsha
        return after if after != before else ""

    def commit(self, message: str) -> str:
        """Commit what is staged; with nothing staged, every change to tracked files."""
        if self.repo.head.is_valid() and not self.repo.index.diff("HEAD"):
            self.repo.git.add("--update", "--", ".")
        if self.repo.head.is_valid() and not self.repo.index.diff("HEAD"):
            raise GitError("nothing to commit (new files must be added with git add first)")
        self._git("commit", "--quiet", "-m", message)
        return self.repo.head.commit.hexsha

    def tag(self, name: str, sha: str, message: str) -> bool:
        """Create an annotated tag; False when it already names this commit."""
        if name in self.repo.tags:
            existing = self.repo.tags[name].commit.hexsha
            if existing == sha:
                return False
            raise GitError(f"tag {name} already exists on {existing[:12]}, not on {sha[:12]}")
        self._git("tag", "--annotate", "-m", message, "--", name, sha)
        return True

    def push(self, tags: list[str]) -> str:
        """Push the branch and `tags`; a rejected push is an error naming why."""
        branch = self._branch()
        remote = self._remote()
        refspecs = [f"refs/heads/{branch}:refs/heads/{branch}"] + [f"refs/tags/{t}" for t in tags]
        try:
            self.repo.git.push("--porcelain", remote.name, *refspecs)
        except GitCommandError as exc:
            reason = _reason(exc)
            if "rejected" in (exc.stdout or "") + (exc.stderr or "") or "rejected" in reason:
                raise GitError(
                    f"{remote.name} rejected the push of {branch}: pull first, then push again",
                    cli="`mlops git NAME pull`",
                ) from None
            raise GitError(reason) from None
        return remote.name

    def tags(self, prefix: str) -> list[str]:
        return sorted(t.name for t in self.repo.tags if t.name.startswith(prefix))
