"""SQL for the loop's evidence (issue 5): test runs, deployments, health checks and alerts.

A mixin of SqlStore: it uses the dialect hooks (_read, _write, _sql, _time_in/out,
_json_in/out, _append) that SqlStore defines, so both backends get it for free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from mlops_tui.domain import (
    Alert,
    AlertStatus,
    Check,
    CheckResult,
    Conflict,
    Deployment,
    Health,
    NewEvent,
    NotFound,
    RunStatus,
    TestRun,
)

TEST_RUN_COLUMNS = (
    "id",
    "model",
    "version",
    "status",
    "started_at",
    "finished_at",
    "actor",
    "commit_sha",
    "in_image",
    "command",
    "host",
    "pid",
    "passed",
    "failed",
    "skipped",
    "url",
    "error",
    "log_tail",
)
DEPLOYMENT_COLUMNS = (
    "id",
    "model",
    "version",
    "kind",
    "target",
    "status",
    "started_at",
    "finished_at",
    "actor",
    "image",
    "previous_version",
    "rolled_back",
    "host",
    "pid",
    "error",
    "log_tail",
)
CHECK_COLUMNS = ("id", "model", "at", "version", "health", "ok", "detail", "actor")
CHECK_RESULT_COLUMNS = ("check_id", "model", "at", "metric", "value", "status")
ALERT_COLUMNS = (
    "id",
    "model",
    "metric",
    "value",
    "threshold",
    "status",
    "opened_at",
    "detail",
    "acked_at",
    "acked_by",
    "note",
    "resolved_at",
)
MONITORING_COLUMNS = ("model", "stale_at", "last_ok_at", "last_check_at")
#: what export/import carry for this area, in dependency order (after models, before events)
LOOP_TABLES = (
    ("test_run", "test_runs", TEST_RUN_COLUMNS, "id"),
    ("deployment", "deployments", DEPLOYMENT_COLUMNS, "id"),
    ("check", "checks", CHECK_COLUMNS, "id"),
    ("check_result", "check_results", CHECK_RESULT_COLUMNS, "check_id, metric"),
    ("alert", "alerts", ALERT_COLUMNS, "id"),
    ("monitoring", "monitoring", MONITORING_COLUMNS, "model"),
)
LOOP_TIME_COLUMNS = frozenset(
    {"opened_at", "acked_at", "resolved_at", "stale_at", "last_ok_at", "last_check_at"}
)
LOOP_JSON_COLUMNS = frozenset({"command"})
_UNFINISHED = "('running')"


def _cols(columns: Sequence[str]) -> str:
    return ", ".join(columns)


class LoopSql:
    """Mixed into SqlStore; see mlops_tui.store.base.Store for the contract."""

    _sql: Any
    _read: Any
    _write: Any
    _time_in: Any
    _time_out: Any
    _json_in: Any
    _json_out: Any
    _append: Any
    _model: Any
    _LOCK_MODEL: str

    # -- row mapping -------------------------------------------------------------------
    def _opt_time(self, value: Any) -> datetime | None:
        return None if value is None else self._time_out(value)

    def _test_run(self, row: Sequence[Any]) -> TestRun:
        r = dict(zip(TEST_RUN_COLUMNS, row, strict=True))
        r["id"] = int(r["id"])
        r["commit"] = r.pop("commit_sha")
        r["status"] = RunStatus(r["status"])
        r["in_image"] = bool(r["in_image"])
        r["command"] = self._json_out(r["command"]) or []
        r["started_at"] = self._time_out(r["started_at"])
        r["finished_at"] = self._opt_time(r["finished_at"])
        return TestRun(**r)

    def _deployment(self, row: Sequence[Any]) -> Deployment:
        r = dict(zip(DEPLOYMENT_COLUMNS, row, strict=True))
        r["id"] = int(r["id"])
        r["status"] = RunStatus(r["status"])
        r["rolled_back"] = bool(r["rolled_back"])
        r["started_at"] = self._time_out(r["started_at"])
        r["finished_at"] = self._opt_time(r["finished_at"])
        return Deployment(**r)

    def _check(self, row: Sequence[Any]) -> Check:
        r = dict(zip(CHECK_COLUMNS, row, strict=True))
        r["id"] = int(r["id"])
        r["at"] = self._time_out(r["at"])
        r["health"] = Health(r["health"])
        r["ok"] = bool(r["ok"])
        return Check(**r)

    def _alert(self, row: Sequence[Any]) -> Alert:
        r = dict(zip(ALERT_COLUMNS, row, strict=True))
        r["id"] = int(r["id"])
        r["status"] = AlertStatus(r["status"])
        r["opened_at"] = self._time_out(r["opened_at"])
        r["acked_at"] = self._opt_time(r["acked_at"])
        r["resolved_at"] = self._opt_time(r["resolved_at"])
        return Alert(**r)

    def _lock_model(self, cur: Any, model: str) -> None:
        cur.execute(self._sql(self._LOCK_MODEL), (model,))
        if cur.fetchone() is None:
            raise NotFound(f"no model named {model!r} (see `mlops model list`)")

    def _model_row(self, cur: Any, model: str) -> Any:
        from mlops_tui.store.sql import MODEL_COLUMNS

        cur.execute(
            self._sql(f"SELECT {_cols(MODEL_COLUMNS)} FROM models WHERE name = ?"), (model,)
        )
        return self._model(cur.fetchone())

    def _touch_model(self, cur: Any, model: str, event: NewEvent, **changes: Any) -> Any:
        """Apply `changes` to the model (revision + 1) and return it as stored."""
        from mlops_tui.store.sql import MODEL_COLUMNS

        sets = "".join(f"{c} = ?, " for c in changes)
        cur.execute(
            self._sql(
                f"UPDATE models SET {sets}revision = revision + 1, updated_at = ?, "
                f"updated_by = ? WHERE name = ? RETURNING {_cols(MODEL_COLUMNS)}"
            ),
            (*changes.values(), self._time_in(event.at), event.actor, model),
        )
        return self._model(cur.fetchone())

    # -- test runs ---------------------------------------------------------------------
    def start_test_run(
        self,
        *,
        model: str,
        version: int,
        commit: str | None,
        in_image: bool,
        command: list[str],
        at: datetime,
        actor: str,
        host: str | None,
        pid: int | None,
        url: str | None = None,
        event: NewEvent,
    ) -> TestRun:
        with self._write() as cur:
            self._lock_model(cur, model)
            cur.execute(
                self._sql(
                    "INSERT INTO test_runs (model, version, status, started_at, actor, "
                    "commit_sha, in_image, command, host, pid, url) "
                    "VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?) "
                    f"RETURNING {_cols(TEST_RUN_COLUMNS)}"
                ),
                (
                    model,
                    version,
                    self._time_in(at),
                    actor,
                    commit,
                    int(in_image),
                    self._json_in(command),
                    host,
                    pid,
                    url,
                ),
            )
            run = self._test_run(cur.fetchone())
            event.data.update(test_run=run.id, version=version)
            self._append(cur, event)
            return run

    def finish_test_run(
        self,
        run_id: int,
        *,
        status: RunStatus,
        at: datetime,
        counts: tuple[int, int, int] | None = None,
        error: str | None = None,
        log_tail: str = "",
        event: NewEvent,
    ) -> TestRun:
        passed, failed, skipped = counts if counts is not None else (None, None, None)
        with self._write() as cur:
            cur.execute(
                self._sql(
                    "UPDATE test_runs SET status = ?, finished_at = ?, passed = ?, failed = ?, "
                    "skipped = ?, error = ?, log_tail = ? WHERE id = ? AND status = 'running' "
                    f"RETURNING {_cols(TEST_RUN_COLUMNS)}"
                ),
                (str(status), self._time_in(at), passed, failed, skipped, error, log_tail, run_id),
            )
            row = cur.fetchone()
            if row is None:
                cur.execute(self._sql("SELECT status FROM test_runs WHERE id = ?"), (run_id,))
                found = cur.fetchone()
                if found is None:
                    raise NotFound(f"no test run #{run_id}")
                raise Conflict(f"test run #{run_id} is no longer running (it is {found[0]})")
            run = self._test_run(row)
            event.data.update(test_run=run.id, version=run.version, status=str(status))
            if counts is not None:
                event.data.update(passed=passed, failed=failed, skipped=skipped)
            self._append(cur, event)
            return run

    def test_runs(
        self,
        model: str | None = None,
        limit: int | None = 20,
        *,
        version: int | None = None,
        status: RunStatus | None = None,
    ) -> list[TestRun]:
        """Test runs newest first, optionally of one model, one version or one status."""
        filters: list[tuple[str, Any]] = []
        if model is not None:
            filters.append(("model = ?", model))
        if version is not None:
            filters.append(("version = ?", version))
        if status is not None:
            filters.append(("status = ?", str(status)))
        return self._select(self._test_run, "test_runs", TEST_RUN_COLUMNS, filters, limit)

    def _select(
        self,
        make: Any,
        table: str,
        columns: Sequence[str],
        filters: list[tuple[str, Any]],
        limit: int | None,
        order: str = "id DESC",
    ) -> list[Any]:
        where = " WHERE " + " AND ".join(c for c, _ in filters) if filters else ""
        params = [v for _, v in filters]
        query = f"SELECT {_cols(columns)} FROM {table}{where} ORDER BY {order}"
        if limit:
            query += " LIMIT ?"
            params.append(int(limit))
        with self._read() as cur:
            cur.execute(self._sql(query), params)
            rows = cur.fetchall()
        return [make(r) for r in rows]

    # -- deployments -------------------------------------------------------------------
    def start_deployment(
        self,
        *,
        model: str,
        version: int,
        kind: str,
        target: str,
        image: str | None,
        previous_version: int | None,
        at: datetime,
        actor: str,
        host: str | None,
        pid: int | None,
        event: NewEvent,
    ) -> Deployment:
        with self._write() as cur:
            self._lock_model(cur, model)
            cur.execute(
                self._sql(
                    "INSERT INTO deployments (model, version, kind, target, status, started_at, "
                    "actor, image, previous_version, host, pid) "
                    "VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?) "
                    f"RETURNING {_cols(DEPLOYMENT_COLUMNS)}"
                ),
                (
                    model,
                    version,
                    kind,
                    target,
                    self._time_in(at),
                    actor,
                    image,
                    previous_version,
                    host,
                    pid,
                ),
            )
            dep = self._deployment(cur.fetchone())
            event.data.update(deployment=dep.id, version=version, kind=kind, target=target)
            self._append(cur, event)
            return dep

    def finish_deployment(
        self,
        deployment_id: int,
        *,
        status: RunStatus,
        at: datetime,
        error: str | None = None,
        log_tail: str = "",
        rolled_back: bool = False,
        stale_at: datetime | None = None,
        event: NewEvent,
    ) -> tuple[Deployment, Any]:
        """Close a running deployment. On success the model's production_version becomes the
        deployed version and its monitoring clock starts (stale_at), with the event, in the
        same transaction. Returns (deployment, Change)."""
        from mlops_tui.store.base import Change

        with self._write() as cur:
            cur.execute(
                self._sql(
                    "UPDATE deployments SET status = ?, finished_at = ?, error = ?, "
                    "log_tail = ?, rolled_back = ? WHERE id = ? AND status = 'running' "
                    f"RETURNING {_cols(DEPLOYMENT_COLUMNS)}"
                ),
                (str(status), self._time_in(at), error, log_tail, int(rolled_back), deployment_id),
            )
            row = cur.fetchone()
            if row is None:
                cur.execute(
                    self._sql("SELECT status FROM deployments WHERE id = ?"), (deployment_id,)
                )
                found = cur.fetchone()
                if found is None:
                    raise NotFound(f"no deployment #{deployment_id}")
                raise Conflict(
                    f"deployment #{deployment_id} is no longer running (it is {found[0]})"
                )
            dep = self._deployment(row)
            event.data.update(
                deployment=dep.id, version=dep.version, kind=dep.kind, status=str(status)
            )
            if rolled_back:
                event.data["rolled_back"] = True
            if status == RunStatus.SUCCEEDED:
                event.data["previous_version"] = dep.previous_version
                model = self._touch_model(cur, dep.model, event, production_version=dep.version)
                if stale_at is not None:
                    self._upsert_monitoring(cur, dep.model, stale_at=stale_at)
            else:
                model = self._model_row(cur, dep.model)
            return dep, Change(model, self._append(cur, event))

    def deployments(
        self,
        model: str | None = None,
        limit: int | None = 20,
        *,
        status: RunStatus | None = None,
        version: int | None = None,
    ) -> list[Deployment]:
        """Deployments and rollbacks newest first, optionally of one model/status/version."""
        filters: list[tuple[str, Any]] = []
        if model is not None:
            filters.append(("model = ?", model))
        if status is not None:
            filters.append(("status = ?", str(status)))
        if version is not None:
            filters.append(("version = ?", version))
        return self._select(self._deployment, "deployments", DEPLOYMENT_COLUMNS, filters, limit)

    # -- checks ------------------------------------------------------------------------
    def _upsert_monitoring(
        self,
        cur: Any,
        model: str,
        *,
        stale_at: datetime,
        ok_at: datetime | None = None,
        check_at: datetime | None = None,
    ) -> None:
        cur.execute(
            self._sql(
                "INSERT INTO monitoring (model, stale_at, last_ok_at, last_check_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (model) DO UPDATE SET "
                "stale_at = excluded.stale_at, "
                "last_ok_at = COALESCE(excluded.last_ok_at, monitoring.last_ok_at), "
                "last_check_at = COALESCE(excluded.last_check_at, monitoring.last_check_at)"
            ),
            (
                model,
                self._time_in(stale_at),
                None if ok_at is None else self._time_in(ok_at),
                None if check_at is None else self._time_in(check_at),
            ),
        )

    def record_check(
        self,
        *,
        model: str,
        at: datetime,
        version: int | None,
        health: Health,
        ok: bool,
        detail: str,
        actor: str,
        results: Sequence[tuple[str, float | None, Health]],
        stale_at: datetime | None,
        event: NewEvent,
        alerts: Sequence[Mapping[str, Any]] = (),
        alert_events: Sequence[NewEvent] = (),
        resolve: Sequence[str] = (),
        resolve_events: Sequence[NewEvent] = (),
    ) -> tuple[Check, list[Alert], Any]:
        """Store one check: its overall row, one time-series row per metric, the model's
        health and monitoring clock (stale_at, moved on only when `ok`), the alerts it opens
        (skipping a metric that already has an unresolved alert) and resolves, and their
        events, in one transaction. The model and its history change only when its health
        does (`event` is appended then), so a check every 30 s does not flood the history or
        bump the revision others hold. Returns (check, alerts opened, Change or None)."""
        from mlops_tui.store.base import Change

        with self._write() as cur:
            self._lock_model(cur, model)
            cur.execute(
                self._sql(
                    "INSERT INTO checks (model, at, version, health, ok, detail, actor) "
                    f"VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {_cols(CHECK_COLUMNS)}"
                ),
                (model, self._time_in(at), version, str(health), int(ok), detail, actor),
            )
            check = self._check(cur.fetchone())
            cur.executemany(
                self._sql(
                    "INSERT INTO check_results (check_id, model, at, metric, value, status) "
                    "VALUES (?, ?, ?, ?, ?, ?)"
                ),
                [(check.id, model, self._time_in(at), m, v, str(s)) for m, v, s in results],
            )
            if stale_at is not None:
                self._upsert_monitoring(
                    cur, model, stale_at=stale_at, ok_at=at if ok else None, check_at=at
                )
            current = self._model_row(cur, model)
            # The events are appended last, in this order: the audit chain is serialised from
            # the first append to the commit, so every other statement runs before it.
            appends: list[NewEvent] = []
            stored = None
            if current.health != health:  # the history records changes, not every check
                event.data.update(check=check.id, health=str(health), before=str(current.health))
                stored = self._touch_model(cur, model, event, health=str(health))
                appends.append(event)
            opened: list[Alert] = []
            for spec, alert_event in zip(alerts, alert_events, strict=True):
                cur.execute(
                    self._sql(
                        "SELECT id FROM alerts WHERE model = ? AND metric = ? "
                        "AND status <> 'resolved'"
                    ),
                    (model, spec["metric"]),
                )
                if cur.fetchone() is not None:
                    continue  # one unresolved alert per model and metric
                cur.execute(
                    self._sql(
                        "INSERT INTO alerts (model, metric, value, threshold, status, "
                        "opened_at, detail) VALUES (?, ?, ?, ?, 'open', ?, ?) "
                        f"RETURNING {_cols(ALERT_COLUMNS)}"
                    ),
                    (
                        model,
                        spec["metric"],
                        spec.get("value"),
                        spec.get("threshold"),
                        self._time_in(at),
                        spec.get("detail", ""),
                    ),
                )
                alert = self._alert(cur.fetchone())
                opened.append(alert)
                alert_event.data.update(alert=alert.id, check=check.id)
                appends.append(alert_event)
            for metric, resolve_event in zip(resolve, resolve_events, strict=True):
                cur.execute(
                    self._sql(
                        "UPDATE alerts SET status = 'resolved', resolved_at = ? "
                        "WHERE model = ? AND metric = ? AND status <> 'resolved' RETURNING id"
                    ),
                    (self._time_in(at), model, metric),
                )
                found = cur.fetchone()
                if found is not None:
                    resolve_event.data.update(alert=int(found[0]), check=check.id)
                    appends.append(resolve_event)
            appended = [self._append(cur, e) for e in appends]
            change = None if stored is None else Change(stored, appended[0])
            return check, opened, change

    def last_check(self, model: str, *, ok: bool | None = None) -> Check | None:
        """The model's newest check (only successful ones with ok=True), or None."""
        filters: list[tuple[str, Any]] = [("model = ?", model)]
        if ok is not None:
            filters.append(("ok = ?", int(ok)))
        found = self._select(self._check, "checks", CHECK_COLUMNS, filters, 1)
        return found[0] if found else None

    def recent_checks(self, model: str, limit: int = 20) -> list[Check]:
        """The model's checks, newest first."""
        return self._select(self._check, "checks", CHECK_COLUMNS, [("model = ?", model)], limit)

    def checks(
        self, model: str, metric: str | None = None, since: datetime | None = None
    ) -> list[CheckResult]:
        """The time series of one model (one metric when given), oldest first, since `since`."""
        filters: list[tuple[str, Any]] = [("model = ?", model)]
        if metric is not None:
            filters.append(("metric = ?", metric))
        if since is not None:
            filters.append(("at >= ?", self._time_in(since)))

        def make(r: Sequence[Any]) -> CheckResult:
            check_id, name, at, m, value, status = r
            v = None if value is None else float(value)
            return CheckResult(name, self._time_out(at), m, v, Health(status), int(check_id))

        return self._select(
            make, "check_results", CHECK_RESULT_COLUMNS, filters, None, order="at, metric"
        )

    def stale_models(self, now: datetime) -> set[str]:
        """Production models whose last successful check is older than their max_age (or
        that never had one within max_age of their deployment)."""
        with self._read() as cur:
            cur.execute(
                self._sql(
                    "SELECT mon.model FROM monitoring mon JOIN models ON models.name = mon.model "
                    "WHERE mon.stale_at <= ? AND models.production_version IS NOT NULL"
                ),
                (self._time_in(now),),
            )
            return {r[0] for r in cur.fetchall()}

    def monitoring(self, model: str) -> dict[str, datetime | None] | None:
        """The model's monitoring clock: stale_at, last_ok_at, last_check_at; or None."""
        with self._read() as cur:
            cur.execute(
                self._sql(f"SELECT {_cols(MONITORING_COLUMNS)} FROM monitoring WHERE model = ?"),
                (model,),
            )
            row = cur.fetchone()
        if row is None:
            return None
        return {c: self._opt_time(v) for c, v in zip(MONITORING_COLUMNS[1:], row[1:], strict=True)}

    # -- alerts ------------------------------------------------------------------------
    def open_alerts(self, model: str | None = None) -> list[Alert]:
        """Unresolved alerts (open or acknowledged), newest first; the on-call view reads
        these. An acknowledged alert stays here until a check finds the metric recovered."""
        filters: list[tuple[str, Any]] = [("status <> ?", "resolved")]
        if model is not None:
            filters.append(("model = ?", model))
        return self._select(self._alert, "alerts", ALERT_COLUMNS, filters, None)

    def alerts(self, model: str | None = None, limit: int | None = 100) -> list[Alert]:
        """Every alert, resolved ones included, newest first."""
        filters: list[tuple[str, Any]] = []
        if model is not None:
            filters.append(("model = ?", model))
        return self._select(self._alert, "alerts", ALERT_COLUMNS, filters, limit)

    def get_alert(self, alert_id: int) -> Alert:
        found = self._select(self._alert, "alerts", ALERT_COLUMNS, [("id = ?", alert_id)], 1)
        if not found:
            raise NotFound(f"no alert #{alert_id} (see `mlops alerts --all`)")
        return found[0]

    def ack_alert(
        self, alert_id: int, *, actor: str, at: datetime, note: str | None, event: NewEvent
    ) -> Alert:
        """Acknowledge an open alert and append `event`. Raises NotFound, or Conflict when it
        is already acknowledged or resolved."""
        with self._write() as cur:
            cur.execute(
                self._sql(
                    "UPDATE alerts SET status = 'acknowledged', acked_at = ?, acked_by = ?, "
                    "note = ? WHERE id = ? AND status = 'open' "
                    f"RETURNING {_cols(ALERT_COLUMNS)}"
                ),
                (self._time_in(at), actor, note, alert_id),
            )
            row = cur.fetchone()
            if row is None:
                cur.execute(
                    self._sql("SELECT status, acked_by FROM alerts WHERE id = ?"), (alert_id,)
                )
                found = cur.fetchone()
                if found is None:
                    raise NotFound(f"no alert #{alert_id} (see `mlops alerts --all`)")
                by = f" by {found[1]}" if found[1] else ""
                raise Conflict(f"alert #{alert_id} is already {found[0]}{by}")
            alert = self._alert(row)
            event.data.update(alert=alert.id, metric=alert.metric)
            if note:
                event.data["note"] = note
            self._append(cur, event)
            return alert
