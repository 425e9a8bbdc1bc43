"""SQL for the loop's evidence: test runs, deployments, health checks and alerts."""

from __future__ import annotations

from datetime import datetime

from mlops_tui.domain import (
    Alert,
    Check,
    CheckResult,
    Deployment,
    RunStatus,
    TestRun,
)
from mlops_tui.errors import NotFound
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
