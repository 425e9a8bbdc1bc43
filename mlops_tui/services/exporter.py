"""The registry as Prometheus series: what `GET /metrics` of `mlops serve` exposes.

Each model is a set of `mlops_model_*` series with a `model` label, so that a team's own
Prometheus can hold rules such as "a production model with no successful check for a day"
(`time() - mlops_model_last_ok_check_timestamp_seconds > 86400`) and Grafana can draw the
board. A state (stage, health) is one series per model whose label carries the value, at 1,
as kube-state-metrics does with a pod's phase. A fact a model does not have yet (no
production version, never checked, never deployed) is absent rather than zero, so `absent()`
and `unless` read it correctly. Times are Unix timestamps, not "seconds since": Prometheus's
own advice, since a timestamp stays true between scrapes and `time() - x` gives the age.

Formatting is prometheus_client's, at some 3 µs a sample: a 10,000-model registry would
cost a third of a second a scrape. So `Exposition` keeps each model's formatted lines and
each family's text, and on a scrape reads again only the models that may have changed:
those the history names since the previous scrape, those whose checks moved their clock
(a check that leaves the health as it was appends no event), and those whose staleness
time alone changed. An event that names no model (someone left, a team-wide rule) or a
flood of changes reads every model again, in a handful of queries. `make bench` measures
the first scrape and one after a model moved.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import NamedTuple

from prometheus_client.core import GaugeMetricFamily, Metric

from mlops_tui.domain import AlertStatus, HandoffStatus
from mlops_tui.services import approvals
from mlops_tui.services.context import Context
from mlops_tui.store import ExposedRow, schema
from mlops_tui.store.schema import After, Not


class Family(NamedTuple):
    name: str
    help: str
    labels: tuple[str, ...] = ()  # besides `model`


FAMILIES = (
    Family("info", "A model and the people answerable for it (1).", ("owner", "backup")),
    Family("stage", "The model's stage in the loop (1).", ("stage",)),
    Family("health", "The model's health: ok, warn, critical, stale or unknown (1).", ("health",)),
    Family("version", "The model's newest version."),
    Family("production_version", "The version serving in production."),
    Family("open_alerts", "Alerts not resolved yet (acknowledged ones included)."),
    Family("last_ok_check_timestamp_seconds", "When a check last got an answer (Unix time)."),
    Family(
        "last_deploy_timestamp_seconds",
        "When the newest successful deployment or rollback finished (Unix time).",
    ),
    Family("orphaned", "1 when the model's owner has left the team."),
    Family("pending_handoffs", "Handoffs of the model waiting for an answer."),
    Family("pending_approvals", "Versions of the model waiting for approval before production."),
)
PREFIX = "mlops_model_"
#: past this many changes since the last scrape, every model is read again (one query each)
FEW = 200
CHECK_MARGIN = timedelta(seconds=5)

#: one model's samples, in FAMILIES' order: (label values besides `model`, value) or None
Facts = tuple[tuple[tuple[str, ...], float] | None, ...]
#: what a model's samples are made of, read in bulk: compared from one scrape to the next,
#: and made into Facts only for the models whose state changed
State = tuple[ExposedRow, str, datetime | None, datetime | None, int, bool, int, int]


def states(
    ctx: Context, models: Collection[str] | None = None, stale: set[str] | None = None
) -> dict[str, State]:
    """Every model's state (or these models'), read now, by name."""
    store = ctx.store
    rows = store.exposed_rows(models)
    if stale is None:
        stale = store.stale_models(ctx.clock())
    left = store.inactive_users()
    alerts = Counter(a.model for a in store.rows(schema.ALERTS, status=Not(AlertStatus.RESOLVED)))
    handoffs = Counter(h.model for h in store.rows(schema.HANDOFFS, status=HandoffStatus.PENDING))
    waiting = approvals.waiting(ctx, {r.name: r.production_version for r in rows})
    answered = store.last_ok_checks(models)
    deployed = store.last_deploys(models)
    return {
        r.name: (
            r,
            "stale" if r.name in stale and r.health != "critical" else r.health,
            answered.get(r.name),
            deployed.get(r.name),
            alerts.get(r.name, 0),
            r.owner in left,
            handoffs.get(r.name, 0),
            waiting.get(r.name, 0),
        )
        for r in rows
    }


def facts(state: State) -> Facts:
    """One model's samples, in FAMILIES' order."""
    r, health, ok_at, deploy_at, alerts, orphaned, handoffs, waiting = state
    return (
        ((r.owner, r.backup or ""), 1.0),
        ((r.stage,), 1.0),
        ((health,), 1.0),
        None if r.version is None else ((), float(r.version)),
        None if r.production_version is None else ((), float(r.production_version)),
        ((), float(alerts)),
        None if ok_at is None else ((), ok_at.timestamp()),
        None if deploy_at is None else ((), deploy_at.timestamp()),
        ((), 1.0 if orphaned else 0.0),
        ((), float(handoffs)),
        ((), float(waiting)),
    )


def families(models: Iterable[tuple[str, Facts]]) -> list[Metric]:
    """prometheus_client's metric families for these models, in FAMILIES' order."""
    out: list[Metric] = []
    for i, f in enumerate(FAMILIES):
        family = GaugeMetricFamily(PREFIX + f.name, f.help, labels=["model", *f.labels])
        for name, samples in models:
            sample = samples[i]
            if sample is not None:
                family.add_metric((name, *sample[0]), sample[1])
        out.append(family)
    return out


def _render(metrics: list[Metric]) -> list[str]:
    """The exposition's lines for `metrics`, by prometheus_client."""
    from prometheus_client import CollectorRegistry, generate_latest

    class Fixed:
        def collect(self) -> list[Metric]:
            return metrics

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fixed())
    return generate_latest(registry).decode().splitlines()


class Exposition:
    """The registry's exposition, formatted again only where a model's state changed.

    Per family it keeps each model's sample line and the family's joined text, so that a
    scrape after one model moved formats that model's samples and joins again only the
    families whose lines changed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, State] = {}
        self._head: int | None = None  # the history's head at the last scrape
        self._stale: set[str] = set()
        self._checked: datetime | None = None  # the newest check seen
        self._names: list[str] = []  # in name order
        #: per family, each model's formatted sample line (absent: no sample)
        self._lines: list[dict[str, str]] = [{} for _ in FAMILIES]
        self._texts = [""] * len(FAMILIES)
        headers = [line for line in _render(families(())) if line.startswith("#")]
        #: HELP and TYPE of each family, two lines each
        self._headers = ["\n".join(headers[2 * i : 2 * i + 2]) for i in range(len(FAMILIES))]

    def render(self, ctx: Context) -> bytes:
        with self._lock:
            now, removed = self._refresh(ctx)
            dirty: set[int] = set()
            for name in removed:
                for i, lines in enumerate(self._lines):
                    if lines.pop(name, None) is not None:
                        dirty.add(i)
            changed = [(n, st) for n, st in now.items() if self._states.get(n) != st]
            if changed:
                dirty |= self._format([(n, facts(st)) for n, st in changed])
            before = len(self._states)
            self._states.update(now)
            for name in removed:
                self._states.pop(name, None)
            if removed or len(self._states) != before:
                self._names = sorted(self._states)
            for i in dirty:
                lines = self._lines[i]
                self._texts[i] = "".join(lines[n] + "\n" for n in self._names if n in lines)
            body = "".join(h + "\n" + t for h, t in zip(self._headers, self._texts, strict=True))
            count, head = len(self._states), self._head
        extra = "\n".join(_render(families_of_the_registry(count, head or 0)))
        return (body + extra + "\n").encode()

    def _refresh(self, ctx: Context) -> tuple[dict[str, State], list[str]]:
        """(the states read again, the models gone): every model's on the first scrape,
        after a change to the team (an event naming no model), or after many changes;
        otherwise only those of the models the history names since the last scrape, whose
        checks moved their clock, or whose staleness changed with time."""
        store = ctx.store
        head = store.head()
        stale = store.stale_models(ctx.clock())
        # A check's clock is the time it began: one that commits after a scrape read a
        # later one is still seen, within the margin.
        since = None if self._checked is None else self._checked - CHECK_MARGIN
        checked, mark = store.checked_since(since)
        names: set[str] | None = None
        if self._head is not None:
            events = store.rows(schema.EVENTS, id=After(self._head), limit=FEW + 1, order="id")
            if len(events) <= FEW and all(e.model is not None for e in events):
                names = {e.model for e in events if e.model is not None}
                names |= checked | (stale ^ self._stale)
                if len(names) > FEW:
                    names = None
        self._head, self._stale, self._checked = head, stale, mark
        if names is None:
            now = states(ctx, stale=stale)
            return now, [n for n in self._states if n not in now]
        if not names:
            return {}, []
        now = states(ctx, names, stale)
        return now, [n for n in names if n not in now and n in self._states]

    def _format(self, changed: list[tuple[str, Facts]]) -> set[int]:
        """Format `changed` models' samples; returns the families whose lines changed.
        prometheus_client writes each family's samples in the order they were added, one
        line each, so the lines map back to the models."""
        dirty: set[int] = set()
        lines = iter(_render(families(changed)))
        for i, _family in enumerate(FAMILIES):
            next(lines), next(lines)  # HELP, TYPE
            kept = self._lines[i]
            for name, samples in changed:
                line = None if samples[i] is None else next(lines)
                if kept.get(name) != line:
                    dirty.add(i)
                    if line is None:
                        del kept[name]
                    else:
                        kept[name] = line
        return dirty


def families_of_the_registry(models: int, head: int) -> list[Metric]:
    """The registry as a whole: how many models, and the history's head."""
    count = GaugeMetricFamily("mlops_models", "Models in the registry.")
    count.add_metric((), models)
    moved = GaugeMetricFamily(
        "mlops_history_head", "The newest event's id: it moves on every change."
    )
    moved.add_metric((), head)
    return [count, moved]
