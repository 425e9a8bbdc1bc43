"""Starting `mlops serve`: what it checks before it listens, and how it stops."""

from __future__ import annotations

import errno
import logging
import sys

from mlops_tui.errors import InvalidInput, PermissionDenied, StoreUnavailable
from mlops_tui.store import Store, open_store


def _say(text: str) -> None:
    print(f"mlops serve: {text}", file=sys.stderr, flush=True)


def acts_by_role(store: Store) -> bool:
    """Whether requests must act under their person's own database role: the team set
    identity = database on PostgreSQL, so the database, not the server, decides who acts."""
    return store.backend == "postgresql" and store.get_setting("identity") == "database"


def check_roles(store: Store) -> None:
    """With identity = database, the server's role must be able to SET ROLE to each token's
    person; refuse to start with the GRANT that is missing."""
    from mlops_tui.store import schema

    people = sorted({t.user for t in store.rows(schema.TOKENS)})
    missing = store.roles_missing(people)
    if missing:
        me = store.database_user()
        grants = "; ".join(f'GRANT "{name}" TO "{me}"' for name in missing)
        raise PermissionDenied(
            f"identity is the database role, and the server's role {me} cannot act as "
            f"{', '.join(missing)}: an administrator runs {grants}"
        )


def serve(url: str, host: str, port: int, *, model_label: str = "model") -> None:
    """Listen until SIGTERM or Ctrl+C. The database may be down at start: requests get 503
    until it answers."""
    from aiohttp import web

    from mlops_tui.server.app import AccessLog, Settings, make_app

    if not model_label.replace("_", "a").isalnum() or not model_label[0].isalpha():
        raise InvalidInput(f"invalid label name {model_label!r}: letters, digits and '_'")
    set_role: bool | None = None  # not known until the database answers
    try:
        store = open_store(url)
    except StoreUnavailable as exc:
        where = f"{exc.reason}; answering 503 until it is back"
    else:
        try:
            set_role = acts_by_role(store)
            if set_role:
                check_roles(store)
            where = f"database {store.location}"
        finally:
            store.close()
        if set_role:
            where += ", acting as each token's database role"
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    app = make_app(
        Settings(open_store=lambda: open_store(url), model_label=model_label, set_role=set_role)
    )
    shown = f"[{host}]" if ":" in host else host
    try:
        web.run_app(
            app,
            host=host,
            port=port,
            access_log_class=AccessLog,
            print=lambda _: _say(f"listening on http://{shown}:{port} ({where})"),
            shutdown_timeout=10,
            handle_signals=True,
        )
    except OSError as exc:
        why = "the address is in use" if exc.errno == errno.EADDRINUSE else exc.strerror or exc
        raise InvalidInput(f"cannot listen on {shown}:{port}: {why}") from None
    _say("stopped")
