"""`mlops serve`: the registry over HTTP for the team's Prometheus, Alertmanager and CI.

One aiohttp application, next to the team's database:

- `GET /healthz` (no token): 200 while the database answers, 503 while it does not;
- `GET /metrics`: the registry in Prometheus's text format (services/exporter.py);
- `POST /hooks/alertmanager`: Alertmanager's webhook, into the alerts (monitoring.receive);
- `POST /hooks/ci`: a CI job's build, test run or deployment (the `record` use cases).

Every other request carries `Authorization: Bearer <token>` (services/tokens.py) and acts as
the token's person, through the same gate as the CLI: no token or a wrong one is 401 and
writes nothing; a person the gate refuses is 403, recorded as `permission.denied`.

The use cases are synchronous, so each request's work runs on a small pool of threads, each
with a store of its own. A store that loses its database is dropped, so the next request
connects afresh: while the database is down every request is one line of 503, and nothing
needs restarting once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from mlops_tui.errors import MlopsError, StoreUnavailable
from mlops_tui.server import payloads
from mlops_tui.services.context import Context
from mlops_tui.store import Store

T = TypeVar("T")
MAX_BODY = 1024 * 1024  # bytes; a larger request is 413
WORKERS = 4
log = logging.getLogger("mlops.serve")

SERVER = web.AppKey("server", object)
#: who a request's token admits: its name (for the log, never the secret) and its person
TOKEN_NAME = web.RequestKey("token", str)
ACTOR = web.RequestKey("actor", str)


@dataclass
class Settings:
    """What a server needs: how to open the database, and the Alertmanager label that
    names a model."""

    open_store: Callable[[], Store]
    model_label: str = "model"
    #: act as the token's person with SET ROLE (identity = database on PostgreSQL); None
    #: until a store has read the team's setting (the database was down at start)
    set_role: bool | None = None


class Server:
    """The application's state: the worker threads and their stores."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="mlops-serve")
        self.local = threading.local()
        self.stores: list[Store] = []
        self.lock = threading.Lock()
        self.wrote = asyncio.Event()
        from mlops_tui.services.exporter import Exposition

        self.exposition = Exposition()

    def store(self) -> Store:
        """This worker thread's store, opened on first use (and after a failure)."""
        store: Store | None = getattr(self.local, "store", None)
        if store is None:
            store = self.settings.open_store()
            self.local.store = store
            with self.lock:
                self.stores.append(store)
            if self.settings.set_role is None:
                from mlops_tui.server.run import acts_by_role

                self.settings.set_role = acts_by_role(store)
        return store

    def drop(self) -> None:
        """Forget this thread's store after the database failed it: the next call reconnects."""
        store: Store | None = getattr(self.local, "store", None)
        self.local.store = None
        if store is not None:
            with self.lock:
                if store in self.stores:
                    self.stores.remove(store)
            with contextlib.suppress(Exception):
                store.close()

    def run(self, fn: Callable[[Store], T], retry: bool = False) -> T:
        """`fn(store)` on this worker thread's store; a StoreUnavailable drops the store.
        With `retry` (a read), once more on a new connection first: after an outage, a
        thread's old connection fails once before anyone knows it is dead."""
        try:
            return fn(self.store())
        except StoreUnavailable:
            self.drop()
            if not retry:
                raise
        try:
            return fn(self.store())
        except StoreUnavailable:
            self.drop()
            raise

    async def call(self, fn: Callable[[Store], T], *, retry: bool = False) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, self.run, fn, retry)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        with self.lock:
            stores, self.stores = self.stores, []
        for store in stores:
            with contextlib.suppress(Exception):
                store.close()


def _server(request: web.Request) -> Server:
    server = request.app[SERVER]
    assert isinstance(server, Server)
    return server


# -- answers -------------------------------------------------------------------------------
def _error(status: int, reason: str, **headers: str) -> web.Response:
    """One line, as JSON, whatever went wrong."""
    return web.json_response({"error": reason}, status=status, headers=headers or None)


def _status_of(exc: MlopsError) -> int:
    return {2: 400, 3: 409, 4: 503, 7: 403}.get(exc.exit_code, 500)


# -- the token -----------------------------------------------------------------------------
def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


OPEN_ROUTES = frozenset({"/healthz"})


@web.middleware
async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
    """Admit a request by its token (every route but /healthz), and turn the tool's errors
    into one line with their HTTP status."""
    try:
        if request.path not in OPEN_ROUTES:
            secret = _bearer(request)
            if secret is None:
                return _error(
                    401,
                    "this needs a token: send Authorization: Bearer <token>",
                    **{"WWW-Authenticate": "Bearer"},
                )
            from mlops_tui.services import tokens

            found = await _server(request).call(
                lambda s: tokens.authenticate(s, secret), retry=True
            )
            if found is None:
                return _error(
                    401,
                    "unknown or revoked token, or its person was deactivated",
                    **{"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            token, user = found
            request[TOKEN_NAME] = token.name
            request[ACTOR] = user.name
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        text = exc.text or ""
        plain = text if text and not text.startswith(f"{exc.status}:") else exc.reason
        return _error(exc.status, plain.splitlines()[0] if plain else exc.reason)
    except MlopsError as exc:
        if isinstance(exc, StoreUnavailable):
            return _error(503, exc.reason, **{"Retry-After": "5"})
        return _error(_status_of(exc), exc.reason)
    except Exception as exc:  # a bug: the traceback goes to the server's log, not the client
        log.exception("%s %s failed", request.method, request.path)
        return _error(500, f"internal error ({type(exc).__name__}): the server's log says more")


def _context(server: Server, store: Store, request: web.Request) -> Context:
    actor = request[ACTOR]
    if server.settings.set_role:
        store.act_as(actor)
        from mlops_tui.services.team import resolve_actor

        actor = resolve_actor(store, actor)
    return Context(store, actor)


async def _json(request: web.Request) -> Any:
    """The request's JSON body: 415 unless it says it is JSON, 413 past 1 MB."""
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(
            text=f"send application/json, not {request.content_type}"
        )
    body = await request.read()  # HTTPRequestEntityTooLarge past client_max_size
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        from mlops_tui.errors import InvalidInput

        raise InvalidInput(f"the body is not JSON: {exc}") from None


async def _write(request: web.Request, fn: Callable[[Context], T]) -> T:
    """Run a write use case as the request's person, then let the webhook relay know."""
    server = _server(request)

    def work(store: Store) -> T:
        try:
            return fn(_context(server, store, request))
        finally:
            if server.settings.set_role:
                store.act_as(None)

    try:
        return await server.call(work)
    finally:
        server.wrote.set()


# -- the routes ----------------------------------------------------------------------------
async def healthz(request: web.Request) -> web.Response:
    head = await _server(request).call(lambda s: s.head(), retry=True)
    return web.json_response({"status": "ok", "head": head})


async def metrics(request: web.Request) -> web.Response:
    from prometheus_client import CONTENT_TYPE_LATEST

    server = _server(request)

    def read(store: Store) -> bytes:
        try:
            return server.exposition.render(_context(server, store, request))
        finally:
            if server.settings.set_role:
                store.act_as(None)

    body = await server.call(read, retry=True)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def alertmanager(request: web.Request) -> web.Response:
    from mlops_tui.services import monitoring

    notified = payloads.alertmanager(await _json(request), _server(request).settings.model_label)
    got = await _write(request, lambda ctx: monitoring.receive(ctx, notified))
    return web.json_response(
        {
            "opened": [a.id for a in got.opened],
            "resolved": [a.id for a in got.resolved],
            "repeated": got.known,
            "moved_to_plan": sorted(got.moved_to_plan),
        }
    )


async def ci(request: web.Request) -> web.Response:
    from mlops_tui.cli.output import record as as_json
    from mlops_tui.services import builds, deploys, testing

    kind, model, args = payloads.ci(await _json(request))

    def record(ctx: Context) -> Any:
        if kind == "build":
            return builds.record(ctx, model, **args).build
        if kind == "test":
            return testing.record(ctx, model, **args)
        return deploys.record(ctx, model, **args).deployment

    run = await _write(request, record)
    return web.json_response({"record": kind, **as_json(run)}, status=201, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


# -- the log ---------------------------------------------------------------------------------
class AccessLog(AbstractAccessLogger):
    """One line per request: time, method and route, status, the token's name (never its
    secret), and how long it took."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        token = request.get(TOKEN_NAME, "-")
        self.logger.info(
            "%s %s %s %d token=%s %.1fms",
            at,
            request.method,
            request.path,
            response.status,
            token,
            time * 1000,
        )


# -- the application -------------------------------------------------------------------------
def make_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[authenticate], client_max_size=MAX_BODY)
    server = Server(settings)
    app[SERVER] = server
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/hooks/alertmanager", alertmanager)
    app.router.add_post("/hooks/ci", ci)

    async def relay(app: web.Application) -> Any:
        task = asyncio.create_task(_relay(server))
        warm = asyncio.create_task(_warm(server))
        yield
        warm.cancel()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        server.close()

    app.cleanup_ctx.append(relay)
    return app


async def _warm(server: Server) -> None:
    """Format the registry once at start, so that Prometheus's first scrape is as quick as
    the next ones (a first formatting of 10,000 models takes half a second)."""
    with contextlib.suppress(Exception):  # the database is down: the first scrape will say
        await server.call(lambda s: server.exposition.render(Context(s, "mlops-serve")))


async def _relay(server: Server) -> None:
    """Deliver webhook events after writes, off the requests' path: a slow receiver never
    slows Alertmanager down, and the outbox keeps whatever is not delivered yet."""
    from mlops_tui.services import relays

    while True:
        await server.wrote.wait()
        server.wrote.clear()

        def deliver(store: Store) -> None:
            relays.after_write(Context(store, "mlops-serve"))

        try:
            await server.call(deliver)
        except Exception:  # the database is down: the next write tries again
            await asyncio.sleep(1)
