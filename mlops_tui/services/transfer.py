"""Export and import of the whole state as JSON Lines, so a team can move between backends.

The file is a header line, the models, the events, and an end line that carries the counts,
so a truncated file is caught even when it was cut at a line boundary. An import checks the
whole file before writing anything, then writes it in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from mlops_tui import domain
from mlops_tui.errors import Conflict, InvalidInput, MlopsError
from mlops_tui.services import gate
from mlops_tui.services.context import Context
from mlops_tui.store import schema

FORMAT = "mlops-export"
FORMAT_VERSION = 2  # 2 added versions and builds; 1 still imports


def export(ctx: Context, out: TextIO) -> dict[str, int]:
    counts = {"model": 0, "version": 0, "build": 0, "event": 0}
    counts.update({kind: 0 for kind in _LOOP_RECORDS})  # the loop's evidence
    counts.update({kind: 0 for kind in _TEAM_RECORDS})  # the team
    counts.update({kind: 0 for kind in _REGISTRY_RECORDS})  # approvals, webhooks
    counts.update({kind: 0 for kind in _MLFLOW_RECORDS})  # the MLflow bridge
    header = {
        "type": FORMAT,
        "version": FORMAT_VERSION,
        "exported_at": datetime.now(UTC).isoformat(),
        "source": ctx.store.backend,
    }
    out.write(json.dumps(header, ensure_ascii=False) + "\n")
    for kind, row in ctx.store.dump():
        counts[kind] += 1
        out.write(json.dumps({"type": kind, **row}, ensure_ascii=False, sort_keys=True) + "\n")
    totals = {f"{kind}s": n for kind, n in counts.items()}
    out.write(json.dumps({"type": "end", **totals}) + "\n")
    return totals


_MODEL_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "description": (str,),
    "repo": (str, type(None)),
    "tags": (list,),
    "stage": (str,),
    "iteration": (int,),
    "owner": (str,),
    "backup": (str, type(None)),
    "oncall": (str, type(None)),
    "version": (int, type(None)),
    "production_version": (int, type(None)),
    "health": (str,),
    "created_at": (str,),
    "created_by": (str,),
    "updated_at": (str,),
    "updated_by": (str,),
    "revision": (int,),
}
_OPT_STR = (str, type(None))
_VERSION_TYPES: dict[str, tuple[type, ...]] = {
    "model": (str,),
    "number": (int,),
    "inputs": (str,),
    "commit_sha": _OPT_STR,
    "data_ref": _OPT_STR,
    "params": (dict,),
    "image": _OPT_STR,
    "image_id": _OPT_STR,
    "created_at": (str,),
    "created_by": (str,),
}
_BUILD_TYPES: dict[str, tuple[type, ...]] = {
    "id": (int,),
    "model": (str,),
    "version": (int,),
    "inputs": (str,),
    "commit_sha": (str,),
    "ref": _OPT_STR,
    "status": (str,),
    "started_at": (str,),
    "actor": (str,),
    "finished_at": _OPT_STR,
    "host": _OPT_STR,
    "pid": (int, type(None)),
    "image": _OPT_STR,
    "url": _OPT_STR,
    "error": _OPT_STR,
    "log_tail": (str,),
}
_EVENT_TYPES: dict[str, tuple[type, ...]] = {
    "id": (int,),
    "at": (str,),
    "actor": (str,),
    "model": (str, type(None)),
    "kind": (str,),
    "data": (dict,),
}


def _check(row: dict[str, Any], types: dict[str, tuple[type, ...]]) -> None:
    missing = [k for k in types if k not in row]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    extra = [k for k in row if k not in types and k != "type"]
    if extra:
        raise ValueError(f"unknown field {', '.join(extra)}")
    for key, allowed in types.items():
        value = row[key]
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise ValueError(f"{key} has the wrong type ({type(value).__name__})")
        # the tables allow a time only as a string, or None where it is optional
        if (key.endswith("_at") or key == "at") and isinstance(value, str):
            datetime.fromisoformat(value)


def _check_model(row: dict[str, Any]) -> None:
    _check(row, _MODEL_TYPES)
    domain.validate_model_name(row["name"])
    if row.get("repo") is not None:
        domain.validate_repo(row["repo"])
    domain.parse_stage(row["stage"])
    domain.Health(row["health"])


def _check_build(row: dict[str, Any]) -> None:
    _check(row, _BUILD_TYPES)
    domain.BuildStatus(row["status"])


# record type -> (check, key that must be unique)
_Record = tuple[Callable[[dict[str, Any]], None], Callable[[dict[str, Any]], Hashable]]
_RECORDS: dict[str, _Record] = {
    "model": (_check_model, lambda r: r["name"]),
    "version": (lambda r: _check(r, _VERSION_TYPES), lambda r: (r["model"], r["number"])),
    "build": (_check_build, lambda r: r["id"]),
    "event": (lambda r: _check(r, _EVENT_TYPES), lambda r: r["id"]),
}


def _check_loop(row: dict[str, Any]) -> None:
    if not isinstance(row.get("model"), str):
        raise ValueError("model must be a string")
    domain.validate_model_name(row["model"])


# The loop's evidence (test runs, deployments, checks, alerts): before events, as the store
# loads them
_LOOP_RECORDS: dict[str, _Record] = {
    "test_run": (_check_loop, lambda r: r.get("id")),
    "deployment": (_check_loop, lambda r: r.get("id")),
    "check": (_check_loop, lambda r: r.get("id")),
    "check_result": (_check_loop, lambda r: (r.get("check_id"), r.get("metric"))),
    "alert": (_check_loop, lambda r: r.get("id")),
    "monitoring": (_check_loop, lambda r: r.get("model")),
}


def _check_event(row: dict[str, Any]) -> None:
    """Events carry their audit-chain hashes (exports made before the chain do not)."""
    for key in ("prev_hash", "hash"):
        if not isinstance(row.get(key), str | None):
            raise ValueError(f"{key} has the wrong type ({type(row[key]).__name__})")
    _check({k: v for k, v in row.items() if k not in ("prev_hash", "hash")}, _EVENT_TYPES)


def _check_team(row: dict[str, Any]) -> None:
    if "model" in row:
        _check_loop(row)
    for key in ("name", "from_user", "to_user"):
        if key in row:
            domain.validate_user(row[key])


def _check_token(row: dict[str, Any]) -> None:
    """A token carries its secret's hash only: 64 hex digits, never a secret."""
    domain.validate_user(row.get("name", ""), "token name")
    domain.validate_user(row.get("person", ""), "token's person")
    digest = row.get("hash")
    if not isinstance(digest, str) or len(digest) != 64 or digest.strip("0123456789abcdef"):
        raise ValueError("a token's hash must be 64 hexadecimal digits")


# The team: people, shared settings, handoffs, model links, API tokens
_TEAM_RECORDS: dict[str, _Record] = {
    "user": (_check_team, lambda r: r.get("name")),
    "token": (_check_token, lambda r: r.get("name")),
    "setting": (_check_team, lambda r: r.get("key")),
    "handoff": (_check_team, lambda r: r.get("id")),
    "link": (_check_team, lambda r: (r.get("model"), r.get("kind"))),
}


def _check_registry(row: dict[str, Any]) -> None:
    if "url" in row:
        domain.validate_webhook_url(row["url"])
    if not isinstance(row.get("id", row.get("scope")), (int, str)):
        raise ValueError("id missing")


# The registry: approval rules, webhooks, their outbox and delivery log
_REGISTRY_RECORDS: dict[str, _Record] = {
    "approval_rule": (_check_registry, lambda r: r.get("scope")),
    "webhook": (_check_registry, lambda r: r.get("id")),
    "webhook_delivery": (_check_registry, lambda r: r.get("id")),
    "webhook_attempt": (_check_registry, lambda r: r.get("id")),
}


def _check_mlflow_link(row: dict[str, Any]) -> None:
    """A link names its tracking server as the bridge would take it: never a credential."""
    from mlops_tui.adapters.mlflow_registry import validate_tracking_uri

    _check_loop(row)
    uri = row.get("tracking_uri")
    if not isinstance(uri, str) or validate_tracking_uri(uri) != uri:
        raise ValueError("tracking_uri is not a tracking URI the bridge would keep")


# The MLflow bridge: links and the versions that are MLflow versions (not the push outbox)
_MLFLOW_RECORDS: dict[str, _Record] = {
    "mlflow_link": (_check_mlflow_link, lambda r: r.get("model")),
    "mlflow_version": (_check_loop, lambda r: (r.get("model"), r.get("number"))),
}
_RECORDS = {
    **{k: v for k, v in _RECORDS.items() if k != "event"},
    **_LOOP_RECORDS,
    **_TEAM_RECORDS,
    **_REGISTRY_RECORDS,
    **_MLFLOW_RECORDS,
    "event": (_check_event, _RECORDS["event"][1]),
}


@gate.writes("import")
def import_(ctx: Context, lines: Iterable[str], source: str = "<stdin>") -> dict[str, int]:
    """Check every line, then load it all in one transaction. Raises InvalidInput naming the
    first bad line; nothing is written in that case."""
    records: dict[str, list[dict[str, Any]]] = {kind: [] for kind in _RECORDS}
    line_of: dict[int, int] = {}  # id(record) -> its line, to name it if it is refused later
    seen: dict[str, set[Hashable]] = {kind: set() for kind in _RECORDS}
    end: dict[str, Any] | None = None
    lineno = 0
    for lineno, line in enumerate(lines, start=1):
        try:
            if end is not None:
                raise ValueError("content after the end record")
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not valid JSON at column {exc.colno}: {exc.msg}") from None
            if not isinstance(row, dict):
                raise ValueError("not a JSON object")
            kind = row.get("type")
            if lineno == 1:
                if kind != FORMAT:
                    raise ValueError("not an mlops export (no header line)")
                if row.get("version") not in (1, FORMAT_VERSION):
                    raise ValueError(f"export format {row.get('version')} is not supported")
            elif kind in _RECORDS:
                check, key = _RECORDS[kind]
                check(row)
                found = key(row)
                try:
                    hash(found)
                except TypeError:  # a list or an object where an id belongs
                    raise ValueError(f"{kind} has a bad id: {found!r}") from None
                if found in seen[kind]:
                    raise ValueError(f"{kind} {found} appears twice")
                seen[kind].add(found)
                records[kind].append(row)
                line_of[id(row)] = lineno
            elif kind == "end":
                end = row
                for k, rows in records.items():
                    if row.get(f"{k}s", 0) != len(rows):
                        raise ValueError(
                            f"the end record counts {row.get(f'{k}s', 0)} {k}s, "
                            f"the file has {len(rows)}"
                        )
            else:
                raise ValueError(f"unknown record type {kind!r}")
        except (ValueError, MlopsError) as exc:
            reason = exc.message if isinstance(exc, MlopsError) else str(exc)
            raise InvalidInput(f"{source}:{lineno}: {reason}; nothing was imported") from None
    if lineno == 0:
        raise InvalidInput(f"{source} is empty; nothing was imported")
    if end is None:
        raise InvalidInput(
            f"{source}:{lineno}: the file ends without its end record (truncated?); "
            "nothing was imported"
        )
    from mlops_tui.services import audit

    try:
        audit.check_rows(records["event"])
    except ValueError as exc:
        at = next(
            (f":{line_of[id(r)]}" for r in records["event"] if f"#{r['id']} " in str(exc)), ""
        )
        raise InvalidInput(f"{source}{at}: {exc}; nothing was imported") from None
    try:
        with ctx.store.transaction() as tx:
            if tx.models.get() is not None or tx.rows(schema.EVENTS).get() is not None:
                raise Conflict(
                    "the database is not empty: import only into a new database "
                    "(point MLOPS_DB at a new file or an empty PostgreSQL database)"
                )
            tx.restore(records)
    except InvalidInput as exc:
        at = _refused_line(records, line_of)
        raise InvalidInput(f"{source}{at}: {exc.message}; nothing was imported") from None
    return {f"{kind}s": len(rows) for kind, rows in records.items()}


def _refused_line(records: dict[str, list[dict[str, Any]]], line_of: dict[int, int]) -> str:
    """`:LINE` of the first record the database refused, found by loading ever shorter
    beginnings of the file into a scratch in-memory database (records come in dependency
    order, so each beginning stands on its own). Only runs when an import already failed."""
    from mlops_tui.store import open_store

    ordered = sorted(
        ((line_of[id(r)], kind, r) for kind, rows in records.items() for r in rows),
        key=lambda t: t[0],
    )

    def loads(count: int) -> bool:
        part: dict[str, list[dict[str, Any]]] = {kind: [] for kind in records}
        for _, kind, row in ordered[:count]:
            part[kind].append(row)
        with open_store(":memory:") as scratch, gate.scratch(scratch):
            try:
                with scratch.transaction() as tx:
                    tx.restore(part)
            except InvalidInput:
                return False
        return True

    good, bad = 0, len(ordered)
    if not ordered or loads(bad):
        return ""  # only the target database refuses it: no line to blame
    while bad - good > 1:
        middle = (good + bad) // 2
        good, bad = (middle, bad) if loads(middle) else (good, middle)
    return f":{ordered[bad - 1][0]}"
