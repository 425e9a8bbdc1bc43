"""The rules of the MLOps loop, with no I/O, so the CLI, the TUI and the stores agree on them.

Everything a user can get wrong is checked here and refused with an `MlopsError` whose
message is one line a person can act on.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class MlopsError(Exception):
    """An expected failure: shown as one line in the CLI and as a notification in the TUI."""

    title = "Error"
    exit_code = 1

    def __init__(self, message: str, *, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title


class InvalidInput(MlopsError):
    title = "Invalid input"
    exit_code = 2


class NotFound(MlopsError):
    title = "Not found"
    exit_code = 2


class AlreadyExists(MlopsError):
    title = "Already exists"
    exit_code = 2


class MoveRefused(MlopsError):
    title = "Move refused"
    exit_code = 2


class Conflict(MlopsError):
    """Someone else changed the record since it was read; nothing was written."""

    title = "Conflict"
    exit_code = 3

    @classmethod
    def stale(cls, current: Model, expected_revision: int) -> Conflict:
        when = current.updated_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        return cls(
            f"{current.name} was changed by {current.updated_by} at {when} "
            f"(revision {current.revision}; you had {expected_revision}): "
            "nothing was written, reload and try again"
        )


class StoreUnavailable(MlopsError):
    title = "Database unreachable"
    exit_code = 4


class Stage(StrEnum):
    PLAN = "plan"
    BUILD = "build"
    TEST = "test"
    DEPLOY = "deploy"
    MONITOR = "monitor"

    @property
    def index(self) -> int:
        return STAGES.index(self)

    def next(self) -> Stage:
        """The stage one step forward; after monitor the loop starts again at plan."""
        return STAGES[(self.index + 1) % len(STAGES)]


STAGES: tuple[Stage, ...] = tuple(Stage)


class Role(StrEnum):
    OWNER = "owner"
    BACKUP = "backup"
    ONCALL = "oncall"


class Health(StrEnum):
    UNKNOWN = "unknown"
    OK = "ok"
    WARN = "warn"
    CRITICAL = "critical"
    STALE = "stale"


class MoveKind(StrEnum):
    FORWARD = "forward"
    ITERATION = "iteration"  # monitor -> plan: the loop starts again
    REWORK = "rework"  # back to an earlier stage
    FORCED = "forced"  # skipping ahead


MODEL_NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
USER_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._@+-]{0,63}")
# C0 and C1 controls, DEL: they can rewrite a terminal when a note is shown.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
MAX_NOTE = 4000
MAX_DESCRIPTION = 4000
MAX_TAGS = 20


def validate_model_name(name: str) -> str:
    if not isinstance(name, str) or not MODEL_NAME_RE.fullmatch(name):
        shown = repr(name) if isinstance(name, str) else type(name).__name__
        if isinstance(name, str) and len(name) > 64:
            shown = f"{name[:20]!r}… ({len(name)} characters)"
        raise InvalidInput(
            f"invalid model name {shown}: use lowercase letters, digits, '.', '_' and '-', "
            "starting with a letter or digit, at most 64 characters"
        )
    return name


def validate_user(name: str, what: str = "user name") -> str:
    if not isinstance(name, str) or not USER_NAME_RE.fullmatch(name):
        raise InvalidInput(
            f"invalid {what} {name!r}: use letters, digits, '.', '_', '@', '+' and '-', "
            "at most 64 characters"
        )
    return name


def parse_stage(value: str) -> Stage:
    try:
        return Stage(value.strip().lower())
    except (ValueError, AttributeError):
        raise InvalidInput(f"unknown stage {value!r}: choose one of {', '.join(STAGES)}") from None


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except (ValueError, AttributeError):
        raise InvalidInput(f"unknown role {value!r}: choose one of {', '.join(Role)}") from None


def clean_text(value: str | None, what: str, limit: int) -> str | None:
    """Refuse text that would be unreadable in a terminal or a history entry."""
    if value is None:
        return None
    if _CONTROL_RE.search(value):
        raise InvalidInput(f"{what} contains control characters; use plain text")
    if len(value) > limit:
        raise InvalidInput(f"{what} is too long ({len(value):,} characters; at most {limit:,})")
    value = value.strip()
    return value or None


def validate_tags(tags: list[str]) -> list[str]:
    out: list[str] = []
    for tag in tags:
        tag = tag.strip().lower()
        if not MODEL_NAME_RE.fullmatch(tag) or len(tag) > 32:
            raise InvalidInput(
                f"invalid tag {tag!r}: lowercase letters, digits, '.', '_' and '-', at most 32"
            )
        if tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise InvalidInput(f"too many tags ({len(out)}; at most {MAX_TAGS})")
    return out


def classify_move(current: Stage, target: Stage, note: str | None, force: bool) -> MoveKind:
    """Decide what kind of move this is, or refuse it with the rule it breaks.

    Forward one step is always allowed (monitor -> plan starts a new iteration). Going back
    is rework and needs a note saying why. Skipping ahead needs --force and a note, and is
    recorded as forced so that nobody mistakes it for a normal pass through the loop.
    """
    if current == target:
        raise MoveRefused(f"already in {target}")
    if target == current.next():
        return MoveKind.ITERATION if target == Stage.PLAN else MoveKind.FORWARD
    if target.index < current.index:
        if not note:
            raise MoveRefused(
                f"moving back from {current} to {target} is rework: add --note saying why"
            )
        return MoveKind.REWORK
    if not force:
        raise MoveRefused(
            f"{current} → {target} skips {_skipped(current, target)}: "
            "the next stage is " + str(current.next()) + "; use --force with --note to skip"
        )
    if not note:
        raise MoveRefused(f"a forced move from {current} to {target} needs --note saying why")
    return MoveKind.FORCED


def _skipped(current: Stage, target: Stage) -> str:
    return ", ".join(s for s in STAGES[current.index + 1 : target.index])


@dataclass(frozen=True, slots=True)
class Model:
    name: str
    stage: Stage
    owner: str
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    description: str = ""
    repo: str | None = None
    tags: list[str] = field(default_factory=list)
    iteration: int = 1
    backup: str | None = None
    oncall: str | None = None
    version: int | None = None
    production_version: int | None = None
    health: Health = Health.UNKNOWN
    revision: int = 1

    def holder(self, role: Role) -> str | None:
        return {Role.OWNER: self.owner, Role.BACKUP: self.backup, Role.ONCALL: self.oncall}[role]


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of the append-only history."""

    id: int
    at: datetime
    actor: str
    model: str | None
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NewEvent:
    at: datetime
    actor: str
    model: str | None
    kind: str
    data: dict[str, Any]


# Event kinds. The part before the dot is the category that filters and webhooks use.
MODEL_CREATED = "model.created"
MODEL_MOVED = "stage.moved"
ROLE_SET = "owner.set"
MODEL_EDITED = "model.edited"  # repo, description or tags changed


class Timed:
    """Something that ran (a build, a test run, a deployment): how long it took, once done."""

    __slots__ = ()
    started_at: datetime
    finished_at: datetime | None

    @property
    def duration(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class BuildStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # the process running it died


@dataclass(frozen=True, slots=True)
class Version:
    """A model version: the code, data and parameters that produced one image."""

    model: str
    number: int
    inputs: str
    commit: str | None
    data_ref: str | None
    params: dict[str, Any]
    image: str | None
    image_id: str | None
    created_at: datetime
    created_by: str

    @property
    def runnable(self) -> str | None:
        """What to run: the exact image this version built (its id), since a tag like
        churn:v1 can be moved by anyone sharing the engine; the tag for versions that
        external CI reported (no id known here)."""
        return self.image_id or self.image


@dataclass(frozen=True, slots=True)
class Build(Timed):
    id: int
    model: str
    version: int
    inputs: str
    commit: str
    ref: str | None
    status: BuildStatus
    started_at: datetime
    actor: str
    finished_at: datetime | None = None
    host: str | None = None
    pid: int | None = None
    image: str | None = None
    url: str | None = None
    error: str | None = None
    log_tail: str = ""


BUILD_STARTED = "build.started"
BUILD_FINISHED = "build.finished"
BUILD_RECORDED = "build.recorded"

_SHA_RE = re.compile(r"[0-9a-f]{7,64}")
# What git check-ref-format refuses, plus a leading '-' (it would read as an option).
_BAD_REF = re.compile(
    r"(^-)|(\.\.)|(@\{)|([\x00-\x20\x7f~^:?*\[\\])|(/\.)|(^/)|(/$)|(\.lock$)|(\.$)"
)


def validate_ref(ref: str, what: str = "ref") -> str:
    """A Git ref or commit a user typed, safe to hand to git as an argument."""
    if not isinstance(ref, str) or not ref or len(ref) > 200 or _BAD_REF.search(ref) or ref == "@":
        raise InvalidInput(
            f"invalid {what} {ref!r}: use a branch, tag or commit such as main, v1.2 or 3f2a9c1"
        )
    return ref


def validate_sha(sha: str) -> str:
    if not isinstance(sha, str) or not _SHA_RE.fullmatch(sha.lower()):
        raise InvalidInput(f"invalid commit {sha!r}: use its hexadecimal SHA (7 to 64 digits)")
    return sha.lower()


def inputs_key(commit: str | None, data_ref: str | None, params: dict[str, Any]) -> str:
    """What identifies a version: building the same inputs again is a rebuild, not a new one."""
    import hashlib
    import json

    blob = json.dumps([commit, data_ref, params], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def build_gate(name: str, candidate: int | None, latest: Build | None) -> str | None:
    """Why a model may not go from build to test, or None when its candidate version's build
    succeeded (and is the latest build, so nobody tests an older image by mistake)."""
    if latest is None:
        return f"it has no build yet: run `mlops build {name}` (or `mlops record build` from CI)"
    if latest.status != BuildStatus.SUCCEEDED:
        return f"its latest build (#{latest.id}, v{latest.version}) {latest.status}"
    if candidate != latest.version:
        return f"its candidate v{candidate} is not the latest build (v{latest.version})"
    return None


# -- the loop's evidence: test runs, deployments, checks, alerts (issue 5) ----------------


class RunStatus(StrEnum):
    """A test run's or a deployment's state; like builds, a dead process is `interrupted`."""

    RUNNING = "running"
    PASSED = "passed"  # test runs
    FAILED = "failed"
    SUCCEEDED = "succeeded"  # deployments
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"  # a later check found the metric back below critical


@dataclass(frozen=True, slots=True)
class TestRun(Timed):
    __test__ = False  # not a pytest class

    id: int
    model: str
    version: int
    status: RunStatus
    started_at: datetime
    actor: str
    commit: str | None = None
    in_image: bool = False
    command: list[str] = field(default_factory=list)
    finished_at: datetime | None = None
    host: str | None = None
    pid: int | None = None
    passed: int | None = None  # from the JUnit report, when there is one
    failed: int | None = None
    skipped: int | None = None
    url: str | None = None
    error: str | None = None
    log_tail: str = ""


@dataclass(frozen=True, slots=True)
class Deployment(Timed):
    id: int
    model: str
    version: int
    kind: str  # "deploy" or "rollback"
    target: str  # "container" (built in) or "command" (a custom target)
    status: RunStatus
    started_at: datetime
    actor: str
    image: str | None = None
    previous_version: int | None = None
    rolled_back: bool = False  # the previous production container was put back
    finished_at: datetime | None = None
    host: str | None = None
    pid: int | None = None
    error: str | None = None
    log_tail: str = ""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One point of a time series: a metric's value at one check, and what it meant."""

    model: str
    at: datetime
    metric: str
    value: float | None
    status: Health
    check_id: int | None = None


@dataclass(frozen=True, slots=True)
class Check:
    """One run of a model's checks: the overall health and why."""

    id: int
    model: str
    at: datetime
    version: int | None
    health: Health
    ok: bool  # the model answered (a successful check keeps it from going stale)
    detail: str
    actor: str


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    model: str
    metric: str
    value: float | None
    threshold: float | None
    status: AlertStatus
    opened_at: datetime
    detail: str = ""
    acked_at: datetime | None = None
    acked_by: str | None = None
    note: str | None = None
    resolved_at: datetime | None = None


TEST_STARTED = "test.started"
TEST_FINISHED = "test.finished"
TEST_RECORDED = "test.recorded"
DEPLOY_STARTED = "deploy.started"
DEPLOY_FINISHED = "deploy.finished"
CHECK_RAN = "check.ran"
ALERT_OPENED = "alert.opened"
ALERT_ACKED = "alert.acknowledged"
ALERT_RESOLVED = "alert.resolved"


def test_gate(name: str, candidate: int | None, latest: TestRun | None) -> str | None:
    """Why a model may not go from test to deploy, or None when the candidate version's
    latest test run passed (a later failing run closes the gate again)."""
    if candidate is None:
        return f"it has no version yet: run `mlops build {name}`"
    if latest is None:
        return (
            f"v{candidate} has no test run: run `mlops test {name}` (or `mlops record test` "
            "from CI)"
        )
    if latest.status != RunStatus.PASSED:
        return f"the latest test run of v{candidate} (#{latest.id}) {latest.status}"
    return None


test_gate.__test__ = False  # type: ignore[attr-defined]


def deploy_gate(name: str, candidate: int | None, succeeded: Deployment | None) -> str | None:
    """Why a model may not go from deploy to monitor, or None once a deployment of its
    candidate version succeeded: only a version that serves can be monitored."""
    if candidate is None:
        return f"it has no version yet: run `mlops build {name}`"
    if succeeded is None:
        return f"no deployment of v{candidate} succeeded: run `mlops deploy {name}`"
    return None


def threshold_status(value: float, warn: float | None, critical: float | None) -> Health:
    """value >= critical is critical, >= warn is warn, else ok."""
    if critical is not None and value >= critical:
        return Health.CRITICAL
    if warn is not None and value >= warn:
        return Health.WARN
    return Health.OK


def worst(statuses: list[Health]) -> Health:
    order = [Health.UNKNOWN, Health.OK, Health.STALE, Health.WARN, Health.CRITICAL]
    return max(statuses, key=order.index, default=Health.UNKNOWN)


# -- issue 8: time travel, approvals, webhooks, clean-up --------------------------------

APPROVAL_RULE = "approval.rule"  # a model (or the whole team, model None) now needs N approvals
APPROVAL_REQUESTED = "approval.requested"
APPROVAL_GRANTED = "approval.approved"
APPROVAL_REJECTED = "approval.rejected"
WEBHOOK_ADDED = "webhook.added"
WEBHOOK_REMOVED = "webhook.removed"
GC_REMOVED = "gc.removed"
#: the scope of a team-wide approval rule in the approval_rules table
ALL_MODELS = "*"
MAX_APPROVALS = 10


class ApprovalMissing(MlopsError):
    """A deploy refused because the version lacks the approvals its model requires."""

    title = "Approval required"
    exit_code = 2


@dataclass(frozen=True, slots=True)
class Webhook:
    id: int
    url: str
    #: event categories it receives (the part of the kind before the dot); empty: all
    categories: tuple[str, ...]
    secret_env: str | None
    created_at: datetime
    created_by: str
    #: id of the newest event already queued for it
    cursor: int

    def wants(self, kind: str) -> bool:
        return not self.categories or kind.split(".", 1)[0] in self.categories


@dataclass(frozen=True, slots=True)
class Delivery:
    """One (webhook, event) pair in the outbox, and how its delivery is going."""

    id: int
    webhook: int
    event: int
    kind: str
    status: str  # pending or delivered
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at POSTing one event (or a test ping, event None) to one webhook."""

    id: int
    webhook: int
    event: int | None
    kind: str
    at: datetime
    ok: bool
    code: int | None
    error: str | None
    seconds: float
    model: str | None = None  # the event's model, read with the attempt


_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
# host[:port] or [IPv6][:port]: what urlsplit leaves unchecked (`[::1]x`, `a b`, `-oX`).
_HOSTPORT_RE = re.compile(rf"(?:\[[0-9A-Fa-f:.]+\]|{_HOST_RE.pattern})(?::[0-9]*)?")
_ENV_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_CATEGORY_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def has_control(text: str) -> bool:
    """Whether `text` holds anything of Unicode's category C: controls (newline, tab, ESC,
    DEL, NUL), format characters (bidi overrides, zero-width), surrogates, private use and
    unassigned code points, all of which can hide what a value really says."""
    return any(unicodedata.category(c)[0] == "C" for c in text)


def validate_webhook_url(url: str) -> str:
    """Only http(s) to a named host and a real port, without credentials: a file:// or
    ftp:// URL would read or reach what it must not, a bad port would only fail at each
    delivery, and a password would sit in the history for everyone to read. ASCII only, as
    urllib sends it (a host in punycode, a path %-encoded)."""
    from urllib.parse import urlsplit  # not at the top: `mlops status` never needs it

    raw = url if isinstance(url, str) else ""
    url = raw.strip()

    def bad(why: str) -> InvalidInput:
        return InvalidInput(f"invalid webhook URL {url[:80]!r}: {why}")

    if has_control(raw):
        raise bad("it contains control characters")
    if not url.isascii() or any(c.isspace() for c in url) or len(url) > 2000:
        raise bad("use http://host[:port]/path or https://… (ASCII, no spaces, %-encoded)")
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError:  # a port that is not a number up to 65535, or a bad [IPv6] address
        raise bad(
            "its port must be a number from 1 to 65535 (an IPv6 host in [brackets])"
        ) from None
    if scheme not in ("http", "https"):
        raise bad("use http://host[:port]/path or https://…")
    if "@" in parts.netloc:
        raise bad("no user or password in it: sign deliveries with --secret-env instead")
    if not host or not _HOSTPORT_RE.fullmatch(parts.netloc) or len(host) > 253:
        raise bad("it needs a host name or address, e.g. http://chat.example.com/hook")
    if port == 0:
        raise bad("its port must be a number from 1 to 65535")
    return url


_REPO_SCHEMES = ("file", "ssh", "http", "https")
# A transport Git would run instead of reading a path: `scheme://…` or `transport::address`.
_REPO_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)(://|::)")
# Git's scp-like syntax `user@host:path`: an @ and then a colon, before any slash.
_SCP_RE = re.compile(r"([^/:]*)@([^/:]*):(.*)", re.DOTALL)
MAX_REPO = 1024


def validate_repo(value: str | None) -> str | None:
    """A model's repository as given to `--repo` (None or blank: none), before Git sees it.

    A local path, `file://`, `ssh://`, `http(s)://` or `git@host:path`. Git runs other
    transports (`ext::sh -c …` runs a command), reads a leading `-` as an option, and a
    control character would rewrite the terminal wherever the repo is shown; a password in
    a URL would sit in the history for everyone to read.
    """
    if value is None:
        return None
    if not isinstance(value, str) or has_control(value):
        raise InvalidInput(
            f"repo {str(value)[:80]!r} contains control characters; use a plain path or URL"
        )
    value = value.strip()
    if not value:
        return None
    shown = repr(value[:80]) + ("…" if len(value) > 80 else "")
    if len(value) > MAX_REPO:
        raise InvalidInput(f"repo {shown} is too long ({len(value):,} characters; at most 1,024)")
    if value.startswith("-"):
        raise InvalidInput(f"invalid repo {shown}: it starts with '-' (Git would read an option)")
    if m := _REPO_SCHEME_RE.match(value):
        scheme = m.group(1).lower()
        if m.group(2) == "::" or scheme not in _REPO_SCHEMES:
            raise InvalidInput(
                f"invalid repo {shown}: use a local path, file://, ssh://, https://, http:// "
                "or git@host:path"
            )
        _repo_url(value, scheme, shown)
    elif (m := _SCP_RE.match(value)) and not (
        m.group(1) == "git"
        and _HOST_RE.fullmatch(m.group(2))
        and m.group(3)
        and not m.group(3).startswith("-")
    ):
        raise InvalidInput(
            f"invalid repo {shown}: use git@host:path, or ssh://user@host/path for another user"
        )
    return value


def _repo_url(value: str, scheme: str, shown: str) -> None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number up to 65535, or a bad [IPv6] address
        raise InvalidInput(
            f"invalid repo {shown}: its port must be a number from 1 to 65535 "
            "(an IPv6 host in [brackets])"
        ) from None
    if scheme == "file":
        if not parts.path.strip("/") or parts.netloc not in ("", "localhost"):
            raise InvalidInput(f"invalid repo {shown}: use file:///absolute/path")
        return
    if parts.password is not None:
        raise InvalidInput(
            f"invalid repo {shown}: no password in it (use an SSH key or a credential helper)"
        )
    user, _, hostport = parts.netloc.rpartition("@")
    if user.startswith("-") or not host or not _HOSTPORT_RE.fullmatch(hostport):
        raise InvalidInput(f"invalid repo {shown}: it needs a host, e.g. {scheme}://host/path")
    if port == 0:
        raise InvalidInput(f"invalid repo {shown}: its port must be a number from 1 to 65535")
    if not parts.path.strip("/"):
        raise InvalidInput(f"invalid repo {shown}: use {scheme}://host[:port]/path")


def validate_env_name(name: str) -> str:
    if not isinstance(name, str) or not _ENV_RE.fullmatch(name):
        raise InvalidInput(
            f"invalid environment variable name {name!r}: letters, digits and '_', "
            "not starting with a digit"
        )
    return name


def parse_categories(text: str | None, known: tuple[str, ...]) -> tuple[str, ...]:
    """`stage,deploy,handoff` -> ('deploy', 'handoff', 'stage'); None, '' or 'all' -> ()."""
    if text is None or text.strip().lower() in ("", "all", "*"):
        return ()
    out: set[str] = set()
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        if not _CATEGORY_RE.fullmatch(part) or part not in known:
            raise InvalidInput(f"unknown event category {part!r}: choose from {', '.join(known)}")
        out.add(part)
    return tuple(sorted(out))


# -- issue 6: the team: people, permissions, handoffs, on-call, the audit chain --------------


class PermissionDenied(MlopsError):
    """The acting person may not do this; the message names the rule."""

    title = "Not allowed"
    exit_code = 7


class NeedsAttention(MlopsError):
    """`mlops oncall` found production models that need someone (its table was printed)."""

    title = "Needs attention"
    exit_code = 8


class ChainBroken(MlopsError):
    """`mlops audit verify` found a stored event that was edited, removed or slipped in."""

    title = "Audit chain broken"
    exit_code = 9


class UserRole(StrEnum):
    VIEWER = "viewer"  # reads only
    MEMBER = "member"  # moves, builds, tests; deploys only the models they own or back up
    MAINTAINER = "maintainer"  # everything on every model
    ADMIN = "admin"  # and people and shared settings


class HandoffStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: UserRole
    active: bool
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    email: str | None = None


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    item: str
    done: bool = False


@dataclass(frozen=True, slots=True)
class Handoff:
    id: int
    model: str
    from_user: str
    to_user: str
    status: HandoffStatus
    checklist: tuple[ChecklistItem, ...]
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    note: str | None = None
    reply: str | None = None

    @property
    def unticked(self) -> list[str]:
        return [c.item for c in self.checklist if not c.done]


USER_ADDED = "user.added"
USER_CHANGED = "user.changed"  # role, email, deactivated or reactivated
SETTING_SET = "settings.set"
PERMISSION_DENIED = "permission.denied"
HANDOFF_REQUESTED = "handoff.requested"
HANDOFF_TICKED = "handoff.ticked"
HANDOFF_DECLINED = "handoff.declined"
HANDOFF_CANCELLED = "handoff.cancelled"
# An accepted handoff is recorded as owner.set (ROLE_SET) with `handoff: ID`, so everything
# that replays ownership from the history sees it without knowing about handoffs.
MODEL_LINKED = "model.linked"

DEFAULT_CHECKLIST = (
    "runbook",
    "data sources",
    "credentials rotated",
    "dashboards",
    "open incidents",
)
CHAIN_GENESIS = "0" * 64
_EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}")
MAX_CHECKLIST_ITEM = 80


def parse_user_role(value: str) -> UserRole:
    try:
        return UserRole(value.strip().lower())
    except (ValueError, AttributeError):
        raise InvalidInput(f"unknown role {value!r}: choose one of {', '.join(UserRole)}") from None


def validate_email(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not _EMAIL_RE.fullmatch(value) or _CONTROL_RE.search(value):
        raise InvalidInput(f"invalid email {value!r}: use name@example.com")
    return value


def validate_checklist(items: list[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        item = clean_text(item, "checklist item", MAX_CHECKLIST_ITEM) or ""
        if item and item not in out:
            out.append(item)
    if not out:
        raise InvalidInput("a handoff checklist needs at least one item")
    if len(out) > 20:
        raise InvalidInput(f"too many checklist items ({len(out)}; at most 20)")
    return out


def _canon(value: Any) -> Any:
    """JSON values as both databases give them back: PostgreSQL's JSONB turns 1e20 into an
    integer, so integral floats count as integers; keys are strings, tuples are lists."""
    if isinstance(value, dict):
        return {str(k): _canon(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canon(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def chain_hash(
    prev: str,
    id: int,
    at: datetime,
    actor: str,
    model: str | None,
    kind: str,
    data: dict[str, Any],
) -> str:
    """The audit chain: an event's hash covers its content and the previous event's hash, so
    editing, removing or slipping in an event breaks every hash after it."""
    import hashlib
    import json
    from datetime import UTC

    body = json.dumps(
        {
            "id": int(id),
            "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "model": model,
            "kind": kind,
            "data": _canon(data),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest()


class TestsFailed(MlopsError):
    __test__ = False
    title = "Tests failed"
    exit_code = 1


class DeployFailed(MlopsError):
    title = "Deploy failed"
    exit_code = 1


class RunCancelled(MlopsError):
    title = "Cancelled"
    exit_code = 130
