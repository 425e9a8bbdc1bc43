"""An MLflow Model Registry, read and written in this tool's terms and errors.

Two ways in, one contract (`Registry`): a tracking server over its REST API 2.0 with the
standard library only (`RestRegistry`), so `mlops` needs no MLflow install to follow a
team's server; and a sqlite:// or postgresql:// tracking database through mlflow-skinny's
own client (`LocalRegistry`), imported only when such a URI is opened, because MLflow's
import costs about a second and its schema is MLflow's business, not ours.

What the two backends disagree on is settled here, once: the local client gives versions as
ints and a version without a run as None where REST gives digits and "", and a search of
versions carries no aliases (only the registered model has them). Every failure comes out as
one line a person can act on, never a traceback and never a credential: credentials are read
from the environment at call time (as MLflow's own client does) and are never part of a URI.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import logging
import os
import re
import socket
import sqlite3
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any, Self, TypeVar

from mlops_tui.errors import InvalidInput, MlopsError, NotFound, RegistryUnreachable

T = TypeVar("T")
R = TypeVar("R")

#: What a URI may be at most: longer is a paste gone wrong, not a server.
MAX_URI = 1000
#: Concurrent requests: enough to hide a round trip, few enough not to hammer a team's server
#: (its default is 4 workers).
THREADS = 8
#: Registered models and versions per page; MLflow refuses more than 1000 models a page.
PAGE_SIZE = 1000
#: Up to this many names, `registered_models(names)` searches each; more, it lists them all
#: (a page holds 1000) and picks: fewer requests either way.
NAMED_SEARCHES = 20
#: Run ids per runs/search request: short enough a filter for any server to parse.
RUN_BATCH = 100
#: the waits before a request that met a server error (5xx) is tried again
RETRY_WAITS = (0.2, 0.6)
#: What a run id looks like (MLflow makes 32 hex digits): anything else is not put in a filter.
_RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: How much of an error body is read: enough for MLflow's JSON message, not a whole page.
ERROR_BODY = 64 * 1024

NEEDS_EXTRA = (
    "reading a sqlite:// or postgresql:// MLflow registry needs the mlflow extra: "
    "pip install 'mlops-tui[mlflow]'"
)
HTTP_CREDENTIALS = (
    "credentials come from MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, "
    "or MLFLOW_TRACKING_TOKEN"
)
PG_CREDENTIALS = "the password comes from PGPASSWORD or ~/.pgpass"


# -- what the registry holds -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    name: str
    description: str  # "" when none
    tags: dict[str, str]
    aliases: dict[str, str]  # alias -> version, digits as MLflow gives them over REST
    created_ms: int | None  # creation_timestamp, ms since the epoch


@dataclass(frozen=True, slots=True)
class ModelVersion:
    name: str  # the registered model's
    version: str  # "1", "2"...
    source: str  # the artifact/source URI, "" when none
    run_id: str | None  # None when the version has no run
    stage: str  # the deprecated current_stage: "None", "Staging", "Production", "Archived"
    description: str
    user_id: str | None  # None when MLflow has none (usually)
    created_ms: int
    tags: dict[str, str]
    status: str  # READY, PENDING_REGISTRATION, FAILED_REGISTRATION ("" when not given)


@dataclass(frozen=True, slots=True)
class Run:
    run_id: str
    params: dict[str, str]
    metrics: dict[str, float]  # each metric's latest value (highest step, then newest)
    tags: dict[str, str]  # mlflow.user is the author, mlflow.source.git.commit the commit


class Registry(ABC):
    """An MLflow Model Registry. Every method raises RegistryUnreachable when the registry
    cannot be read or written (one line, exit code 4), InvalidInput when MLflow refuses a
    value (a reserved alias name), NotFound where it says so."""

    #: The tracking URI as validated: safe to print, it never holds a credential.
    uri: str

    @abstractmethod
    def registered_models(self, names: Sequence[str] | None = None) -> list[RegisteredModel]:
        """Every registered model (all pages), sorted by name; with `names`, only those,
        and a name MLflow does not have is left out rather than refused. Prompts, which
        MLflow keeps as registered models too, are never among them."""

    @abstractmethod
    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of one registered model, sorted by number. Their aliases are in
        `RegisteredModel.aliases`: MLflow's version search does not give them. Raises
        NotFound when there is no registered model of that name."""

    def all_versions(self, names: Sequence[str]) -> dict[str, list[ModelVersion]]:
        """Every version of each of these registered models (as `versions`), by name; a
        name MLflow does not have has none. Many names are read in one search."""
        found: dict[str, list[ModelVersion]] = {}
        for name in names:
            found[name] = []
            with contextlib.suppress(NotFound):
                found[name] = self.versions(name)
        return found

    @abstractmethod
    def runs(self, run_ids: Iterable[str]) -> dict[str, Run]:
        """The runs by id. A run that is deleted or was never there is left out: a version
        outlives its run, which is no reason to refuse the others."""

    @abstractmethod
    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point `alias` at `version`, moving it from any other version. Raises NotFound
        when the model or version does not exist, InvalidInput for a name MLflow reserves
        ("latest", "v1"...) or refuses."""

    @abstractmethod
    def close(self) -> None:
        """Let go of connections; the registry is not used after."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri!r})"


# -- the URI -------------------------------------------------------------------------------


def validate_tracking_uri(uri: str) -> str:
    """The URI, checked and normalised, or InvalidInput saying what is wrong with it in one
    line. A credential in a URI ends up in shell history, config files and process lists, so
    any is refused with where it belongs instead; the refusal never repeats the URI."""
    uri = uri.strip()
    if not uri:
        raise InvalidInput("the MLflow tracking URI is empty")
    if len(uri) > MAX_URI:
        raise InvalidInput(f"the MLflow tracking URI is {len(uri)} characters: at most {MAX_URI}")
    if any(ord(c) < 32 or ord(c) == 127 for c in uri):
        raise InvalidInput("the MLflow tracking URI holds a control character")
    scheme, sep, _ = uri.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise InvalidInput(
            "not an MLflow tracking URI: use http(s)://HOST[:PORT], "
            "sqlite:///PATH or postgresql://HOST/DATABASE"
        )
    if scheme in ("http", "https"):
        return _http_uri(uri)
    if scheme == "sqlite":
        return _sqlite_uri(uri)
    if scheme == "postgresql" or scheme.startswith("postgresql+"):
        return _postgresql_uri(uri, scheme)
    shown = scheme if len(scheme) <= 30 and scheme.replace("+", "").isalnum() else "?"
    raise InvalidInput(
        f"unsupported MLflow tracking URI scheme {shown!r}: "
        "use http(s)://, sqlite:/// or postgresql://"
    )


def _split(uri: str) -> urllib.parse.SplitResult:
    try:
        parts = urllib.parse.urlsplit(uri)
        parts.port  # noqa: B018  (raises ValueError on a port that is not a number)
    except ValueError as exc:
        raise InvalidInput(f"the MLflow tracking URI is malformed: {exc}") from None
    return parts


def _http_uri(uri: str) -> str:
    parts = _split(uri)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidInput(f"the MLflow tracking URI must not hold credentials: {HTTP_CREDENTIALS}")
    if not parts.hostname:
        raise InvalidInput("the MLflow tracking URL has no host")
    if parts.query or parts.fragment:
        raise InvalidInput("the MLflow tracking URL must have no ?query or #fragment")
    return urllib.parse.urlunsplit(
        (parts.scheme.lower(), parts.netloc, parts.path.rstrip("/"), "", "")
    )


def _sqlite_uri(uri: str) -> str:
    rest = uri[len("sqlite://") :]
    if not rest.startswith("/"):
        raise InvalidInput(
            "a sqlite MLflow tracking URI is sqlite:///relative/path or sqlite:////absolute/path"
        )
    path = rest[1:]
    if not path:
        raise InvalidInput("the sqlite MLflow tracking URI names no file")
    if "?" in path or "#" in path:
        raise InvalidInput("the sqlite MLflow tracking URI must have no ?query or #fragment")
    path = os.path.abspath(os.path.expanduser(path))
    return f"sqlite:///{path}"


def _postgresql_uri(uri: str, scheme: str) -> str:
    driver = scheme.partition("+")[2]
    if scheme.startswith("postgresql+") and not (driver.isascii() and driver.isidentifier()):
        raise InvalidInput("the postgresql MLflow tracking URI names an odd driver")
    parts = _split(uri)
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    if parts.password is not None or "password" in {k.lower() for k in query}:
        raise InvalidInput(
            f"the MLflow tracking URI must not hold a password: {PG_CREDENTIALS} "
            "(a user name in it is fine)"
        )
    if not parts.path.strip("/"):
        raise InvalidInput("the postgresql MLflow tracking URI names no database")
    return scheme + uri[len(scheme) :]


def open_registry(uri: str, *, timeout: float = 10.0) -> Registry:
    """The registry at `uri` (validated first): http(s) over REST, sqlite and postgresql
    through mlflow-skinny. Raises InvalidInput for a bad URI or a missing mlflow extra,
    RegistryUnreachable when the registry cannot be opened."""
    uri = validate_tracking_uri(uri)
    if uri.startswith(("http://", "https://")):
        return RestRegistry(uri, timeout=timeout)
    return LocalRegistry(uri, timeout=timeout)


# -- shared by both backends ---------------------------------------------------------------


def name_filter(name: str) -> tuple[str, bool]:
    """A search filter for one model name, and whether it matches only that name.

    MLflow's filter parser takes a quoted value verbatim: it has no escape, neither '' nor
    \\', so a name is quoted with the quote it does not contain. A name holding both, or a
    backslash (which the parser reads as an escape), gets a LIKE with those characters as
    one-character wildcards, and the caller keeps only the exact name from what it finds."""
    if "\\" not in name:
        if "'" not in name:
            return f"name = '{name}'", True
        if '"' not in name:
            return f'name = "{name}"', True
    pattern = "".join("_" if c in "'\"\\" else c for c in name)
    return f"name LIKE '{pattern}'", False


def _one_line(text: object, limit: int = 300) -> str:
    """The first line of an error text, cut to fit a terminal line or a notification."""
    lines = str(text).strip().splitlines()
    first = " ".join(lines[0].split()) if lines else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"


def _sorted_models(models: Iterable[RegisteredModel]) -> list[RegisteredModel]:
    return sorted(models, key=lambda m: m.name)


def _version_key(version: ModelVersion) -> tuple[int, str]:
    return (int(version.version), "") if version.version.isdigit() else (0, version.version)


def _pooled(
    function: Callable[[T], R], items: Sequence[T], threads: int = THREADS
) -> list[tuple[T, R]]:
    """`function` over `items` on a few threads, in their order. The first failure cancels
    what has not started and is raised, so a server that went away costs one timeout, not
    one per item."""
    if len(items) <= 1:
        return [(item, function(item)) for item in items]
    with ThreadPoolExecutor(max_workers=min(threads, len(items))) as pool:
        futures = [pool.submit(function, item) for item in items]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in done:
            error = future.exception()
            if error is not None:
                for other in futures:
                    other.cancel()
                raise error
        return [(item, future.result()) for item, future in zip(items, futures, strict=True)]


# -- over REST: the standard library only --------------------------------------------------


class _HttpFailure(Exception):
    """An HTTP answer that was not 2xx: its status, MLflow's error code and message."""

    def __init__(self, status: int, code: str, message: str, body: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.body = status, code, message, body


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")


def _authorization() -> str | None:
    """MLflow's own order: a token first, else a user name and password."""
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return f"Bearer {token}"
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    password = os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if user and password:
        pair = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        return f"Basic {pair}"
    return None


class RestRegistry(Registry):
    """A tracking server through its REST API 2.0 (urllib: no MLflow, no requests).

    `page_size` is the page the searches ask for (tests make it small to cross pages);
    `threads` bounds the concurrent requests (a few names' searches, runs by batches)."""

    def __init__(
        self,
        uri: str,
        *,
        timeout: float = 10.0,
        page_size: int = PAGE_SIZE,
        threads: int = THREADS,
    ) -> None:
        self.uri = validate_tracking_uri(uri)
        if not self.uri.startswith(("http://", "https://")):
            raise InvalidInput("a REST MLflow registry needs an http:// or https:// URI")
        self.timeout = timeout
        self.page_size = max(1, min(page_size, PAGE_SIZE))
        self.threads = max(1, threads)
        self._tls: dict[tuple[bool, str], ssl.SSLContext] = {}
        self._tls_lock = threading.Lock()

    # the contract

    def registered_models(self, names: Sequence[str] | None = None) -> list[RegisteredModel]:
        wanted = sorted(set(names or ()))
        if names is None or len(wanted) > NAMED_SEARCHES:
            every = _sorted_models(self._search_models(None))
            return every if names is None else [m for m in every if m.name in set(wanted)]
        found: list[RegisteredModel] = []
        for _, models in _pooled(self._models_named, wanted, self.threads):
            found += models
        return _sorted_models(found)

    def versions(self, name: str) -> list[ModelVersion]:
        filter_string, _ = name_filter(name)
        found: list[ModelVersion] = []
        path = "model-versions/search"
        for page in self._pages(path, "model_versions", {"filter": filter_string}):
            with self._shaped(path):
                found += [_rest_version(v) for v in page if v.get("name") == name]
        if not found and not self._models_named(name):
            raise NotFound(f"MLflow has no registered model named {name!r}")
        return sorted(found, key=_version_key)

    def all_versions(self, names: Sequence[str]) -> dict[str, list[ModelVersion]]:
        """A whole registry's versions in one paged search (a thousand versions a request)
        rather than one search a model: 5,000 versions in 0.6 s instead of 8."""
        wanted = set(names)
        if len(wanted) <= NAMED_SEARCHES:
            pairs = _pooled(self._versions_or_none, sorted(wanted), self.threads)
            return {name: found or [] for name, found in pairs}
        every: dict[str, list[ModelVersion]] = {name: [] for name in wanted}
        path = "model-versions/search"
        for page in self._pages(path, "model_versions", {}):
            with self._shaped(path):
                for item in page:
                    if item.get("name") in wanted:
                        every[str(item["name"])].append(_rest_version(item))
        return {name: sorted(found, key=_version_key) for name, found in every.items()}

    def _versions_or_none(self, name: str) -> list[ModelVersion] | None:
        try:
            return self.versions(name)
        except NotFound:
            return None

    def runs(self, run_ids: Iterable[str]) -> dict[str, Run]:
        """runs/search by batches of ids: MLflow answers a runs/get in ~15 ms and a search
        of 100 runs in ~90 ms, so a thousand runs take one second instead of fifteen. A
        search needs experiment ids, hence one experiments/search first. An id that cannot
        be put in a filter, or a server whose search refuses `run_id IN`, falls back to one
        runs/get a run."""
        ids = sorted({r for r in run_ids if r})
        if not ids:
            return {}
        plain = [r for r in ids if _RUN_ID.fullmatch(r)]
        odd = [r for r in ids if not _RUN_ID.fullmatch(r)]
        found: list[Run | None] = []
        if plain:
            experiments = self._experiment_ids()
            batches = [plain[i : i + RUN_BATCH] for i in range(0, len(plain), RUN_BATCH)]
            try:
                # One search at a time: MLflow parses the id list with ast.literal_eval, which
                # fails now and then under concurrent requests on CPython 3.11 (HTTP 500
                # "AST constructor recursion depth mismatch"), and running them together
                # saved only a tenth of the time.
                for batch in batches:
                    found += self._search_runs(experiments, batch)
            except InvalidInput:
                odd = ids
        found += [run for _, run in _pooled(self._run, odd, self.threads)]
        asked = set(ids)
        return {run.run_id: run for run in found if run is not None and run.run_id in asked}

    def set_alias(self, name: str, alias: str, version: str) -> None:
        try:
            self._call(
                "POST",
                "registered-models/alias",
                body={"name": name, "alias": alias, "version": str(version)},
            )
        except NotFound:
            raise NotFound(
                f"MLflow has no version {version} of a registered model named {name!r}"
            ) from None

    def close(self) -> None:
        """Nothing is kept open: every request has its own connection."""

    # the requests

    def _models_named(self, name: str) -> list[RegisteredModel]:
        filter_string, _ = name_filter(name)
        return [m for m in self._search_models(filter_string) if m.name == name]

    def _search_models(self, filter_string: str | None) -> list[RegisteredModel]:
        params = {} if filter_string is None else {"filter": filter_string}
        path = "registered-models/search"
        found: list[RegisteredModel] = []
        for page in self._pages(path, "registered_models", params):
            with self._shaped(path):
                found += [_rest_model(m) for m in page]
        return found

    def _pages(self, path: str, key: str, params: dict[str, str]) -> Iterator[list[dict[str, Any]]]:
        """Each page's items, following next_page_token (MLflow leaves out the key and the
        token alike when there is nothing: `{}` is an empty last page)."""
        token = ""
        seen: set[str] = set()
        while True:
            query = {**params, "max_results": str(self.page_size)}
            if token:
                query["page_token"] = token
            doc = self._call("GET", path, query)
            items = doc.get(key) or []
            if not isinstance(items, list):
                raise self._not_mlflow(f"its {path} answer has no list of {key}")
            yield items
            token = str(doc.get("next_page_token") or "")
            if not token or token in seen:  # a server that loops would never end
                return
            seen.add(token)

    def _run(self, run_id: str) -> Run | None:
        try:
            doc = self._call("GET", "runs/get", {"run_id": run_id})
        except (NotFound, InvalidInput):  # gone, or an id that cannot be one
            return None
        with self._shaped("runs/get"):
            return _rest_run(doc.get("run"))

    def _experiment_ids(self) -> list[str]:
        """Every experiment's id, deleted ones too: a run is looked for wherever it is (a
        deleted run is left out by the run search itself)."""
        ids: list[str] = []
        token = ""
        while True:
            body: dict[str, object] = {"max_results": PAGE_SIZE, "view_type": "ALL"}
            if token:
                body["page_token"] = token
            doc = self._call("POST", "experiments/search", body=body)
            with self._shaped("experiments/search"):
                ids += [str(e["experiment_id"]) for e in doc.get("experiments") or []]
            token = str(doc.get("next_page_token") or "")
            if not token:
                return ids

    def _search_runs(self, experiments: list[str], batch: list[str]) -> list[Run | None]:
        quoted = ", ".join(f"'{r}'" for r in batch)
        found: list[Run | None] = []
        token = ""
        while experiments:
            body: dict[str, object] = {
                "experiment_ids": experiments,
                "filter": f"attributes.run_id IN ({quoted})",
                "run_view_type": "ACTIVE_ONLY",
                "max_results": len(batch),
            }
            if token:
                body["page_token"] = token
            doc = self._call("POST", "runs/search", body=body)
            with self._shaped("runs/search"):
                found += [_rest_run(run) for run in doc.get("runs") or []]
            token = str(doc.get("next_page_token") or "")
            if not token:
                break
        return found

    def _call(
        self, method: str, path: str, params: dict[str, str] | None = None, body: object = None
    ) -> dict[str, Any]:
        """One request's JSON object, or this tool's error for whatever went wrong. A server
        error (5xx) is tried again, twice, after a short wait: every request here reads, or
        sets an alias to a value, so repeating one changes nothing more."""
        for wait_for in (*RETRY_WAITS, None):
            try:
                return self._request(method, path, params, body)
            except _HttpFailure as failure:
                if failure.status < 500 or wait_for is None:
                    raise self._refused(failure, path) from None
            time.sleep(wait_for)
        raise AssertionError("unreachable")

    def _request(
        self, method: str, path: str, params: dict[str, str] | None, body: object
    ) -> dict[str, Any]:
        url = f"{self.uri}/api/2.0/mlflow/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        request.add_header("User-Agent", "mlops-tui")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        authorization = _authorization()
        if authorization:
            # unredirected: a redirect to another host must not carry the credentials along
            request.add_unredirected_header("Authorization", authorization)
        try:
            with urllib.request.urlopen(
                request, timeout=self.timeout, context=self._tls_context()
            ) as response:
                raw = response.read()
                content_type = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            text = _read_text(exc)
            exc.close()
            raise _failure(exc.code, text) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
            raise self._unreachable(exc) from None
        try:
            doc = json.loads(raw or b"{}")
        except ValueError:
            kind = "HTML" if "html" in content_type.lower() else "something other than JSON"
            raise self._not_mlflow(f"it answered {kind} on /api/2.0/mlflow/{path}") from None
        if not isinstance(doc, dict):
            raise self._not_mlflow(f"its answer on /api/2.0/mlflow/{path} is not a JSON object")
        return doc

    def _tls_context(self) -> ssl.SSLContext | None:
        """The context for https (one per setting: building one reads the CA bundle), from
        MLflow's own variables: MLFLOW_TRACKING_INSECURE_TLS, MLFLOW_TRACKING_SERVER_CERT_PATH."""
        if not self.uri.startswith("https://"):
            return None
        key = (
            _env_true("MLFLOW_TRACKING_INSECURE_TLS"),
            os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH", ""),
        )
        with self._tls_lock:
            context = self._tls.get(key)
            if context is None:
                insecure, ca_file = key
                if insecure:
                    context = ssl.create_default_context()
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                else:
                    try:
                        context = ssl.create_default_context(cafile=ca_file or None)
                    except (OSError, ssl.SSLError) as exc:
                        raise RegistryUnreachable(
                            "cannot read MLFLOW_TRACKING_SERVER_CERT_PATH "
                            f"({ca_file}): {_one_line(exc)}"
                        ) from None
                self._tls[key] = context
            return context

    # the errors

    @contextlib.contextmanager
    def _shaped(self, path: str) -> Iterator[None]:
        """JSON that is not shaped as MLflow's (a key missing, a list where an object
        should be) is a server that is not MLflow, not a bug of ours."""
        try:
            yield
        except (KeyError, TypeError, ValueError, AttributeError):
            raise self._not_mlflow(
                f"its answer on /api/2.0/mlflow/{path} is not MLflow's"
            ) from None

    def _not_mlflow(self, why: str) -> RegistryUnreachable:
        return RegistryUnreachable(f"{self.uri} is not an MLflow tracking server: {why}")

    def _unreachable(self, exc: BaseException) -> RegistryUnreachable:
        reason: object = getattr(exc, "reason", exc)
        where = f"MLflow at {self.uri}"
        host = urllib.parse.urlsplit(self.uri).hostname or self.uri
        if isinstance(reason, ConnectionRefusedError):
            why = f"cannot reach {where}: connection refused (is the server running?)"
        elif isinstance(reason, socket.gaierror):
            why = f"cannot reach {where}: host name {host!r} not found"
        elif isinstance(reason, TimeoutError):
            why = f"{where} did not answer within {self.timeout:g} s"
        elif isinstance(reason, ssl.SSLCertVerificationError):
            why = (
                f"{where}: its TLS certificate is not trusted "
                f"({_one_line(reason.verify_message or reason)}); give its CA in "
                "MLFLOW_TRACKING_SERVER_CERT_PATH, or set MLFLOW_TRACKING_INSECURE_TLS=true"
            )
        elif isinstance(reason, ssl.SSLError):
            why = f"TLS with {where} failed: {_one_line(reason.reason or reason)}"
        elif isinstance(reason, ConnectionError | http.client.HTTPException):
            why = f"{where} closed the connection or does not speak HTTP ({_name(reason)})"
            if self.uri.startswith("http://"):
                why += ": is it https://?"
        elif isinstance(reason, OSError) and reason.strerror:
            why = f"cannot reach {where}: {_one_line(reason.strerror)}"
        else:
            why = f"cannot reach {where}: {_one_line(reason) or _name(reason)}"
        return RegistryUnreachable(why)

    def _refused(self, failure: _HttpFailure, path: str) -> MlopsError:
        where = f"MLflow at {self.uri}"
        said = f": {_one_line(failure.message)}" if failure.message else ""
        if failure.status == 401:
            if _authorization() is None:
                return RegistryUnreachable(
                    f"{where} asks for credentials (HTTP 401): {HTTP_CREDENTIALS}"
                )
            return RegistryUnreachable(
                f"{where} refused the credentials (HTTP 401): {HTTP_CREDENTIALS}"
            )
        if failure.status == 403:
            if failure.body.startswith("Invalid Host header"):
                host = urllib.parse.urlsplit(self.uri).netloc
                return RegistryUnreachable(
                    f"{where} refuses requests for host {host!r} (HTTP 403): "
                    "the server must allow that host name",
                    cli="start it with --allowed-hosts naming it",
                )
            said = said or (f": {_one_line(failure.body, 80)}" if failure.body.strip() else "")
            return RegistryUnreachable(
                f"{where} refused the credentials (HTTP 403{said}): {HTTP_CREDENTIALS}"
            )
        if failure.code == "RESOURCE_DOES_NOT_EXIST":
            return NotFound(f"MLflow{said or ': not found'}")
        if failure.code == "INVALID_PARAMETER_VALUE":
            return InvalidInput(f"MLflow refused the request{said}")
        if not failure.code:
            if failure.status in (404, 405):
                return self._not_mlflow(f"HTTP {failure.status} on /api/2.0/mlflow/{path}")
            return RegistryUnreachable(f"{where} answered HTTP {failure.status}")
        return RegistryUnreachable(f"{where} failed: HTTP {failure.status} {failure.code}{said}")


def _read_text(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read(ERROR_BODY).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException, ValueError):
        return ""


def _failure(status: int, text: str) -> _HttpFailure:
    """MLflow answers its errors as {"error_code", "message"}; anything else is not MLflow."""
    code = message = ""
    with contextlib.suppress(ValueError):
        doc = json.loads(text)
        if isinstance(doc, dict) and isinstance(doc.get("error_code"), str):
            code, message = doc["error_code"], str(doc.get("message") or "")
    return _HttpFailure(status, code, message, text)


def _name(exc: object) -> str:
    return type(exc).__name__


def _pairs(items: object) -> dict[str, str]:
    """MLflow's [{"key": k, "value": v}] lists (tags, params) as a dict."""
    if not isinstance(items, list):
        return {}
    return {str(i["key"]): str(i.get("value", "")) for i in items if "key" in i}


def _rest_run(doc: object) -> Run | None:
    """A run as runs/get and runs/search give it; None when it is deleted."""
    if not isinstance(doc, dict):
        return None
    info = doc.get("info") or {}
    run_id = str(info.get("run_id") or info.get("run_uuid") or "")
    if not run_id or info.get("lifecycle_stage") == "deleted":
        return None
    data = doc.get("data") or {}
    return Run(
        run_id=run_id,
        params=_pairs(data.get("params")),
        metrics={
            str(m["key"]): float(m["value"])
            for m in data.get("metrics") or []
            if "key" in m and "value" in m
        },
        tags=_pairs(data.get("tags")),
    )


def _ms(value: object) -> int | None:
    """A timestamp as JSON gives it (a number, or a string of digits for an int64)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str | float):
        with contextlib.suppress(ValueError, OverflowError):
            return int(value)
    return None


def _rest_model(doc: dict[str, Any]) -> RegisteredModel:
    return RegisteredModel(
        name=str(doc["name"]),
        description=str(doc.get("description") or ""),
        tags=_pairs(doc.get("tags")),
        aliases={
            str(a["alias"]): str(a["version"])
            for a in doc.get("aliases") or []
            if "alias" in a and "version" in a
        },
        created_ms=_ms(doc.get("creation_timestamp")),
    )


def _rest_version(doc: dict[str, Any]) -> ModelVersion:
    return ModelVersion(
        name=str(doc["name"]),
        version=str(doc["version"]),
        source=str(doc.get("source") or ""),
        run_id=str(doc.get("run_id") or "") or None,
        stage=str(doc.get("current_stage") or "None"),
        description=str(doc.get("description") or ""),
        user_id=str(doc.get("user_id") or "") or None,
        created_ms=_ms(doc.get("creation_timestamp")) or 0,
        tags=_pairs(doc.get("tags")),
        status=str(doc.get("status") or ""),
    )


# -- a tracking database, through mlflow-skinny --------------------------------------------

#: The loggers MLflow configures to write on stderr: it logs its migrations, its retries and
#: whole tracebacks there, and a CLI prints only its own lines.
_MLFLOW_LOGGERS = ("mlflow", "alembic", "sqlalchemy.engine", "huey")
#: The modules whose warnings (SQLAlchemy's deprecations in MLflow's models, pydantic's...)
#: are MLflow's business: a filter by module, set once, since `warnings.catch_warnings` is
#: not thread-safe and registries are used from the TUI's worker threads.
_MLFLOW_MODULES = r"(mlflow|sqlalchemy|alembic|pydantic|google\.protobuf)(\.|$)"


def _import_mlflow() -> Any:
    """mlflow's client module, imported the first time a local registry is opened, quiet
    and never phoning home (MLflow sends usage telemetry unless told not to)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    warnings.filterwarnings("ignore", module=_MLFLOW_MODULES)
    try:
        import mlflow.tracking
        import sqlalchemy  # noqa: F401  (mlflow's SQL stores need it: say so now)
    except ImportError:
        raise InvalidInput(NEEDS_EXTRA) from None
    for name in _MLFLOW_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = [logging.NullHandler()]
        logger.propagate = False
        logger.setLevel(logging.CRITICAL)
    return mlflow.tracking


class LocalRegistry(Registry):
    """A tracking database (sqlite:// or postgresql://) through mlflow-skinny's MlflowClient.

    Opening it never creates or migrates anything: MLflow would make a fresh registry of a
    mistyped path, and migrate an older database in place, so a file that is not there, a
    database without MLflow's tables or at another schema revision is refused first.
    `page_size` is the page its searches ask for (tests make it small to cross pages)."""

    def __init__(self, uri: str, *, timeout: float = 10.0, page_size: int = PAGE_SIZE) -> None:
        self.uri = validate_tracking_uri(uri)
        if not self.uri.startswith(("sqlite:", "postgresql")):
            raise InvalidInput("a local MLflow registry needs a sqlite:// or postgresql:// URI")
        self.timeout = timeout
        self.page_size = max(1, min(page_size, PAGE_SIZE))
        tracking = _import_mlflow()
        self._mlflow_exception: type[Exception] = _mlflow_exception_class()
        from mlflow.entities import ViewType

        self._view_type: Any = ViewType
        self._db_uri = self._database_uri()
        self._check_database()
        try:
            self._client: Any = tracking.MlflowClient(
                tracking_uri=self._db_uri, registry_uri=self._db_uri
            )
            # both stores open now (MLflow opens them on first use), so that a failure to
            # open is this constructor's, not the first read's
            self._client.search_experiments(max_results=1)
            self._client.search_registered_models(max_results=1)
        except Exception as exc:
            raise self._error(exc) from None

    # the contract

    def registered_models(self, names: Sequence[str] | None = None) -> list[RegisteredModel]:
        wanted = sorted(set(names or ()))
        if names is None or len(wanted) > NAMED_SEARCHES:
            every = _sorted_models(self._search_models(None))
            return every if names is None else [m for m in every if m.name in set(wanted)]
        found: list[RegisteredModel] = []
        for name in wanted:
            found += [m for m in self._search_models(name_filter(name)[0]) if m.name == name]
        return _sorted_models(found)

    def versions(self, name: str) -> list[ModelVersion]:
        filter_string, _ = name_filter(name)
        found = [
            _local_version(v)
            for v in self._paged(self._client.search_model_versions, filter_string=filter_string)
            if v.name == name
        ]
        if not found and not [m for m in self._search_models(filter_string) if m.name == name]:
            raise NotFound(f"MLflow has no registered model named {name!r}")
        return sorted(found, key=_version_key)

    def all_versions(self, names: Sequence[str]) -> dict[str, list[ModelVersion]]:
        wanted = set(names)
        if len(wanted) <= NAMED_SEARCHES:
            return super().all_versions(sorted(wanted))
        every: dict[str, list[ModelVersion]] = {name: [] for name in wanted}
        for v in self._paged(self._client.search_model_versions):
            if v.name in wanted:
                every[v.name].append(_local_version(v))
        return {name: sorted(found, key=_version_key) for name, found in every.items()}

    def runs(self, run_ids: Iterable[str]) -> dict[str, Run]:
        """By batches of ids, as over REST: a search of 100 runs costs about what 3 reads
        of one do (a thousand runs: 0.3 s instead of 4 s on sqlite)."""
        ids = sorted({r for r in run_ids if r})
        if not ids:
            return {}
        plain = [r for r in ids if _RUN_ID.fullmatch(r)]
        found: list[Run | None] = []
        experiments = self._experiment_ids() if plain else []
        for i in range(0, len(plain) if experiments else 0, RUN_BATCH):
            found += self._search_runs(experiments, plain[i : i + RUN_BATCH])
        for run_id in (r for r in ids if not _RUN_ID.fullmatch(r)):
            try:
                found.append(_local_run(self._do(partial(self._client.get_run, run_id))))
            except (NotFound, InvalidInput):
                continue
        asked = set(ids)
        return {run.run_id: run for run in found if run is not None and run.run_id in asked}

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self._do(
            lambda: self._client.set_registered_model_alias(name, alias, str(version)),
            f"version {version} of a registered model named {name!r}",
        )

    def close(self) -> None:
        """Dispose of the stores' connection pools (MLflow keeps its stores cached, and an
        engine that is disposed opens again if that store is used later)."""
        client = getattr(self, "_client", None)
        if client is None:
            return
        with contextlib.suppress(Exception):
            for store in (client._tracking_client.store, client._get_registry_client().store):
                engine = getattr(store, "engine", None)
                if engine is not None:
                    engine.dispose()

    # opening

    def _database_uri(self) -> str:
        """The URI MLflow's SQLAlchemy gets: for postgresql, psycopg (3, which this tool
        depends on) unless a driver is named or psycopg2 is there, and a connect timeout."""
        if self.uri.startswith("sqlite:"):
            return self.uri
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(self.uri)
        except ArgumentError as exc:
            raise InvalidInput(f"the MLflow tracking URI is malformed: {_one_line(exc)}") from None
        if url.drivername == "postgresql" and not _importable("psycopg2"):
            url = url.set(drivername="postgresql+psycopg")
        if "connect_timeout" not in url.query:
            url = url.update_query_dict({"connect_timeout": str(max(1, round(self.timeout)))})
        rendered: str = url.render_as_string(hide_password=False)
        return rendered

    def _check_database(self) -> None:
        """Refuse what MLflow would silently create or migrate."""
        if self.uri.startswith("sqlite:"):
            path = self.uri[len("sqlite:///") :]
            if not os.path.isfile(path):
                raise RegistryUnreachable(f"no MLflow database at {path}: the file does not exist")
            tables, revision = self._sqlite_schema(path)
            where = path
        else:
            tables, revision = self._postgresql_schema()
            where = self.uri
        if "registered_models" not in tables or "alembic_version" not in tables:
            raise RegistryUnreachable(f"{where} is not an MLflow database (no MLflow tables)")
        from mlflow.store.db.utils import _get_latest_schema_revision

        expected = str(_get_latest_schema_revision())  # type: ignore[no-untyped-call]  # mlflow's own, untyped
        if revision != expected:
            raise RegistryUnreachable(
                f"the MLflow database {where} is at schema revision {revision or 'none'}, "
                f"this mlflow-skinny expects {expected}: read it through its MLflow server, "
                "or upgrade it (mlflow db upgrade, after a backup)"
            )

    def _sqlite_schema(self, path: str) -> tuple[set[str], str]:
        try:
            uri = "file:" + urllib.parse.quote(path) + "?mode=ro"
            with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=self.timeout)) as conn:
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
                revision = ""
                if "alembic_version" in tables:
                    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
                    revision = str(row[0]) if row else ""
        except sqlite3.DatabaseError as exc:
            raise RegistryUnreachable(
                f"cannot open the MLflow database {path}: {_one_line(exc)}"
            ) from None
        return tables, revision

    def _postgresql_schema(self) -> tuple[set[str], str]:
        import sqlalchemy

        try:
            engine = sqlalchemy.create_engine(self._db_uri, poolclass=sqlalchemy.pool.NullPool)
        except Exception as exc:  # a driver that is not installed, a bad option
            raise self._error(exc) from None
        try:
            with engine.connect() as conn:
                tables = set(sqlalchemy.inspect(conn).get_table_names())
                revision = ""
                if "alembic_version" in tables:
                    row = conn.execute(
                        sqlalchemy.text("SELECT version_num FROM alembic_version")
                    ).first()
                    revision = str(row[0]) if row else ""
        except Exception as exc:
            raise self._error(exc) from None
        finally:
            engine.dispose()
        return tables, revision

    # calling MLflow

    def _do(self, call: Callable[[], T], missing: str = "") -> T:
        """`call()` with MLflow's exceptions as this tool's: RESOURCE_DOES_NOT_EXIST is
        NotFound ("MLflow has no `missing`" when given)."""
        try:
            return call()
        except Exception as exc:
            error = self._error(exc)
            if isinstance(error, NotFound) and missing:
                raise NotFound(f"MLflow has no {missing}") from None
            raise error from None

    def _experiment_ids(self) -> list[str]:
        """Every experiment's id, deleted ones too (see RestRegistry._experiment_ids)."""
        search = self._client.search_experiments
        return [
            str(e.experiment_id)
            for e in self._paged(search, view_type=self._view_type.ALL, max_results=PAGE_SIZE)
        ]

    def _search_runs(self, experiments: list[str], batch: list[str]) -> list[Run | None]:
        quoted = ", ".join(f"'{r}'" for r in batch)
        found = self._paged(
            self._client.search_runs,
            experiment_ids=experiments,
            filter_string=f"attributes.run_id IN ({quoted})",
            run_view_type=self._view_type.ACTIVE_ONLY,
            max_results=len(batch),
        )
        return [_local_run(run) for run in found]

    def _search_models(self, filter_string: str | None) -> list[RegisteredModel]:
        search = self._client.search_registered_models
        return [_local_model(m) for m in self._paged(search, filter_string=filter_string)]

    def _paged(self, search: Callable[..., Any], **criteria: Any) -> Iterator[Any]:
        """Each item of every page of one of MlflowClient's searches, `page_size` a page."""
        criteria.setdefault("max_results", self.page_size)
        token: str | None = None
        while True:
            page = self._do(partial(search, page_token=token, **criteria))
            yield from page
            token = page.token
            if not token:
                return

    def _error(self, exc: BaseException) -> MlopsError:
        """MLflow's or SQLAlchemy's exception as one line of this tool's."""
        if isinstance(exc, MlopsError):
            return exc
        if isinstance(exc, ImportError):  # postgresql without a driver
            return InvalidInput(f"{NEEDS_EXTRA} ({_one_line(exc)})")
        where = f"the MLflow database {self.uri}"
        if isinstance(exc, self._mlflow_exception):
            code = str(getattr(exc, "error_code", ""))
            message = _one_line(getattr(exc, "message", exc))
            if code == "RESOURCE_DOES_NOT_EXIST":
                return NotFound(f"MLflow: {message}")
            if code == "INVALID_PARAMETER_VALUE":
                return InvalidInput(f"MLflow refused the request: {message}")
            return RegistryUnreachable(f"{where} failed: {message}")
        detail = _one_line(getattr(exc, "orig", None) or exc) or _name(exc)
        if "password authentication failed" in detail or "no password supplied" in detail:
            return RegistryUnreachable(
                f"{where} refused the connection: {detail}; {PG_CREDENTIALS}"
            )
        return RegistryUnreachable(f"cannot use {where}: {detail}")


def _mlflow_exception_class() -> type[Exception]:
    from mlflow.exceptions import MlflowException

    cls: type[Exception] = MlflowException
    return cls


def _importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _local_model(model: Any) -> RegisteredModel:
    return RegisteredModel(
        name=str(model.name),
        description=str(model.description or ""),
        tags={str(k): str(v) for k, v in (model.tags or {}).items()},
        aliases={str(k): str(v) for k, v in (model.aliases or {}).items()},
        created_ms=_ms(model.creation_timestamp),
    )


def _local_run(run: Any) -> Run | None:
    if run.info.lifecycle_stage == "deleted":
        return None
    return Run(
        run_id=str(run.info.run_id),
        params={str(k): str(v) for k, v in run.data.params.items()},
        metrics={str(k): float(v) for k, v in run.data.metrics.items()},
        tags={str(k): str(v) for k, v in run.data.tags.items()},
    )


def _local_version(version: Any) -> ModelVersion:
    return ModelVersion(
        name=str(version.name),
        version=str(version.version),
        source=str(version.source or ""),
        run_id=str(version.run_id or "") or None,
        stage=str(version.current_stage or "None"),
        description=str(version.description or ""),
        user_id=str(version.user_id or "") or None,
        created_ms=_ms(version.creation_timestamp) or 0,
        tags={str(k): str(v) for k, v in (version.tags or {}).items()},
        status=str(version.status or ""),
    )
