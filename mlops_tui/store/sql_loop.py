"""SQL for the loop's evidence: test runs, deployments, health checks and alerts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from mlops_tui.domain import (
    Alert,
    Check,
    CheckResult,
    Deployment,
    Health,
    NewEvent,
    RunStatus,
    TestRun,
)
from mlops_tui.errors import Conflict, NotFound
from mlops_tui.store.base import Change
from mlops_tui.store.core import SqlCore
from mlops_tui.store.schema import (
    ALERTS,
    CHECK_RESULTS,
    CHECKS,
    DEPLOYMENTS,
    MONITORING,
    TEST_RUNS,
)


class LoopSql(SqlCore):
    """Mixed into SqlStore; see mlops_tui.store.base.Store for the contract."""

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
                self.dialect.sql(
                    "INSERT INTO test_runs (model, version, status, started_at, actor, "
                    "commit_sha, in_image, command, host, pid, url) "
                    "VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?) "
                    f"RETURNING {TEST_RUNS.select()}"
                ),
                (
                    model,
                    version,
                    self.dialect.time_in(at),
                    actor,
                    commit,
                    int(in_image),
                    self.dialect.json_in(command),
                    host,
                    pid,
                    url,
                ),
            )
            run = self._reader(TEST_RUNS)(cur.fetchone())
            event = event.add(test_run=run.id, version=version)
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
                self.dialect.sql(
                    "UPDATE test_runs SET status = ?, finished_at = ?, passed = ?, failed = ?, "
                    "skipped = ?, error = ?, log_tail = ? WHERE id = ? AND status = 'running' "
                    f"RETURNING {TEST_RUNS.select()}"
                ),
                (
                    str(status),
                    self.dialect.time_in(at),
                    passed,
                    failed,
                    skipped,
                    error,
                    log_tail,
                    run_id,
                ),
            )
            row = cur.fetchone()
            if row is None:
                cur.execute(
                    self.dialect.sql("SELECT status FROM test_runs WHERE id = ?"), (run_id,)
                )
                found = cur.fetchone()
                if found is None:
                    raise NotFound(f"no test run #{run_id}")
                raise Conflict(f"test run #{run_id} is no longer running (it is {found[0]})")
            run = self._reader(TEST_RUNS)(row)
            event = event.add(test_run=run.id, version=run.version, status=str(status))
            if counts is not None:
                event = event.add(passed=passed, failed=failed, skipped=skipped)
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
        where = {"model": model, "version": version, "status": status}
        runs: list[TestRun] = self._rows(TEST_RUNS, where, limit=limit)
        return runs

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
                self.dialect.sql(
                    "INSERT INTO deployments (model, version, kind, target, status, started_at, "
                    "actor, image, previous_version, host, pid) "
                    "VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?) "
                    f"RETURNING {DEPLOYMENTS.select()}"
                ),
                (
                    model,
                    version,
                    kind,
                    target,
                    self.dialect.time_in(at),
                    actor,
                    image,
                    previous_version,
                    host,
                    pid,
                ),
            )
            dep = self._reader(DEPLOYMENTS)(cur.fetchone())
            event = event.add(deployment=dep.id, version=version, kind=kind, target=target)
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
    ) -> tuple[Deployment, Change]:
        """Close a running deployment. On success the model's production_version becomes the
        deployed version and its monitoring clock starts (stale_at), with the event, in the
        same transaction. Returns (deployment, Change)."""
        with self._write() as cur:
            cur.execute(
                self.dialect.sql(
                    "UPDATE deployments SET status = ?, finished_at = ?, error = ?, "
                    "log_tail = ?, rolled_back = ? WHERE id = ? AND status = 'running' "
                    f"RETURNING {DEPLOYMENTS.select()}"
                ),
                (
                    str(status),
                    self.dialect.time_in(at),
                    error,
                    log_tail,
                    int(rolled_back),
                    deployment_id,
                ),
            )
            row = cur.fetchone()
            if row is None:
                cur.execute(
                    self.dialect.sql("SELECT status FROM deployments WHERE id = ?"),
                    (deployment_id,),
                )
                found = cur.fetchone()
                if found is None:
                    raise NotFound(f"no deployment #{deployment_id}")
                raise Conflict(
                    f"deployment #{deployment_id} is no longer running (it is {found[0]})"
                )
            dep = self._reader(DEPLOYMENTS)(row)
            event = event.add(
                deployment=dep.id, version=dep.version, kind=dep.kind, status=str(status)
            )
            if rolled_back:
                event = event.add(rolled_back=True)
            if status == RunStatus.SUCCEEDED:
                event = event.add(previous_version=dep.previous_version)
                model = self._touch_model(
                    cur, dep.model, {"production_version": dep.version}, event
                )
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
        where = {"model": model, "status": status, "version": version}
        deployments: list[Deployment] = self._rows(DEPLOYMENTS, where, limit=limit)
        return deployments

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
            self.dialect.sql(
                "INSERT INTO monitoring (model, stale_at, last_ok_at, last_check_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (model) DO UPDATE SET "
                "stale_at = excluded.stale_at, "
                "last_ok_at = COALESCE(excluded.last_ok_at, monitoring.last_ok_at), "
                "last_check_at = COALESCE(excluded.last_check_at, monitoring.last_check_at)"
            ),
            (
                model,
                self.dialect.time_in(stale_at),
                None if ok_at is None else self.dialect.time_in(ok_at),
                None if check_at is None else self.dialect.time_in(check_at),
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
    ) -> tuple[Check, list[Alert], Change | None]:
        """Store one check: its overall row, one time-series row per metric, the model's
        health and monitoring clock (stale_at, moved on only when `ok`), the alerts it opens
        (skipping a metric that already has an unresolved alert) and resolves, and their
        events, in one transaction. The model and its history change only when its health
        does (`event` is appended then), so a check every 30 s does not flood the history or
        bump the revision others hold. Returns (check, alerts opened, Change or None)."""
        with self._write() as cur:
            self._lock_model(cur, model)
            cur.execute(
                self.dialect.sql(
                    "INSERT INTO checks (model, at, version, health, ok, detail, actor) "
                    f"VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {CHECKS.select()}"
                ),
                (model, self.dialect.time_in(at), version, str(health), int(ok), detail, actor),
            )
            check = self._reader(CHECKS)(cur.fetchone())
            cur.executemany(
                self.dialect.sql(
                    "INSERT INTO check_results (check_id, model, at, metric, value, status) "
                    "VALUES (?, ?, ?, ?, ?, ?)"
                ),
                [(check.id, model, self.dialect.time_in(at), m, v, str(s)) for m, v, s in results],
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
                event = event.add(check=check.id, health=str(health), before=str(current.health))
                stored = self._touch_model(cur, model, {"health": health}, event)
                appends.append(event)
            opened: list[Alert] = []
            for spec, alert_event in zip(alerts, alert_events, strict=True):
                cur.execute(
                    self.dialect.sql(
                        "SELECT id FROM alerts WHERE model = ? AND metric = ? "
                        "AND status <> 'resolved'"
                    ),
                    (model, spec["metric"]),
                )
                if cur.fetchone() is not None:
                    continue  # one unresolved alert per model and metric
                cur.execute(
                    self.dialect.sql(
                        "INSERT INTO alerts (model, metric, value, threshold, status, "
                        "opened_at, detail) VALUES (?, ?, ?, ?, 'open', ?, ?) "
                        f"RETURNING {ALERTS.select()}"
                    ),
                    (
                        model,
                        spec["metric"],
                        spec.get("value"),
                        spec.get("threshold"),
                        self.dialect.time_in(at),
                        spec.get("detail", ""),
                    ),
                )
                alert = self._reader(ALERTS)(cur.fetchone())
                opened.append(alert)
                alert_event = alert_event.add(alert=alert.id, check=check.id)
                appends.append(alert_event)
            for metric, resolve_event in zip(resolve, resolve_events, strict=True):
                cur.execute(
                    self.dialect.sql(
                        "UPDATE alerts SET status = 'resolved', resolved_at = ? "
                        "WHERE model = ? AND metric = ? AND status <> 'resolved' RETURNING id"
                    ),
                    (self.dialect.time_in(at), model, metric),
                )
                found = cur.fetchone()
                if found is not None:
                    resolve_event = resolve_event.add(alert=int(found[0]), check=check.id)
                    appends.append(resolve_event)
            appended = [self._append(cur, e) for e in appends]
            change = None if stored is None else Change(stored, appended[0])
            return check, opened, change

    def last_check(self, model: str, *, ok: bool | None = None) -> Check | None:
        """The model's newest check (only successful ones with ok=True), or None."""
        found: list[Check] = self._rows(CHECKS, {"model": model, "ok": ok}, limit=1)
        return found[0] if found else None

    def recent_checks(self, model: str, limit: int = 20) -> list[Check]:
        """The model's checks, newest first."""
        checks: list[Check] = self._rows(CHECKS, {"model": model}, limit=limit)
        return checks

    def checks(
        self, model: str, metric: str | None = None, since: datetime | None = None
    ) -> list[CheckResult]:
        """The time series of one model (one metric when given), oldest first, since `since`."""
        after = [] if since is None else [("at >= ?", self.dialect.time_in(since))]
        results: list[CheckResult] = self._rows(
            CHECK_RESULTS,
            {"model": model, "metric": metric},
            conditions=after,
            order="at, metric",
        )
        return results

    def stale_models(self, now: datetime) -> set[str]:
        """Production models whose last successful check is older than their max_age (or
        that never had one within max_age of their deployment)."""
        with self._read() as cur:
            cur.execute(
                self.dialect.sql(
                    "SELECT mon.model FROM monitoring mon JOIN models ON models.name = mon.model "
                    "WHERE mon.stale_at <= ? AND models.production_version IS NOT NULL"
                ),
                (self.dialect.time_in(now),),
            )
            return {r[0] for r in cur.fetchall()}

    def monitoring(self, model: str) -> dict[str, datetime | None] | None:
        """The model's monitoring clock: stale_at, last_ok_at, last_check_at; or None."""
        with self._read() as cur:
            cur.execute(
                self.dialect.sql(f"SELECT {MONITORING.select()} FROM monitoring WHERE model = ?"),
                (model,),
            )
            row = cur.fetchone()
        if row is None:
            return None
        return {c: self._opt_time(v) for c, v in zip(MONITORING.names[1:], row[1:], strict=True)}

    # -- alerts ------------------------------------------------------------------------
    def open_alerts(self, model: str | None = None) -> list[Alert]:
        """Unresolved alerts (open or acknowledged), newest first; the on-call view reads
        these. An acknowledged alert stays here until a check finds the metric recovered."""
        unresolved = [("status <> ?", "resolved")]
        found: list[Alert] = self._rows(ALERTS, {"model": model}, conditions=unresolved)
        return found

    def alerts(self, model: str | None = None, limit: int | None = 100) -> list[Alert]:
        """Every alert, resolved ones included, newest first."""
        found: list[Alert] = self._rows(ALERTS, {"model": model}, limit=limit)
        return found

    def get_alert(self, alert_id: int) -> Alert:
        found: list[Alert] = self._rows(ALERTS, {"id": alert_id})
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
                self.dialect.sql(
                    "UPDATE alerts SET status = 'acknowledged', acked_at = ?, acked_by = ?, "
                    "note = ? WHERE id = ? AND status = 'open' "
                    f"RETURNING {ALERTS.select()}"
                ),
                (self.dialect.time_in(at), actor, note, alert_id),
            )
            row = cur.fetchone()
            if row is None:
                cur.execute(
                    self.dialect.sql("SELECT status, acked_by FROM alerts WHERE id = ?"),
                    (alert_id,),
                )
                found = cur.fetchone()
                if found is None:
                    raise NotFound(f"no alert #{alert_id} (see `mlops alerts --all`)")
                by = f" by {found[1]}" if found[1] else ""
                raise Conflict(f"alert #{alert_id} is already {found[0]}{by}")
            alert = self._reader(ALERTS)(row)
            event = event.add(alert=alert.id, metric=alert.metric)
            if note:
                event = event.add(note=note)
            self._append(cur, event)
            return alert
