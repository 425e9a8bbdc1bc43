"""`mlops doctor`: what stands between a person and a working set-up, each with the one
thing to do about it.

Doctor is run when something is already wrong, so it only looks and never waits for long:
the store is opened without migrating (on PostgreSQL through the read-only reader when the
schema allows it), a missing SQLite file is reported rather than created, a webhook gets a
HEAD and never an event, an MLflow tracking server is only read from, and Docker, Git, each
webhook and each tracking server answer on a thread of their own that is left behind once
its time is up. Nothing here is recorded: a diagnosis is not the
team's history.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Literal

from mlops_tui import __version__, config
from mlops_tui.errors import ConfigError, MlopsError
from mlops_tui.store import Store, is_postgres_url, open_store, schema, sqlite_path

if TYPE_CHECKING:
    from mlops_tui.domain import Webhook
    from mlops_tui.domain.mlflow import AliasPush, MlflowLink

Status = Literal["ok", "warn", "problem"]
#: Seconds Docker, Git and each webhook get to answer (PostgreSQL has its connect timeout).
TIMEOUT = 3.0
#: How many names a summary line lists before "and N more".
LISTED = 5


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the diagnosis. `fix` is what to do, for anything that is not ok."""

    name: str
    status: Status
    detail: str
    fix: str | None = None


def diagnose(db: str | None = None, *, timeout: float = TIMEOUT) -> list[Check]:
    """Every check, in the order a person would fix things: the database first, since the
    identity, the repositories and the webhooks are read from it.

    `db` is the --db option (None: MLOPS_DB, else the default file), resolved as every
    command resolves it.
    """
    url = config.database_url(db)
    source = "--db" if db else "MLOPS_DB" if os.environ.get("MLOPS_DB") else "the default"
    outside = [
        _Pending(partial(_docker, timeout), timeout, _docker_down("the engine did not answer")),
        _Pending(partial(_git, timeout), timeout, Check("git", "problem", "git did not answer")),
    ]
    found, store = _database(url, source)
    first, last = [found], []
    if store is not None:
        try:
            first += _guarded("identity", partial(_identity, store))
            first += _guarded("shared database", partial(_sharing, store))
            last += _guarded("repos", partial(_repositories, store))
            hooks: list[Webhook] = store.rows(schema.WEBHOOKS, active=True, order="id")
            links: list[MlflowLink] = store.rows(schema.MLFLOW_LINKS, order="model")
            waiting = store.rows(schema.MLFLOW_PUSHES, status="pending", order="id")
        except MlopsError as exc:  # the database went away after the first look
            first.append(Check("database", "problem", exc.cli_message, _UNREACHABLE))
            hooks, links, waiting = [], [], []
        finally:
            store.close()
        for hook in hooks:
            hung = Check(
                f"webhook #{hook.id}", "problem", f"{hook.url} did not answer", _hook_fix(hook)
            )
            outside.append(_Pending(partial(_webhook, hook, timeout), timeout, hung))
        for uri, names in _tracking_servers(links).items():
            # a local registry's first open imports MLflow: seconds before any answer
            limit = timeout if uri.startswith("http") else timeout + 10
            hung = Check(f"MLflow {uri}", "problem", "it did not answer", _MLFLOW_FIX)
            pushes = [p for p in waiting if p.tracking_uri == uri]
            check = partial(_mlflow, uri, names, pushes, limit)
            outside.append(_Pending(check, limit, hung))
    answers = [pending.result() for pending in outside]
    return first + answers[:2] + last + answers[2:]


class _Pending:
    """A check that waits on something outside (an engine, a process, a receiver) on a
    daemon thread: a DNS lookup or a TCP connect that ignores its timeout is left behind
    rather than holding the diagnosis, or the interpreter's exit, hostage."""

    GRACE = 2.0  # past the check's own timeout, for a connect and a reply that each took it

    def __init__(self, run: Callable[[], Check], timeout: float, hung: Check) -> None:
        self._found: list[Check] = []
        self._limit = timeout + self.GRACE
        self._hung = replace(hung, detail=f"{hung.detail} within {self._limit:.0f} s")
        self._deadline = time.monotonic() + self._limit
        name = hung.name
        self._thread = threading.Thread(
            target=lambda: self._found.extend(_guarded(name, run)), daemon=True
        )
        self._thread.start()

    def result(self) -> Check:
        self._thread.join(max(self._deadline - time.monotonic(), 0))
        return self._found[0] if self._found else self._hung


def _guarded(name: str, run: Callable[[], Check | list[Check]]) -> list[Check]:
    """A check that fails in a way nobody foresaw becomes its own problem line, so one odd
    repository or receiver never hides the other checks' answers."""
    try:
        found = run()
    except MlopsError as exc:
        fix = exc.cli_hint or "fix what the message names, then run again"
        return [Check(name, "problem", exc.reason, fix)]
    except Exception as exc:
        what = f"{type(exc).__name__}: {exc}".splitlines()[0]
        fix = "look into it by hand; if nothing is wrong there, report it as a bug in doctor"
        return [Check(name, "problem", f"could not check: {what}", fix)]
    return found if isinstance(found, list) else [found]


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:LISTED])
    return shown + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")


# -- the database --------------------------------------------------------------------------
_UNREACHABLE = "start the server or correct the URL given by --db or MLOPS_DB"


def _database(url: str, source: str) -> tuple[Check, Store | None]:
    """The database's check, and the store when the other checks can read it (its schema is
    the one this release reads)."""
    from mlops_tui.store.migrations import LATEST

    postgres = is_postgres_url(url)
    if not postgres and sqlite_path(url) != ":memory:" and not os.path.exists(sqlite_path(url)):
        return Check(
            "database",
            "problem",
            f"no database at {sqlite_path(url)} ({source})",
            "`mlops init` creates it (`mlops demo --no-tui` fills it with a sample team), "
            "or point --db or MLOPS_DB at your team's database",
        ), None
    fix = _UNREACHABLE if postgres else "check the path and its permissions (--db or MLOPS_DB)"
    try:
        store = open_store(url, migrate=False, read_only=True)
    except MlopsError as exc:
        return Check("database", "problem", exc.cli_message, fix), None
    try:
        version, where = store.schema_version(), store.location
        where = where if store.backend == "postgresql" else f"sqlite at {where}"
        if version == LATEST:
            count = store.count_models()
            detail = f"{where}: schema v{LATEST}, {count} model{'s' if count != 1 else ''}"
            return Check("database", "ok", detail), store
        found = _old_or_new(version, where)
    except MlopsError as exc:
        found = Check("database", "problem", exc.cli_message, fix)
    store.close()
    return found, None


def _old_or_new(version: int, where: str) -> Check:
    from mlops_tui.store.migrations import LATEST

    if version == 0:
        return Check("database", "problem", f"{where} has no mlops tables", "`mlops init`")
    if version > LATEST:
        return Check(
            "database",
            "problem",
            f"{where} is at schema v{version}, newer than this mlops reads (v{LATEST})",
            "upgrade mlops-tui to the release the rest of the team runs",
        )
    return Check(
        "database",
        "problem",
        f"{where} is at schema v{version}: this mlops needs v{LATEST}",
        "back it up, then `mlops init` migrates it in place (so would any other command)",
    )


# -- people ----------------------------------------------------------------------------------
_ROLE = "your database role"


def _identity(store: Store) -> Check:
    """Who the tool will say acted, and whether the gate would let them, before they find
    out from a refusal recorded in the history."""
    from mlops_tui.domain import UserRole
    from mlops_tui.services import gate, team
    from mlops_tui.services.context import Context

    try:
        actor = team.resolve_actor(store, config.current_actor())
    except MlopsError as exc:
        return Check("identity", "problem", exc.reason, "set MLOPS_USER to your name on the team")
    if store.backend == "postgresql" and store.get_setting("identity") == "database":
        via = _ROLE
    else:
        via = "MLOPS_USER" if os.environ.get("MLOPS_USER") else "your login name"
    role, joins, refused = gate.standing(Context(store, actor))
    if role is None:
        return Check(
            "identity",
            "warn",
            f"{actor} (from {via}) is not on the team and open_join is off: you can only read",
            f"an admin adds you with `mlops user add {actor}`"
            + ("" if via == _ROLE else ", or set MLOPS_USER to the name you have on the team"),
        )
    if joins is not None:
        detail = f"your first change adds you to the team as a {joins}"
        return Check("identity", "ok", f"you are {actor} (from {via}); {detail}")
    if refused is not None and role != UserRole.VIEWER:
        return Check(
            "identity",
            "warn",
            f"you are {actor} (from {via}), deactivated: you can only read",
            f"an admin reactivates you with `mlops user reactivate {actor}`",
        )
    reads_only = ": you can read, not change" if role == UserRole.VIEWER else ""
    return Check("identity", "ok", f"you are {actor} ({role}, from {via}){reads_only}")


def _sharing(store: Store) -> list[Check]:
    """On PostgreSQL, what the team's settings let anyone who can connect do, in the words
    `mlops init` and `settings list` use; SQLite is one person's file and has no line."""
    from mlops_tui.services.team import shared_database_risks

    if store.backend != "postgresql":
        return []
    found = []
    for risk in shared_database_risks(store):
        detail, _, fix = risk.rpartition("; ")
        found.append(Check("shared database", "warn", detail or fix, fix if detail else None))
    return found or [
        Check("shared database", "ok", "identity is the database role and open_join is off")
    ]


# -- tools -----------------------------------------------------------------------------------
def _docker_down(detail: str) -> Check:
    """A warning, not a problem: recording builds made elsewhere and tracking the loop work
    without an engine, which is often just not started yet."""
    return Check(
        "docker",
        "warn",
        detail,
        "start the engine or point DOCKER_HOST at it: `mlops build`, `test` in an image "
        "and `deploy` need it (`mlops record` does not)",
    )


def _docker(timeout: float) -> Check:
    from mlops_tui.adapters.docker_engine import DockerEngine

    where = os.environ.get("DOCKER_HOST") or "the default socket"
    try:
        engine = DockerEngine(timeout=max(round(timeout), 1))
    except MlopsError as exc:
        return _docker_down(f"{exc.cli_message} (at {where})")
    try:
        found = str(engine.client.version().get("Version", "?"))
    finally:
        engine.close()
    return Check("docker", "ok", f"engine {found} at {where}")


def _git(timeout: float) -> Check:
    fix = "install Git: builds, tests and `mlops git` read the models' repositories with it"
    found = shutil.which("git")
    if found is None:
        return Check("git", "problem", "no git on PATH", fix)
    try:
        ran = subprocess.run(
            [found, "--version"], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("git", "problem", f"{found} does not run: {exc}", fix)
    if ran.returncode != 0:
        why = (ran.stderr.strip().splitlines() or [f"exit {ran.returncode}"])[0]
        return Check("git", "problem", f"{found} --version failed: {why}", fix)
    return Check("git", "ok", f"{ran.stdout.strip()} at {found}")


# -- models' repositories ------------------------------------------------------------------
def _repositories(store: Store) -> list[Check]:
    """One line per local repository; the models doctor cannot read from here share one."""
    checks, none, remote = [], [], []
    for model in store.list_models():
        if not model.repo:
            none.append(model.name)
        elif "://" in model.repo or model.repo.startswith("git@"):
            remote.append(model.name)
        else:
            name, path = f"repo {model.name}", model.repo
            checks += _guarded(name, partial(_repository, name, model.name, path))
    unread = [f"no repository for {_names(none)}"] if none else []
    unread += [f"a remote URL for {_names(remote)}"] if remote else []
    if unread:
        checks.append(Check("repos", "ok", "not checked: " + "; ".join(unread)))
    return checks


def _repository(check: str, model: str, path: str) -> Check:
    """What a build would find: the repository, and mlops.toml as committed at HEAD (a
    build reads the committed tree, never the working copy)."""
    from mlops_tui import modelconfig

    move = f"clone it there, or `mlops model set {model} --repo PATH` to its clone"
    if not os.path.isdir(path):
        return Check(check, "problem", f"{path} does not exist", move)
    try:
        from mlops_tui.adapters.git_repo import GitRepo
    except ImportError:  # GitPython needs the git executable, which the git line covers
        return Check(check, "problem", f"{path} cannot be read without Git", "install Git")
    try:
        repo = GitRepo(path)
        if not repo.repo.head.is_valid():
            return Check(check, "warn", f"{path} has no commits", "commit the model's code")
        sha = repo.repo.head.commit.hexsha
        raw = repo.read(sha, modelconfig.FILENAME)
    except MlopsError as exc:
        return Check(check, "problem", exc.cli_message, move)
    except OSError as exc:
        return Check(check, "problem", f"{path} cannot be read: {exc}", "check its permissions")
    if raw is None:
        return Check(check, "ok", f"{path} at {sha[:12]}: no mlops.toml (the defaults)")
    try:
        modelconfig.parse(raw.decode(), f"{modelconfig.FILENAME} at {sha[:12]}")
    except (ConfigError, UnicodeDecodeError) as exc:
        detail = exc.reason if isinstance(exc, ConfigError) else f"mlops.toml is not UTF-8: {exc}"
        return Check(check, "problem", detail, f"correct {path}/mlops.toml and commit it")
    return Check(check, "ok", f"{path} at {sha[:12]}: mlops.toml is valid")


# -- MLflow ----------------------------------------------------------------------------------
_MLFLOW_FIX = (
    "start the tracking server or correct the link (`mlops mlflow link NAME --tracking-uri "
    "URI`); alias pushes wait in the outbox until it answers"
)


def _tracking_servers(links: list[MlflowLink]) -> dict[str, list[str]]:
    """Each tracking server the links name, with the registered models they keep in step."""
    found: dict[str, list[str]] = {}
    for link in links:
        found.setdefault(link.tracking_uri, []).append(link.registered_model)
    return found


def _mlflow(uri: str, names: list[str], waiting: list[AliasPush], timeout: float) -> Check:
    """Whether the tracking server answers and still has every linked registered model, and
    whether alias pushes wait for it: a read, never a write."""
    from mlops_tui.adapters.mlflow_registry import open_registry

    name = f"MLflow {uri}"
    try:
        with open_registry(uri, timeout=timeout) as registry:
            there = {r.name for r in registry.registered_models(names)}
    except MlopsError as exc:
        return Check(name, "problem", exc.reason, _MLFLOW_FIX)
    gone = [n for n in names if n not in there]
    if gone:
        return Check(
            name,
            "warn",
            f"answers, but has no registered model {_names(gone)} any more",
            "unlink those models (`mlops mlflow unlink NAME`) or register them again in MLflow",
        )
    if waiting:
        oldest = waiting[0]
        return Check(
            name,
            "warn",
            f"answers; {len(waiting)} alias pushes wait (the oldest: {oldest.model} "
            f"v{oldest.version}, {oldest.last_error or 'not tried yet'})",
            "`mlops mlflow sync` pushes them now",
        )
    return Check(name, "ok", f"answers, with the {len(names)} linked registered models")


# -- webhooks --------------------------------------------------------------------------------
def _hook_fix(hook: Webhook) -> str:
    return (
        f"start the receiver, or replace the URL (`mlops webhook remove {hook.id}`, then "
        "`mlops webhook add URL`); events wait in the outbox until it answers"
    )


def _webhook(hook: Webhook, timeout: float) -> Check:
    """Whether the receiver answers at all: a HEAD, so that it never sees an event that did
    not happen. Any answer short of a missing path or a server error will take a POST."""
    import urllib.error
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None  # deliveries do not follow one either

    name, url = f"webhook #{hook.id}", hook.url
    request = urllib.request.Request(
        url, method="HEAD", headers={"User-Agent": f"mlops-tui/{__version__} doctor"}
    )
    location = None
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=timeout) as answer:
            code = int(answer.status)
    except urllib.error.HTTPError as exc:
        code, location = exc.code, exc.headers.get("Location")
        exc.close()
    except urllib.error.URLError as exc:
        why = exc.reason.strerror if isinstance(exc.reason, OSError) else exc.reason
        return Check(name, "problem", f"{url}: {why or exc}", _hook_fix(hook))
    except (OSError, ValueError) as exc:  # a timeout, a reset, a malformed URL
        return Check(name, "problem", f"{url}: {exc or type(exc).__name__}", _hook_fix(hook))
    if 300 <= code < 400:
        to = f" to {location}" if location else ""
        return Check(
            name,
            "warn",
            f"{url} redirects{to} (HTTP {code}): deliveries do not follow redirects",
            _hook_fix(hook),
        )
    if code in (404, 410) or (code >= 500 and code != 501):
        return Check(name, "warn", f"{url} answers HTTP {code}", _hook_fix(hook))
    if hook.secret_env and not os.environ.get(hook.secret_env):
        return Check(
            name,
            "warn",
            f"{url} answers, but {hook.secret_env} is not set here: deliveries sent from this "
            "machine fail",
            f"set {hook.secret_env} wherever `mlops` runs",
        )
    return Check(name, "ok", f"{url} answers (HTTP {code})")
