"""What the hooks of `mlops serve` accept, checked whole before anything is written.

Alertmanager's webhook payload (version 4) becomes a list of `monitoring.Notified`; a CI
job's JSON becomes the arguments of the same `record` use cases `mlops record build|test|
deploy` call. Anything else is one line of InvalidInput naming what is wrong.
"""

from __future__ import annotations

import math
from typing import Any

from mlops_tui import domain
from mlops_tui.errors import InvalidInput
from mlops_tui.services.monitoring import Notified

MAX_ALERTS = 1000  # Alertmanager's own batches are far smaller; a bound on one request's work
MAX_LABEL = 200
MAX_DETAIL = 1000


def _text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text")
    cleaned = domain.clean_text(value, what, limit)
    if not cleaned:
        raise InvalidInput(f"{what} is empty")
    return cleaned


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be a JSON object")
    return value


def alertmanager(doc: Any, label: str = "model") -> list[Notified]:
    """The alerts of one Alertmanager notification, each naming its model by `label`."""
    doc = _object(doc, "the notification")
    if str(doc.get("version")) != "4":
        raise InvalidInput(
            f"not an Alertmanager webhook (version 4): version is {doc.get('version')!r}"
        )
    alerts = doc.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise InvalidInput("the notification has no alerts")
    if len(alerts) > MAX_ALERTS:
        raise InvalidInput(f"too many alerts in one notification ({len(alerts)}; at most 1000)")
    out = []
    for i, raw in enumerate(alerts, 1):
        where = f"alert {i}"
        alert = _object(raw, where)
        labels = _object(alert.get("labels"), f"{where}'s labels")
        annotations = _object(alert.get("annotations") or {}, f"{where}'s annotations")
        if label not in labels:
            raise InvalidInput(f"{where} has no {label!r} label naming its model")
        model = domain.validate_model_name(labels[label])
        status = alert.get("status")
        if status not in ("firing", "resolved"):
            raise InvalidInput(f"{where}'s status is {status!r}, not firing or resolved")
        fingerprint = _text(alert.get("fingerprint"), f"{where}'s fingerprint", MAX_LABEL)
        name = _text(labels.get("alertname", "alert"), f"{where}'s alertname", MAX_LABEL)
        detail = ""
        for key in ("summary", "description"):
            if isinstance(annotations.get(key), str) and annotations[key].strip():
                detail = _text(annotations[key], f"{where}'s {key}", MAX_DETAIL)
                break
        value = annotations.get("value")
        number: float | None = None
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            try:
                number = float(value)
            except ValueError:
                number = None
            if number is not None and not math.isfinite(number):  # NaN, ±Inf: no value
                number = None
        drift = labels.get("on_drift") != "alert"  # the rule's own say: alert, never move
        out.append(Notified(model, name, status == "firing", fingerprint, detail, number, drift))
    return out


#: what each kind of CI record takes: field -> (type, required)
CI_FIELDS: dict[str, dict[str, tuple[type | tuple[type, ...], bool]]] = {
    "build": {"commit": (str, True), "image": (str, True), "failed": (bool, False)},
    "test": {"version": (int, True), "passed": (bool, True), "junit": (str, False)},
    "deploy": {"version": (int, True), "failed": (bool, False)},
}


def ci(doc: Any) -> tuple[str, str, dict[str, Any]]:
    """(kind, model, the record use case's keyword arguments) of one CI report."""
    doc = _object(doc, "the report")
    kind = doc.get("record")
    if kind not in CI_FIELDS:
        raise InvalidInput(f"'record' must be one of build, test, deploy, not {kind!r}")
    fields = CI_FIELDS[kind]
    allowed = {"record", "model", "url", *fields}
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise InvalidInput(
            f"unknown field {unknown[0]!r} for a {kind} record: it takes "
            + ", ".join(sorted(allowed - {"record"}))
        )
    model = domain.validate_model_name(_text(doc.get("model"), "'model'", 64))
    args: dict[str, Any] = {}
    for name, (kind_of, required) in fields.items():
        if name not in doc:
            if required:
                raise InvalidInput(f"a {kind} record needs {name!r}")
            continue
        value = doc[name]
        # JSON's true is a Python bool, and a bool is an int: keep them apart
        if (kind_of is int and isinstance(value, bool)) or not isinstance(value, kind_of):
            raise InvalidInput(f"{name!r} must be {_type_name(kind_of)}")
        args[name] = value
    if "junit" in args:
        args["junit"] = args["junit"].encode()
    if doc.get("url") is not None:
        args["url"] = _text(doc["url"], "'url'", 2000)
    return kind, model, args


def _type_name(kind_of: type | tuple[type, ...]) -> str:
    return {str: "text", int: "a whole number", bool: "true or false"}.get(
        kind_of if isinstance(kind_of, type) else str, "text"
    )
