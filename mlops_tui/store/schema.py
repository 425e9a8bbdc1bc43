"""Every table the store keeps, declared once.

A table's declaration says which columns it has, what each holds and which record of the
domain a row becomes. From it come the column lists the queries select, the row readers
(time, JSON, enum, bool and the like converted by the column's type), the export's tables
and their order, and the check that a migrated database has exactly these columns. A new
column is one `Col` here plus the migration step that adds it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, NamedTuple, TypeVar

from mlops_tui.domain import (
    Alert,
    AlertStatus,
    Attempt,
    Build,
    BuildStatus,
    Check,
    ChecklistItem,
    CheckResult,
    Delivery,
    Deployment,
    Event,
    Handoff,
    HandoffStatus,
    Health,
    Model,
    RunStatus,
    Stage,
    TestRun,
    Token,
    User,
    UserRole,
    Version,
    Webhook,
)
from mlops_tui.domain.mlflow import AliasPush, MlflowLink, MlflowVersion

#: How a value is stored and read back: "text", "int", "float", "bool", "time", "json",
#: "enum", "csv" (a tuple of names), "checklist" or "bytes". `time` and `json` are the dialect's
#: business; the rest convert the same way on both backends.
ColType = str
R = TypeVar("R")


class Col(NamedTuple):
    name: str
    kind: ColType = "text"
    #: the record's attribute when it is named otherwise ("" when the record has none)
    attr: str | None = None
    enum: type[StrEnum] | None = None
    #: carried by export and import (a relay's lease is not the team's data)
    exported: bool = True
    #: a process's own progress (the relay's cursor and lease), not the team's data: a
    #: change to it alone needs no event even in a recorded table
    bookkeeping: bool = False
    #: what an import from an older release, which lacks the column, stores
    default: Any = None

    @property
    def field(self) -> str:
        return self.name if self.attr is None else self.attr


class Not(NamedTuple):
    """A condition on a column: any value but this one (`status=Not("resolved")`)."""

    value: Any


class After(NamedTuple):
    """A condition on a column: greater than this (`id=After(last_seen)`)."""

    value: Any


class Since(NamedTuple):
    """A condition on a column: this or greater (`at=Since(a_week_ago)`)."""

    value: Any


#: how each condition compares; a plain value is `=`, and None is no condition at all
COMPARE: dict[type, str] = {Not: "<>", After: ">", Since: ">="}


def _checklist(value: Any) -> tuple[ChecklistItem, ...]:
    import json

    return tuple(ChecklistItem(c["item"], bool(c["done"])) for c in json.loads(value))


def _csv(value: str) -> tuple[str, ...]:
    return tuple(c for c in value.split(",") if c)


@dataclass(frozen=True)
class Table(Generic[R]):
    name: str
    columns: tuple[Col, ...]
    #: the domain record a row becomes (None: read by hand, e.g. settings)
    record: type[R] | None = None
    #: the export's record type and the order rows are exported in (None: not exported)
    export_as: str | None = None
    order: str = "id"
    #: extra record fields a reader takes after the row's columns (a join's values)
    extra: tuple[str, ...] = ()
    #: the team's data, described by the history: a change to it appends its event in the
    #: same transaction (the store refuses one without). Derived data and a process's
    #: bookkeeping (checks' time series, the relay's outbox, checkpoints) are not.
    recorded: bool = False
    _readers: dict[tuple[Any, ...], Callable[[Sequence[Any]], R]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def names(self) -> tuple[str, ...]:
        """Every column, in declaration order."""
        return tuple(c.name for c in self.columns)

    @property
    def record_columns(self) -> tuple[str, ...]:
        """The columns a reader takes, in order."""
        return tuple(c.name for c in self.columns if c.attr != "")

    @property
    def exported(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.exported)

    def select(self, alias: str = "") -> str:
        """The record's columns as a SELECT list (qualified by `alias` when given)."""
        prefix = f"{alias}." if alias else ""
        return ", ".join(prefix + c for c in self.record_columns)

    @property
    def newest_first(self) -> str:
        """The order a listing takes unless told otherwise: newest first where rows have
        ids, else the table's own order."""
        return "id DESC" if "id" in self.names else self.order

    def col(self, name: str) -> Col:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def reader(
        self, time_out: Callable[[Any], Any], json_out: Callable[[Any], Any]
    ) -> Callable[[Sequence[Any]], R]:
        """A function from a row of `select()` (then the `extra` values) to the record.

        Built once per backend's conversions and kept, since a board reads thousands of rows.
        """
        key = (time_out, json_out)
        found = self._readers.get(key)
        if found is not None:
            return found
        record = self.record
        if record is None:
            raise TypeError(f"{self.name} rows are not read as records")
        convert: dict[str, Callable[[Any], Any]] = {
            "int": int,
            "float": float,
            "bool": bool,
            "time": time_out,
            "json": json_out,
            "csv": _csv,
            "checklist": _checklist,
            "bytes": bytes,
        }
        cols = [c for c in self.columns if c.attr != ""]
        steps = [
            (i, c.enum if c.kind == "enum" and c.enum is not None else convert[c.kind])
            for i, c in enumerate(cols)
            if c.kind != "text"
        ]
        fields = (*(c.field for c in cols), *self.extra)

        def read(row: Sequence[Any]) -> R:
            values = list(row)
            if len(values) < len(fields):  # the extras, when the query has none
                values += [None] * (len(fields) - len(values))
            for i, fn in steps:
                v = values[i]
                if v is not None:
                    values[i] = fn(v)
            return record(**dict(zip(fields, values, strict=True)))

        self._readers[key] = read
        return read


def _run_columns(*middle: Col) -> tuple[Col, ...]:
    """The columns every run (build, test run, deployment) shares around its own."""
    return (
        Col("id", "int"),
        Col("model"),
        Col("version", "int"),
        *middle,
        Col("host"),
        Col("pid", "int"),
    )


MODELS = Table(
    "models",
    (
        Col("name"),
        Col("description"),
        Col("repo"),
        Col("tags", "json"),
        Col("stage", "enum", enum=Stage),
        Col("iteration", "int"),
        Col("owner"),
        Col("backup"),
        Col("oncall"),
        Col("version", "int"),
        Col("production_version", "int"),
        Col("health", "enum", enum=Health),
        Col("created_at", "time"),
        Col("created_by"),
        Col("updated_at", "time"),
        Col("updated_by"),
        Col("revision", "int"),
    ),
    Model,
    "model",
    "name",
    recorded=True,
)
EVENTS = Table(
    "events",
    (
        Col("id", "int"),
        Col("at", "time"),
        Col("actor"),
        Col("model"),
        Col("kind"),
        Col("data", "json"),
        Col("prev_hash", attr=""),
        Col("hash", attr=""),
    ),
    Event,
    "event",
)
VERSIONS = Table(
    "versions",
    (
        Col("model"),
        Col("number", "int"),
        Col("inputs"),
        Col("commit_sha", attr="commit"),
        Col("data_ref"),
        Col("params", "json"),
        Col("image"),
        Col("image_id"),
        Col("created_at", "time"),
        Col("created_by"),
    ),
    Version,
    "version",
    "model, number",
    recorded=True,
)
BUILDS = Table(
    "builds",
    (
        Col("id", "int"),
        Col("model"),
        Col("version", "int"),
        Col("inputs"),
        Col("commit_sha", attr="commit"),
        Col("ref"),
        Col("status", "enum", enum=BuildStatus),
        Col("started_at", "time"),
        Col("actor"),
        Col("finished_at", "time"),
        Col("host"),
        Col("pid", "int"),
        Col("image"),
        Col("url"),
        Col("error"),
        Col("log_tail"),
    ),
    Build,
    "build",
    recorded=True,
)
TEST_RUNS = Table(
    "test_runs",
    (
        Col("id", "int"),
        Col("model"),
        Col("version", "int"),
        Col("status", "enum", enum=RunStatus),
        Col("started_at", "time"),
        Col("finished_at", "time"),
        Col("actor"),
        Col("commit_sha", attr="commit"),
        Col("in_image", "bool"),
        Col("command", "json"),
        Col("host"),
        Col("pid", "int"),
        Col("passed", "int"),
        Col("failed", "int"),
        Col("skipped", "int"),
        Col("url"),
        Col("error"),
        Col("log_tail"),
    ),
    TestRun,
    "test_run",
    recorded=True,
)
DEPLOYMENTS = Table(
    "deployments",
    (
        Col("id", "int"),
        Col("model"),
        Col("version", "int"),
        Col("kind"),
        Col("target"),
        Col("status", "enum", enum=RunStatus),
        Col("started_at", "time"),
        Col("finished_at", "time"),
        Col("actor"),
        Col("image"),
        Col("previous_version", "int"),
        Col("rolled_back", "bool"),
        Col("host"),
        Col("pid", "int"),
        Col("error"),
        Col("log_tail"),
    ),
    Deployment,
    "deployment",
    recorded=True,
)
CHECKS = Table(
    "checks",
    (
        Col("id", "int"),
        Col("model"),
        Col("at", "time"),
        Col("version", "int"),
        Col("health", "enum", enum=Health),
        Col("ok", "bool"),
        Col("detail"),
        Col("actor"),
    ),
    Check,
    "check",
)
CHECK_RESULTS = Table(
    "check_results",
    (
        Col("check_id", "int"),
        Col("model"),
        Col("at", "time"),
        Col("metric"),
        Col("value", "float"),
        Col("status", "enum", enum=Health),
    ),
    CheckResult,
    "check_result",
    "check_id, metric",
)
ALERTS = Table(
    "alerts",
    (
        Col("id", "int"),
        Col("model"),
        Col("metric"),
        Col("value", "float"),
        Col("threshold", "float"),
        Col("status", "enum", enum=AlertStatus),
        Col("opened_at", "time"),
        Col("detail"),
        Col("acked_at", "time"),
        Col("acked_by"),
        Col("note"),
        Col("resolved_at", "time"),
        #: Alertmanager's fingerprint of the alert it came from (None: a check opened it)
        Col("fingerprint"),
    ),
    Alert,
    "alert",
    recorded=True,
)
MONITORING: Table[Any] = Table(
    "monitoring",
    (
        Col("model"),
        Col("stale_at", "time"),
        Col("last_ok_at", "time"),
        Col("last_check_at", "time"),
    ),
    None,
    "monitoring",
    "model",
)
APPROVAL_RULES: Table[Any] = Table(
    "approval_rules",
    (Col("scope"), Col("required", "int"), Col("updated_at", "time"), Col("updated_by")),
    None,
    "approval_rule",
    "scope",
    recorded=True,
)
WEBHOOKS = Table(
    "webhooks",
    (
        Col("id", "int"),
        Col("url"),
        Col("categories", "csv"),
        Col("secret_env"),
        Col("created_at", "time"),
        Col("created_by"),
        Col("last_event", "int", attr="cursor", bookkeeping=True),
        Col("active", "bool", attr=""),
        Col("lease_until", "time", attr="", exported=False, bookkeeping=True),
        Col("lease_owner", attr="", exported=False, bookkeeping=True),
    ),
    Webhook,
    "webhook",
    recorded=True,
)
DELIVERIES = Table(
    "webhook_deliveries",
    (
        Col("id", "int"),
        Col("webhook", "int"),
        Col("event", "int"),
        Col("kind"),
        Col("status"),
        Col("attempts", "int"),
        Col("next_attempt_at", "time"),
        Col("last_error"),
        Col("delivered_at", "time"),
    ),
    Delivery,
    "webhook_delivery",
)
ATTEMPTS = Table(
    "webhook_attempts",
    (
        Col("id", "int"),
        Col("webhook", "int"),
        Col("event", "int"),
        Col("kind"),
        Col("at", "time"),
        Col("ok", "bool"),
        Col("code", "int"),
        Col("error"),
        Col("seconds", "float"),
    ),
    Attempt,
    "webhook_attempt",
    extra=("model",),
)
USERS = Table(
    "users",
    (
        Col("name"),
        Col("email"),
        Col("role", "enum", enum=UserRole),
        Col("active", "bool"),
        Col("created_at", "time"),
        Col("created_by"),
        Col("updated_at", "time"),
        Col("updated_by"),
        Col("bot", "bool", default=False),
    ),
    User,
    "user",
    "name",
    recorded=True,
)
#: API tokens for `mlops serve`: the secret's SHA-256, never the secret
TOKENS = Table(
    "tokens",
    (
        Col("name"),
        Col("person", attr="user"),  # `user` is a reserved word in PostgreSQL
        Col("hash", attr=""),
        Col("created_at", "time"),
        Col("created_by"),
        Col("last_used_at", "time", bookkeeping=True, exported=False),
    ),
    Token,
    "token",
    "name",
    recorded=True,
)
SETTINGS: Table[Any] = Table(
    "settings",
    (Col("key"), Col("value"), Col("updated_at", "time"), Col("updated_by")),
    None,
    "setting",
    "key",
    recorded=True,
)
HANDOFFS = Table(
    "handoffs",
    (
        Col("id", "int"),
        Col("model"),
        Col("from_user"),
        Col("to_user"),
        Col("status", "enum", enum=HandoffStatus),
        Col("checklist", "checklist"),
        Col("note"),
        Col("reply"),
        Col("created_at", "time"),
        Col("created_by"),
        Col("updated_at", "time"),
        Col("updated_by"),
    ),
    Handoff,
    "handoff",
    recorded=True,
)
LINKS: Table[Any] = Table(
    "model_links",
    (Col("model"), Col("kind"), Col("url"), Col("updated_at", "time"), Col("updated_by")),
    None,
    "link",
    "model, kind",
    recorded=True,
)
VIEWS: Table[Any] = Table(
    "model_views", (Col("model"), Col("actor"), Col("at", "time"), Col("head", "int"))
)
ANCHOR: Table[Any] = Table(
    "audit_anchor",
    (Col("id", "int"), Col("event", "int"), Col("hash"), Col("events", "int")),
)
#: Time travel's shortcut: every model's replayed state after event `upto` (`replay` is the
#: format of that state). Derived from the history, so never exported: rebuilt after an import.
CHECKPOINTS: Table[Any] = Table(
    "checkpoints",
    (
        Col("upto", "int"),
        Col("replay", "int"),
        Col("max_at", "time"),
        Col("models", "int"),
        Col("state", "bytes"),
    ),
    order="upto",
)
#: The MLflow bridge: a model kept in step with a registered model on a tracking server
MLFLOW_LINKS = Table(
    "mlflow_links",
    (
        Col("model"),
        Col("tracking_uri"),
        Col("registered_model"),
        Col("alias"),
        # MLflow's state as last seen: each move there is an event here (`mlflow.alias_moved`,
        # `mlflow.alias_set`), so the column alone is a cache of it
        Col("aliases", "json", bookkeeping=True),
        Col("tags", "json"),
        Col("created_at", "time"),
        Col("created_by"),
        Col("updated_at", "time"),
        Col("updated_by"),
        Col("last_event", "int", attr="cursor", bookkeeping=True, default=0),
    ),
    MlflowLink,
    "mlflow_link",
    "model",
    recorded=True,
)
MLFLOW_VERSIONS = Table(
    "mlflow_versions",
    (
        Col("model"),
        Col("number", "int"),
        Col("registered_model"),
        Col("mlflow_version"),
        Col("run_id"),
        Col("author"),
        Col("metrics", "json"),
        Col("stage"),
        Col("registered_at", "time"),
    ),
    MlflowVersion,
    "mlflow_version",
    "model, number",
    recorded=True,
)
#: the outbox of alias pushes after deployments: a process's progress, not the team's data
MLFLOW_PUSHES = Table(
    "mlflow_pushes",
    (
        Col("id", "int"),
        Col("model"),
        Col("event", "int"),
        Col("version", "int"),
        Col("tracking_uri"),
        Col("registered_model"),
        Col("mlflow_version"),
        Col("alias"),
        Col("status"),
        Col("attempts", "int"),
        Col("created_at", "time"),
        Col("next_attempt_at", "time"),
        Col("last_error"),
        Col("done_at", "time"),
        Col("actor"),
    ),
    AliasPush,
)
#: PostgreSQL only: SQLite keeps the schema version in its header (PRAGMA user_version)
META: Table[Any] = Table("mlops_meta", (Col("key"), Col("value")))

#: Every table, in dependency order: export writes them in this order (those with an
#: `export_as`) and import loads them in it, the history last.
TABLES: tuple[Table[Any], ...] = (
    MODELS,
    VERSIONS,
    BUILDS,
    TEST_RUNS,
    DEPLOYMENTS,
    CHECKS,
    CHECK_RESULTS,
    ALERTS,
    MONITORING,
    APPROVAL_RULES,
    WEBHOOKS,
    DELIVERIES,
    ATTEMPTS,
    USERS,
    TOKENS,
    SETTINGS,
    HANDOFFS,
    LINKS,
    MLFLOW_LINKS,
    MLFLOW_VERSIONS,
    MLFLOW_PUSHES,
    VIEWS,
    ANCHOR,
    CHECKPOINTS,
    EVENTS,
)
EXPORTED = tuple(t for t in TABLES if t.export_as is not None)
