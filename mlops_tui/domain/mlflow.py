"""The bridge to an MLflow Model Registry: what a model here is there, and back.

A model imported from MLflow, or linked to it, keeps a link to one registered model on one
tracking server. Its versions that came from MLflow remember the MLflow version they are,
with the training run's author and final metrics; a version built here maps to one when its
data reference is `models:/NAME/N`. After a deployment here, the link's alias is set on the
MLflow version through an outbox of pushes, so MLflow being down never fails a deploy.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlops_tui.domain.validation import MODEL_NAME_RE
from mlops_tui.errors import InvalidInput

#: a model came in from MLflow: its registered model, and the production version it took
MLFLOW_IMPORTED = "mlflow.imported"
#: a version came in from MLflow (it becomes the model's candidate)
MLFLOW_VERSION = "mlflow.version"
#: an alias points somewhere else in MLflow than when it was last seen
MLFLOW_ALIAS_MOVED = "mlflow.alias_moved"
#: a deployment here set the link's alias there
MLFLOW_ALIAS_SET = "mlflow.alias_set"
MLFLOW_LINKED = "mlflow.linked"
MLFLOW_UNLINKED = "mlflow.unlinked"

#: the alias that names production in MLflow, unless told otherwise
DEFAULT_ALIAS = "production"
#: MLflow's own rule for alias names, and the two it reserves
_ALIAS_RE = re.compile(r"[A-Za-z0-9_-]{1,255}")
_RESERVED_ALIAS = re.compile(r"(latest|v\d+)", re.IGNORECASE)
#: what a data reference that names an MLflow model version looks like
_MODELS_URI = re.compile(r"models:/(?P<name>[^/@]+)/(?P<version>\d+)")


class PushStatus:
    PENDING = "pending"  # waiting for MLflow (retried with backoff)
    DONE = "done"
    FAILED = "failed"  # it cannot succeed as it is (no such version there): not retried
    SUPERSEDED = "superseded"  # a later deployment's push replaced it before it went out


@dataclass(frozen=True, slots=True)
class MlflowLink:
    """One model here, kept in step with one registered model there."""

    model: str
    tracking_uri: str
    registered_model: str
    #: set on the deployed version after each deployment here (None: never pushed)
    alias: str | None
    #: every alias of the registered model as last seen: alias -> MLflow version
    aliases: dict[str, str]
    #: the registered model's tags as imported
    tags: dict[str, str]
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    #: the newest event already looked at for deployments to push
    cursor: int = 0


@dataclass(frozen=True, slots=True)
class MlflowVersion:
    """A version here that is an MLflow model version there."""

    model: str
    number: int
    registered_model: str
    mlflow_version: str
    run_id: str | None
    #: the training run's author (`mlflow.user`)
    author: str | None
    #: the run's final metrics
    metrics: dict[str, float]
    #: MLflow's (deprecated) stage of it when imported
    stage: str | None
    #: when MLflow registered it
    registered_at: datetime | None


@dataclass(frozen=True, slots=True)
class AliasPush:
    """Setting the link's alias on the version a deployment made production."""

    id: int
    model: str
    #: the deployment's event
    event: int
    version: int
    tracking_uri: str
    registered_model: str
    mlflow_version: str | None
    alias: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_error: str | None
    done_at: datetime | None
    #: who deployed (the push is theirs)
    actor: str


def local_name(mlflow_name: str) -> str | None:
    """The name a registered model takes here, or None when it has none.

    The rule, as the README gives it: accents are dropped (é becomes e), letters are
    lowercased, and every run of other characters than letters, digits, '.', '_' and '-'
    becomes one '-'; leading characters that are not a letter or digit and trailing '-'
    go, and the rest is cut at 64 characters. "Iris Classifier" is iris-classifier.
    """
    text = unicodedata.normalize("NFKD", mlflow_name).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9._-]+", "-", text.lower())
    text = re.sub(r"^[^a-z0-9]+", "", text)[:64].rstrip("-._")
    return text if MODEL_NAME_RE.fullmatch(text) else None


def validate_alias(alias: str) -> str:
    """An MLflow alias: letters, digits, '_' and '-', not `latest` or `vN` (MLflow's own)."""
    alias = alias.strip()
    if not _ALIAS_RE.fullmatch(alias) or _RESERVED_ALIAS.fullmatch(alias):
        raise InvalidInput(
            f"invalid MLflow alias {alias!r}: letters, digits, '_' and '-', "
            "and not 'latest' or 'v' and a number, which MLflow reserves"
        )
    return alias


def validate_registered_model(name: str) -> str:
    """An MLflow registered model's name: any printable text MLflow takes, without '/'s
    at its ends or a ':' (which its model URIs cannot carry)."""
    name = name.strip()
    if not name or len(name) > 256 or ":" in name or not name.isprintable():
        raise InvalidInput(f"invalid MLflow registered model name {name!r}")
    return name


def models_uri(ref: str | None) -> tuple[str, str] | None:
    """(registered model, version) of a `models:/NAME/N` data reference, else None."""
    if not ref:
        return None
    found = _MODELS_URI.fullmatch(ref.strip())
    return (found["name"], found["version"]) if found else None


def plain_text(value: Any, limit: int) -> str:
    """MLflow's free text as this tool keeps it: no control characters but newlines and
    tabs (descriptions come with Windows line ends), and at most `limit` characters."""
    if not isinstance(value, str):
        return ""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c)[0] != "C")
    return text.strip()[:limit]


def describe(kind: str, d: dict[str, Any]) -> str:
    """One line for the bridge's events in the history."""
    rm = repr(d.get("registered_model"))
    if kind == MLFLOW_IMPORTED:
        text = f"imported from MLflow's {rm} ({d.get('versions')} versions)"
        if d.get("production_version") is not None:
            text += f", production v{d['production_version']} ({d.get('production_from')})"
        return text
    if kind == MLFLOW_VERSION:
        text = f"v{d.get('version')} from MLflow's {rm} version {d.get('mlflow_version')}"
        if d.get("author"):
            text += f" by {d['author']}"
        return text + (f", run {str(d['run_id'])[:12]}" if d.get("run_id") else "")
    if kind == MLFLOW_ALIAS_MOVED:
        before, after = d.get("version_from"), d.get("version_to")
        shown_before = f"v{before}" if before is not None else d.get("from") or "none"
        shown_after = f"v{after}" if after is not None else d.get("to") or "removed"
        return f"@{d.get('alias')} moved in MLflow: {shown_before} → {shown_after}"
    if kind == MLFLOW_ALIAS_SET:
        by = f" (pushed by {d['pushed_by']})" if d.get("pushed_by") else ""
        return (
            f"set @{d.get('alias')} on MLflow's {rm} version {d.get('mlflow_version')} "
            f"(v{d.get('version')}){by}"
        )
    if kind == MLFLOW_LINKED:
        return f"linked to MLflow's {rm} on {d.get('tracking_uri')}: deploys set @{d.get('alias')}"
    if kind == MLFLOW_UNLINKED:
        return f"unlinked from MLflow's {rm}"
    return ", ".join(f"{k}={v}" for k, v in d.items())
