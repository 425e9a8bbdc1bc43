"""The loop's evidence: versions and their builds, test runs, deployments, health checks and
alerts, and the gates that read them (a model leaves build, test or deploy only on its
evidence)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from mlops_tui.domain.loop import Health

# -- versions and builds ----------------------------------------------------------------------


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


def inputs_key(commit: str | None, data_ref: str | None, params: dict[str, Any]) -> str:
    """What identifies a version: building the same inputs again is a rebuild, not a new one."""
    import hashlib
    import json

    blob = json.dumps([commit, data_ref, params], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def build_gate(candidate: int | None, latest: Build | None) -> str | None:
    """Why a model may not go from build to test, or None when its candidate version's build
    succeeded (and is the latest build, so nobody tests an older image by mistake)."""
    if latest is None:
        return "it has no build yet"
    if latest.status != BuildStatus.SUCCEEDED:
        return f"its latest build (#{latest.id}, v{latest.version}) {latest.status}"
    if candidate != latest.version:
        return f"its candidate v{candidate} is not the latest build (v{latest.version})"
    return None


# -- test runs, deployments, checks, alerts ---------------------------------------------------


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
    fingerprint: str | None = None  # Alertmanager's, when it came from there


TEST_STARTED = "test.started"
TEST_FINISHED = "test.finished"
TEST_RECORDED = "test.recorded"
DEPLOY_STARTED = "deploy.started"
DEPLOY_FINISHED = "deploy.finished"
CHECK_RAN = "check.ran"
ALERT_OPENED = "alert.opened"
ALERT_ACKED = "alert.acknowledged"
ALERT_RESOLVED = "alert.resolved"


def test_gate(candidate: int | None, latest: TestRun | None) -> str | None:
    """Why a model may not go from test to deploy, or None when the candidate version's
    latest test run passed (a later failing run closes the gate again)."""
    if candidate is None:
        return "it has no version yet"
    if latest is None:
        return f"v{candidate} has no test run"
    if latest.status != RunStatus.PASSED:
        return f"the latest test run of v{candidate} (#{latest.id}) {latest.status}"
    return None


# Not a test despite its name: pytest skips what has `__test__ = False`.
test_gate.__test__ = False  # type: ignore[attr-defined]  # functions declare no __test__


def deploy_gate(candidate: int | None, succeeded: Deployment | None) -> str | None:
    """Why a model may not go from deploy to monitor, or None once a deployment of its
    candidate version succeeded: only a version that serves can be monitored."""
    if candidate is None:
        return "it has no version yet"
    if succeeded is None:
        return f"no deployment of v{candidate} succeeded"
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
