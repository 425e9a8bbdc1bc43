"""The MLflow registry adapter against real MLflow: a tracking server over REST and a local
sqlite registry through mlflow-skinny, each test on both, both seeded by MLflow's own client;
and what a person sees when the registry is not there, not MLflow, or refuses them."""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from mlops_tui.adapters.mlflow_registry import (
    LocalRegistry,
    Registry,
    RestRegistry,
    name_filter,
    open_registry,
    validate_tracking_uri,
)
from mlops_tui.errors import InvalidInput, NotFound, RegistryUnreachable
from tests.mlflowstack import (
    MlflowServer,
    add_version,
    client,
    commit_of,
    delete_run,
    free_port,
    move_alias,
    seed,
    unique,
)

CREDENTIAL_VARS = (
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_INSECURE_TLS",
    "MLFLOW_TRACKING_SERVER_CERT_PATH",
)


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests' own credentials only, never the machine's."""
    for name in CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)


@dataclass
class Backend:
    """One registry to test on: its kind, URI, and a way to open it with a page size."""

    kind: str
    uri: str
    opened: list[Registry] = field(default_factory=list)

    def open(self, page_size: int = 1000) -> Registry:
        registry: Registry
        if self.kind == "rest":
            registry = RestRegistry(self.uri, page_size=page_size, timeout=10)
        else:
            registry = LocalRegistry(self.uri, page_size=page_size)
        self.opened.append(registry)
        return registry


@pytest.fixture(params=["rest", "local"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "rest":
        uri = request.getfixturevalue("mlflow_server").url
    else:
        uri = request.getfixturevalue("mlflow_local")
    found = Backend(request.param, uri)
    yield found
    for registry in found.opened:
        registry.close()


def one_line(exc: pytest.ExceptionInfo[Any], code: int) -> str:
    """The error's message, checked to be what the CLI may print: one line, no traceback."""
    message: str = exc.value.message
    assert exc.value.exit_code == code
    assert "\n" not in message and "Traceback" not in message
    assert 0 < len(message) < 400
    return message


# -- reading ------------------------------------------------------------------------------


def test_registered_models_are_paged_and_sorted(backend: Backend) -> None:
    names = [unique(f"paged-{i}") for i in range(5)]
    for name in names:
        seed(backend.uri, name, 1)
    seed(backend.uri, names[0], 0, description="the churn model", tags={"team": "growth"})
    registry = backend.open(page_size=2)

    every = registry.registered_models()

    found = [m.name for m in every]
    assert set(names) <= set(found)
    assert found == sorted(found) and len(found) == len(set(found))
    first = next(m for m in every if m.name == names[0])
    assert (first.description, first.tags, first.aliases) == (
        "the churn model",
        {"team": "growth"},
        {},
    )
    assert first.created_ms is not None and first.created_ms > 1_600_000_000_000
    assert next(m for m in every if m.name == names[1]).description == ""

    some = registry.registered_models([names[3], "no-such-model", names[1], names[3]])
    assert [m.name for m in some] == sorted([names[1], names[3]])
    assert registry.registered_models([]) == []
    # many names: one listing, picked from, rather than a search each
    many = registry.registered_models([*names, *(unique("absent") for _ in range(30))])
    assert [m.name for m in many] == sorted(names)


def test_versions_are_sorted_by_number_and_aliases_are_the_models(backend: Backend) -> None:
    name = unique("sorted")
    seed(
        backend.uri,
        name,
        11,
        aliases={"champion": 2, "challenger": 11},
        stage={1: "Archived", 2: "Production"},
        author="bob",
    )
    registry = backend.open(page_size=4)

    versions = registry.versions(name)

    assert [v.version for v in versions] == [str(n) for n in range(1, 12)]  # 10 after 9
    v2 = versions[1]
    assert v2.name == name and v2.run_id is not None
    assert v2.source == f"runs:/{v2.run_id}/model"
    assert (v2.stage, v2.status, v2.description, v2.user_id, v2.tags) == (
        "Production",
        "READY",
        "",
        None,
        {},
    )
    assert versions[0].stage == "Archived" and versions[2].stage == "None"
    assert all(v.created_ms > 1_600_000_000_000 for v in versions)
    (model,) = registry.registered_models([name])
    assert model.aliases == {"champion": "2", "challenger": "11"}


def test_runs_give_params_final_metrics_and_the_author(backend: Backend) -> None:
    name = unique("runs")
    seed(backend.uri, name, 2, author="bob")
    add_version(backend.uri, name, author="carol", commit=False)
    registry = backend.open()
    versions = registry.versions(name)
    ids = [v.run_id for v in versions if v.run_id]

    runs = registry.runs([*ids, ids[0], "", "0123456789abcdef0123456789abcdef", "it's"])

    assert sorted(runs) == sorted(ids)
    first, _, third = (runs[i] for i in ids)
    assert first.params == {"lr": "0.01", "depth": "1"}
    # each metric's last logged value: not its first, not its best
    assert first.metrics == {"accuracy": pytest.approx(0.91), "loss": pytest.approx(0.49)}
    assert first.tags["mlflow.user"] == "bob"
    assert first.tags["mlflow.source.git.commit"] == commit_of(name, 1)
    assert third.tags["mlflow.user"] == "carol"
    assert "mlflow.source.git.commit" not in third.tags
    assert third.params == {"lr": "0.03", "depth": "3"}


def test_a_deleted_run_is_left_out(backend: Backend) -> None:
    name = unique("deleted")
    seed(backend.uri, name, 2)
    registry = backend.open()
    gone, kept = (v.run_id for v in registry.versions(name))
    assert gone and kept
    delete_run(backend.uri, gone)

    assert list(registry.runs([gone, kept])) == [kept]
    assert registry.runs([]) == {}


def test_a_version_without_a_run_has_run_id_none(backend: Backend) -> None:
    """REST gives "" where the local client gives None: both are None here."""
    name = unique("no-run")
    version = add_version(backend.uri, name, run=False, source="s3://bucket/model")
    (found,) = backend.open().versions(name)
    assert (found.version, found.run_id, found.source) == (version, None, "s3://bucket/model")


@pytest.mark.parametrize(
    "odd", ["it's", 'say "hi"', "both ' and \"", "back\\slash", "50%_off", "模型 v2"]
)
def test_names_with_quotes_and_wildcards_are_found_exactly(backend: Backend, odd: str) -> None:
    """MLflow's filters have no escape: each name is quoted so that it matches only itself,
    and a look-alike that a LIKE would also match is not taken for it."""
    name = unique(odd)
    look_alike = name.replace("'", "x").replace('"', "x").replace("\\", "x").replace("%", "x")
    add_version(backend.uri, name, run=False)
    if look_alike != name:
        add_version(backend.uri, look_alike, run=False)
        add_version(backend.uri, look_alike, run=False)
    registry = backend.open()

    assert [m.name for m in registry.registered_models([name])] == [name]
    assert [(v.name, v.version) for v in registry.versions(name)] == [(name, "1")]


def test_name_filter_quotes_with_the_quote_the_name_lacks() -> None:
    assert name_filter("churn") == ("name = 'churn'", True)
    assert name_filter("it's") == ('name = "it\'s"', True)
    assert name_filter('say "hi" it\'s') == ("name LIKE 'say _hi_ it_s'", False)
    assert name_filter("a\\b") == ("name LIKE 'a_b'", False)


# -- writing ------------------------------------------------------------------------------


def test_set_alias_then_read_it_back(backend: Backend) -> None:
    name = unique("alias")
    seed(backend.uri, name, 3, aliases={"production": 1})
    registry = backend.open()

    registry.set_alias(name, "production", "2")
    registry.set_alias(name, "canary", "3")

    (model,) = registry.registered_models([name])
    assert model.aliases == {"production": "2", "canary": "3"}
    move_alias(backend.uri, name, "production", 3)  # a teammate, in MLflow's UI
    assert registry.registered_models([name])[0].aliases["production"] == "3"


def test_unknown_model_or_version_is_not_found(backend: Backend) -> None:
    name = unique("known")
    seed(backend.uri, name, 1)
    registry = backend.open()
    nowhere = unique("nowhere")

    with pytest.raises(NotFound) as exc:
        registry.versions(nowhere)
    assert one_line(exc, 2) == f"MLflow has no registered model named {nowhere!r}"
    with pytest.raises(NotFound) as exc:
        registry.set_alias(name, "production", "7")
    assert one_line(exc, 2) == f"MLflow has no version 7 of a registered model named {name!r}"
    with pytest.raises(NotFound):
        registry.set_alias(nowhere, "production", "1")
    with pytest.raises(InvalidInput) as refused:
        registry.set_alias(name, "latest", "1")
    assert "reserved" in one_line(refused, 2)


def test_a_model_without_versions_has_none(backend: Backend) -> None:
    name = unique("empty")
    seed(backend.uri, name, 0)
    assert backend.open().versions(name) == []


# -- the server going away ----------------------------------------------------------------


def test_a_stopped_server_is_unreachable_then_back(mlflow_server: MlflowServer) -> None:
    name = unique("restart")
    seed(mlflow_server.url, name, 1)
    registry = RestRegistry(mlflow_server.url, timeout=5)
    try:
        mlflow_server.stop()
        with pytest.raises(RegistryUnreachable) as exc:
            registry.versions(name)
        message = one_line(exc, 4)
        assert message == (
            f"cannot reach MLflow at {mlflow_server.url}: connection refused "
            "(is the server running?)"
        )
    finally:
        mlflow_server.start()
    assert [v.version for v in registry.versions(name)] == ["1"]


def test_a_closed_port_is_one_line() -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RegistryUnreachable) as exc:
        open_registry(uri).registered_models()
    assert (
        one_line(exc, 4)
        == f"cannot reach MLflow at {uri}: connection refused (is the server running?)"
    )
    assert exc.value.title == "MLflow"


def test_an_unknown_host_is_one_line() -> None:
    with pytest.raises(RegistryUnreachable) as exc:
        open_registry("http://no-such-host.invalid:5000", timeout=5).registered_models()
    assert "host name 'no-such-host.invalid' not found" in one_line(exc, 4)


# -- servers that are not MLflow ----------------------------------------------------------


Body = bytes | str | dict[str, Any]


def _encoded(body: Body) -> bytes:
    if isinstance(body, dict):
        body = json.dumps(body)
    return body.encode() if isinstance(body, str) else body


class FakeServer:
    """A stdlib HTTP server on 127.0.0.1 answering every request with one canned answer (or
    `routes`' answer for a path under /api/2.0/mlflow/), keeping each request's method,
    path, headers and body."""

    def __init__(
        self,
        status: int = 200,
        body: Body = b"{}",
        content_type: str = "application/json",
        delay: float = 0.0,
        tls: tuple[Path, Path] | None = None,
        routes: dict[str, tuple[int, Body]] | None = None,
        errors_first: int = 0,
    ) -> None:
        self.delay, self.content_type = delay, content_type
        self.errors_left = errors_first  # the first requests get HTTP 500
        self.answer = (status, _encoded(body))
        self.routes = {k: (code, _encoded(b)) for k, (code, b) in (routes or {}).items()}
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else b""
                fake.requests.append((self.command, self.path, dict(self.headers), data))
                if fake.delay:
                    time.sleep(fake.delay)
                route = self.path.split("?")[0].removeprefix("/api/2.0/mlflow/")
                status, body = fake.routes.get(route, fake.answer)
                if fake.errors_left > 0:
                    fake.errors_left -= 1
                    status, body = 500, b'{"error_code": "INTERNAL_ERROR", "message": "AST"}'

                self.send_response(status)
                self.send_header("Content-Type", fake.content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._server.server_port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def fake() -> Iterator[Callable[..., FakeServer]]:
    servers: list[FakeServer] = []

    def start(*args: Any, **kwargs: Any) -> FakeServer:
        servers.append(FakeServer(*args, **kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


HTML_404 = "<!doctype html><title>404 Not Found</title><h1>Not Found</h1>"


@pytest.mark.parametrize(
    ("status", "body", "content_type", "why"),
    [
        (404, HTML_404, "text/html", "HTTP 404 on /api/2.0/mlflow/registered-models/search"),
        (200, "<html><body>a dashboard</body></html>", "text/html", "it answered HTML on"),
        (200, "[1, 2]", "application/json", "is not a JSON object"),
        (200, '{"registered_models": [{"nom": "x"}]}', "application/json", "is not MLflow's"),
        (200, '{"registered_models": [1, 2]}', "application/json", "is not MLflow's"),
    ],
)
def test_a_server_that_is_not_mlflow(
    fake: Callable[..., FakeServer], status: int, body: str, content_type: str, why: str
) -> None:
    server = fake(status, body, content_type)
    with pytest.raises(RegistryUnreachable) as exc:
        open_registry(server.url).registered_models()
    message = one_line(exc, 4)
    assert message.startswith(f"{server.url} is not an MLflow tracking server: ")
    assert why in message


def test_a_server_error_is_one_line(fake: Callable[..., FakeServer]) -> None:
    server = fake(500, {"error_code": "INTERNAL_ERROR", "message": "db down\nat line 3"})
    with pytest.raises(RegistryUnreachable) as exc:
        open_registry(server.url).registered_models()
    assert one_line(exc, 4) == (f"MLflow at {server.url} failed: HTTP 500 INTERNAL_ERROR: db down")
    bad_gateway = fake(502, "<html>bad gateway</html>", "text/html")
    with pytest.raises(RegistryUnreachable) as exc:
        open_registry(bad_gateway.url).registered_models()
    assert one_line(exc, 4) == f"MLflow at {bad_gateway.url} answered HTTP 502"


def test_a_server_error_is_tried_three_times(fake: Callable[..., FakeServer]) -> None:
    """MLflow fails a request now and then under load (HTTP 500): two retries ride it out,
    and a server that keeps failing is refused after the third try."""
    flaky = fake(200, {"registered_models": [{"name": "churn"}]}, errors_first=2)
    assert [m.name for m in open_registry(flaky.url).registered_models()] == ["churn"]
    assert len(flaky.requests) == 3
    broken = fake(500, {"error_code": "INTERNAL_ERROR", "message": "down"})
    with pytest.raises(RegistryUnreachable):
        open_registry(broken.url).registered_models()
    assert len(broken.requests) == 3
    refused = fake(400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "no"})
    with pytest.raises(InvalidInput):
        open_registry(refused.url).registered_models()
    assert len(refused.requests) == 1, "a refusal is not tried again"


def test_many_models_versions_are_read_in_one_search(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlops_tui.adapters.mlflow_registry as adapter

    names = [unique("many") for _ in range(3)]
    for i, name in enumerate(names):
        seed(backend.uri, name, i + 1)
    registry = backend.open(page_size=2)
    absent = unique("absent")
    one_by_one = registry.all_versions([*names, absent])
    monkeypatch.setattr(adapter, "NAMED_SEARCHES", 1)
    at_once = registry.all_versions([*names, absent])
    assert at_once == one_by_one and at_once[absent] == []
    assert [len(at_once[n]) for n in names] == [1, 2, 3]
    assert [v.version for v in at_once[names[2]]] == ["1", "2", "3"]


def test_a_server_that_never_answers_times_out(fake: Callable[..., FakeServer]) -> None:
    server = fake(delay=3)
    began = time.monotonic()
    with pytest.raises(RegistryUnreachable) as exc:
        open_registry(server.url, timeout=0.5).registered_models()
    assert time.monotonic() - began < 2.5
    assert one_line(exc, 4) == f"MLflow at {server.url} did not answer within 0.5 s"


def test_credentials_are_sent_from_the_environment(
    fake: Callable[..., FakeServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = fake(200, {})
    registry = open_registry(server.url + "/")
    assert registry.uri == server.url

    registry.registered_models()
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ana")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cr:et")
    registry.registered_models()
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-123")  # the token wins
    registry.registered_models()

    sent = [headers.get("Authorization") for _, _, headers, _ in server.requests]
    assert sent == [None, "Basic " + base64.b64encode(b"ana:s3cr:et").decode(), "Bearer tok-123"]
    method, path, headers, _ = server.requests[0]
    assert method == "GET"
    assert path == "/api/2.0/mlflow/registered-models/search?max_results=1000"
    assert headers["Accept"] == "application/json"


def test_set_alias_posts_mlflows_json(fake: Callable[..., FakeServer]) -> None:
    server = fake(200, {})
    open_registry(server.url).set_alias("churn", "production", "3")
    ((method, path, headers, body),) = server.requests
    assert (method, path) == ("POST", "/api/2.0/mlflow/registered-models/alias")
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"name": "churn", "alias": "production", "version": "3"}


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, and its key."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    argv = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    argv += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
    subprocess.run(
        [*argv, "-addext", "subjectAltName=IP:127.0.0.1"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return cert, key


def test_tls_trust_is_mlflows_variables(
    fake: Callable[..., FakeServer],
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = fake(200, {}, tls=certificate)
    registry = open_registry(server.url)
    with pytest.raises(RegistryUnreachable) as exc:
        registry.registered_models()
    message = one_line(exc, 4)
    assert message.startswith(f"MLflow at {server.url}: its TLS certificate is not trusted (")
    assert "MLFLOW_TRACKING_SERVER_CERT_PATH" in message
    assert "MLFLOW_TRACKING_INSECURE_TLS=true" in message

    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(certificate[0]))
    assert registry.registered_models() == []
    monkeypatch.delenv("MLFLOW_TRACKING_SERVER_CERT_PATH")
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
    assert registry.registered_models() == []
    assert len(server.requests) == 2

    plain = open_registry(server.url.replace("https:", "http:"), timeout=3)
    with pytest.raises(RegistryUnreachable) as exc:
        plain.registered_models()
    assert f"MLflow at {plain.uri} closed the connection" in one_line(exc, 4)


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_name_the_variables_never_the_secret(
    fake: Callable[..., FakeServer], monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    server = fake(status, "Permission denied", "text/plain")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ana")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "hunter2")
    with pytest.raises(RegistryUnreachable) as exc:
        open_registry(server.url).registered_models()
    message = one_line(exc, 4)
    assert f"MLflow at {server.url} refused the credentials" in message
    assert f"HTTP {status}" in message
    assert "MLFLOW_TRACKING_USERNAME" in message and "MLFLOW_TRACKING_TOKEN" in message
    assert "hunter2" not in message and "ana" not in message.split("refused")[1]


def test_no_credentials_for_a_server_that_wants_them(fake: Callable[..., FakeServer]) -> None:
    server = fake(401, "You are not authenticated.", "text/plain")
    with pytest.raises(RegistryUnreachable) as exc:
        open_registry(server.url).registered_models()
    assert one_line(exc, 4).startswith(f"MLflow at {server.url} asks for credentials (HTTP 401)")


def test_the_real_server_refuses_a_host_it_does_not_know(
    mlflow_server: MlflowServer,
) -> None:
    """MLflow's DNS-rebinding guard answers 403 to a Host it was not told to allow: not a
    credentials problem, and the way out (a flag of the server's) is the CLI's hint only.
    127.1 is 127.0.0.1 to the resolver, but not a host name the guard knows."""
    registry = RestRegistry(f"http://127.1:{mlflow_server.port}")
    with pytest.raises(RegistryUnreachable) as exc:
        registry.registered_models()
    assert one_line(exc, 4) == (
        f"MLflow at http://127.1:{mlflow_server.port} refuses requests for host "
        f"'127.1:{mlflow_server.port}' (HTTP 403): the server must allow that host name"
    )
    assert exc.value.cli_hint == "start it with --allowed-hosts naming it"


def test_a_server_whose_search_refuses_run_id_in_is_read_run_by_run(
    fake: Callable[..., FakeServer],
) -> None:
    run = {
        "info": {"run_id": "a1", "lifecycle_stage": "active"},
        "data": {"params": [{"key": "lr", "value": "0.1"}], "metrics": []},
    }
    refused = {"error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid attribute key"}
    server = fake(
        routes={
            "experiments/search": (200, {"experiments": [{"experiment_id": "0"}]}),
            "runs/search": (400, refused),
            "runs/get": (200, {"run": run}),
        }
    )
    runs = RestRegistry(server.url).runs(["a1"])
    assert runs["a1"].params == {"lr": "0.1"} and list(runs) == ["a1"]
    paths = [path.split("?")[0] for _, path, _, _ in server.requests]
    assert paths == [
        "/api/2.0/mlflow/experiments/search",
        "/api/2.0/mlflow/runs/search",
        "/api/2.0/mlflow/runs/get",
    ]


# -- a local registry ---------------------------------------------------------------------


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "mlflow.db"
    with pytest.raises(RegistryUnreachable) as exc:
        open_registry(f"sqlite:///{path}")
    assert one_line(exc, 4) == f"no MLflow database at {path}: the file does not exist"
    assert not path.exists() and not path.parent.exists()


def test_a_sqlite_file_that_is_not_mlflow_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "mlops.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE models (name TEXT)")
    with pytest.raises(RegistryUnreachable) as exc:
        open_registry(f"sqlite:///{path}")
    assert one_line(exc, 4) == f"{path} is not an MLflow database (no MLflow tables)"
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
    assert tables == ["models"]

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(RegistryUnreachable) as exc:
        open_registry(f"sqlite:///{junk}")
    assert one_line(exc, 4).startswith(f"cannot open the MLflow database {junk}: ")


def test_an_older_mlflow_database_is_not_migrated(mlflow_local: str) -> None:
    path = mlflow_local.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'c48cb773bb87'")
    with pytest.raises(RegistryUnreachable) as exc:
        open_registry(mlflow_local)
    message = one_line(exc, 4)
    assert "is at schema revision c48cb773bb87" in message and "mlflow db upgrade" in message
    with sqlite3.connect(path) as conn:
        (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert revision == "c48cb773bb87"


def test_reading_a_local_registry_writes_nothing(
    mlflow_local: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a byte of the database, and no ./mlruns or other file where it runs."""
    name = unique("untouched")
    seed(mlflow_local, name, 2)
    path = Path(mlflow_local.removeprefix("sqlite:///"))
    before = path.read_bytes()
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    with open_registry(mlflow_local) as registry:
        versions = registry.versions(name)
        registry.runs([v.run_id for v in versions if v.run_id])
        registry.registered_models()

    assert path.read_bytes() == before
    assert list(elsewhere.iterdir()) == []
    assert sorted(p.name for p in path.parent.iterdir()) == ["mlflow.db"]


def test_a_local_registry_prints_nothing(mlflow_local: str) -> None:
    """MLflow logs and warns on stderr (migrations, deprecated stages, tracebacks of SQL
    errors): through the adapter, not a line of it reaches the terminal."""
    name = unique("quiet")
    seed(mlflow_local, name, 2, stage={1: "Production"})
    probe = (
        "import sys\n"
        "from mlops_tui.adapters.mlflow_registry import open_registry\n"
        "from mlops_tui.errors import NotFound\n"
        f"r = open_registry({mlflow_local!r})\n"
        f"vs = r.versions({name!r})\n"
        "r.runs([v.run_id for v in vs])\n"
        f"r.set_alias({name!r}, 'production', '2')\n"
        "try:\n"
        "    r.versions('nope')\n"
        "except NotFound:\n"
        "    pass\n"
        "r.close()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_without_mlflow_a_local_uri_says_which_extra(tmp_path: Path) -> None:
    path = tmp_path / "mlflow.db"
    path.touch()
    probe = (
        "import sys\n"
        "sys.modules['mlflow'] = None  # as if it were not installed\n"
        "from mlops_tui.adapters.mlflow_registry import open_registry\n"
        "from mlops_tui.errors import InvalidInput\n"
        "try:\n"
        f"    open_registry('sqlite:///{path}')\n"
        "except InvalidInput as exc:\n"
        "    print(exc.exit_code, exc.message)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == (
        "2 reading a sqlite:// or postgresql:// MLflow registry needs the mlflow extra: "
        "pip install 'mlops-tui[mlflow]'\n"
    )


def test_importing_the_adapter_does_not_import_mlflow() -> None:
    probe = (
        "import sys\n"
        "import mlops_tui.adapters.mlflow_registry\n"
        "print(sorted(m for m in ('mlflow', 'sqlalchemy', 'alembic') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == "[]\n"


def test_a_postgresql_registry(pg_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through psycopg (3, a dependency of ours) without naming the driver; a database
    without MLflow's tables is refused and left as it was, and a wrong password says where
    the right one goes."""
    from tests.conftest import drop_pg_schema, new_pg_schema

    schema, url = new_pg_schema(pg_server)
    try:
        parts = urlsplit(url)
        monkeypatch.setenv("PGPASSWORD", parts.password or "")
        uri = url.replace(f":{parts.password}@", "@") if parts.password else url
        with pytest.raises(RegistryUnreachable) as exc:
            open_registry(uri)
        assert one_line(exc, 4).endswith("is not an MLflow database (no MLflow tables)")
        assert (
            "PGPASSWORD" not in exc.value.reason and f":{parts.password}@" not in exc.value.reason
        )
        with psycopg.connect(url) as conn:
            assert conn.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = %s", (schema,)
            ).fetchone() == (0,)

        mlflow_uri = url.replace("postgresql://", "postgresql+psycopg://")
        name = unique("pg")
        seed(mlflow_uri, name, 2, aliases={"production": 2}, author="bob")
        with open_registry(uri) as registry:
            assert registry.registered_models([name])[0].aliases == {"production": "2"}
            versions = registry.versions(name)
            assert [v.version for v in versions] == ["1", "2"]
            runs = registry.runs([v.run_id for v in versions if v.run_id])
            assert {r.tags["mlflow.user"] for r in runs.values()} == {"bob"}

        monkeypatch.setenv("PGPASSWORD", "not-the-password")
        try:
            open_registry(uri).close()
        except RegistryUnreachable as refused:
            message = refused.reason
            assert "password authentication failed" in message and "PGPASSWORD" in message
        # else: this server trusts local connections, whatever the password
    finally:
        drop_pg_schema(pg_server, schema)


# -- the URI ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("  https://mlflow.example.com/  ", "https://mlflow.example.com"),
        ("HTTPS://mlflow.example.com/prefix//", "https://mlflow.example.com/prefix"),
        ("sqlite:////srv/mlflow/mlflow.db", "sqlite:////srv/mlflow/mlflow.db"),
        ("sqlite:////srv/mlflow/../mlflow.db", "sqlite:////srv/mlflow.db"),
        ("postgresql://mlflow@db.example.com/mlflow", "postgresql://mlflow@db.example.com/mlflow"),
        ("postgresql+psycopg://db:5432/mlflow", "postgresql+psycopg://db:5432/mlflow"),
        ("postgresql:///mlflow?host=/var/run/postgresql", None),
    ],
)
def test_a_good_uri_is_kept_normalised(uri: str, expected: str | None) -> None:
    assert validate_tracking_uri(uri) == (expected or uri)


def test_a_relative_sqlite_path_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert validate_tracking_uri("sqlite:///mlruns/mlflow.db") == (
        f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    )
    assert validate_tracking_uri("sqlite:///mlflow.db").startswith("sqlite:////")


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("http://ana:hunter2@mlflow:5000", "MLFLOW_TRACKING_USERNAME"),
        ("https://ana@mlflow", "MLFLOW_TRACKING_TOKEN"),
        ("postgresql://ana:hunter2@db/mlflow", "PGPASSWORD or ~/.pgpass"),
        ("postgresql://db/mlflow?password=hunter2", "PGPASSWORD or ~/.pgpass"),
        ("file:///home/ana/mlruns", "unsupported MLflow tracking URI scheme 'file'"),
        ("databricks://profile", "unsupported MLflow tracking URI scheme 'databricks'"),
        ("mysql://ana:hunter2@db/mlflow", "unsupported MLflow tracking URI scheme 'mysql'"),
        ("mlflow.example.com:5000", "not an MLflow tracking URI"),
        ("", "empty"),
        ("http://mlflow\n:5000", "control character"),
        ("http://mlflow:5000/" + "a" * 1000, "at most 1000"),
        ("http://mlflow:port", "malformed"),
        ("http://mlflow:5000/?token=x", "no ?query"),
        ("http:///path", "no host"),
        ("sqlite://", "sqlite:///relative/path"),
        ("sqlite:///", "names no file"),
        ("postgresql://db", "names no database"),
    ],
)
def test_a_bad_uri_is_refused_in_one_line(uri: str, says: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_tracking_uri(uri)
    message = one_line(exc, 2)
    assert says in message
    assert "hunter2" not in message and "ana" not in message


# -- many runs ----------------------------------------------------------------------------


def test_many_runs_are_read_in_batches(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs alone (no versions), searched by batches of ids (7 here, to cross several)."""
    from mlops_tui.adapters import mlflow_registry

    monkeypatch.setattr(mlflow_registry, "RUN_BATCH", 7)
    mlflow = client(backend.uri)
    experiment = mlflow.create_experiment(unique("many-runs"))
    ids = [str(mlflow.create_run(experiment).info.run_id) for _ in range(40)]
    mlflow.delete_run(ids[-1])

    runs = backend.open().runs(ids)

    assert sorted(runs) == sorted(ids[:-1])
