"""A lean, read-only PostgreSQL store for `mlops status`: libpq through ctypes, no psycopg.

`mlops status` sits in shell prompts. Importing psycopg costs about 100 ms, more than the
rest of the command; libpq itself loads in about 3 ms. This reader speaks to the same libpq
that psycopg ships (or the system's), so every connection feature users rely on comes with
it unchanged: URLs and their parameters, PG* variables, ~/.pgpass, service files, SSL and
SCRAM. It runs the shared SQL of `SqlStore` with the PostgreSQL dialect, as the full store
does, and converts the few column types our tables use as psycopg would.

It only reads, and only the happy path: `open_reader` returns None whenever libpq cannot be
loaded, the URL does not parse, the server cannot be reached or the schema is not the one
this version writes. The caller then opens the full store, which migrates and explains any
problem in its usual words, so nothing about errors differs between the two.
"""

from __future__ import annotations

import ctypes
import glob
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from mlops_tui.domain import Stage
from mlops_tui.errors import StoreUnavailable
from mlops_tui.store.base import StatusRow
from mlops_tui.store.dialect import CONNECT_TIMEOUT_S, POSTGRESQL, SESSION_OPTIONS, location
from mlops_tui.store.sql import STATUS_COLUMNS, SqlStore

# PostgreSQL's own output formats, whatever the server or the URL says, so the text this
# reader parses is ISO times (converted to UTC by the dialect, as psycopg's are).
_FORMATS = "-c DateStyle=ISO -c TimeZone=UTC"

# libpq's constants (libpq-fe.h)
_CONNECTION_OK = 0
_PGRES_COMMAND_OK = 1
_PGRES_TUPLES_OK = 2
_PG_DIAG_SQLSTATE = ord("C")
_PQTRANS_IDLE = 0


class _Option(ctypes.Structure):
    """PQconninfoOption: one connection keyword as libpq parsed it."""

    _fields_ = (
        ("keyword", ctypes.c_char_p),
        ("envvar", ctypes.c_char_p),
        ("compiled", ctypes.c_char_p),
        ("val", ctypes.c_char_p),
        ("label", ctypes.c_char_p),
        ("dispchar", ctypes.c_char_p),
        ("dispsize", ctypes.c_int),
    )


def _candidates() -> list[str]:
    """libpq as psycopg's wheel bundles it, then the system's."""
    import importlib.util

    found = []
    spec = importlib.util.find_spec("psycopg_binary")  # finds, does not import
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            found += sorted(glob.glob(os.path.join(folder + ".libs", "libpq*.so*")))
    return [*found, "libpq.so.5", "libpq.dylib", "libpq.5.dylib"]


_LIB: ctypes.CDLL | None = None
_GETVALUE: list[Any] = []


def _lib() -> ctypes.CDLL | None:
    global _LIB
    if _LIB is not None:
        return _LIB
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        p, c, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
        for name, restype, argtypes in (
            ("PQconninfoParse", ctypes.POINTER(_Option), [c, ctypes.POINTER(p)]),
            ("PQconninfoFree", None, [ctypes.POINTER(_Option)]),
            ("PQfreemem", None, [p]),
            ("PQconnectdbParams", p, [ctypes.POINTER(c), ctypes.POINTER(c), i]),
            ("PQstatus", i, [p]),
            ("PQtransactionStatus", i, [p]),
            ("PQerrorMessage", c, [p]),
            ("PQfinish", None, [p]),
            (
                "PQexecParams",
                p,
                [p, c, i, ctypes.POINTER(ctypes.c_uint), ctypes.POINTER(c), p, p, i],
            ),
            ("PQresultStatus", i, [p]),
            ("PQresultErrorMessage", c, [p]),
            ("PQresultErrorField", c, [p, i]),
            ("PQntuples", i, [p]),
            ("PQnfields", i, [p]),
            ("PQftype", ctypes.c_uint, [p, i]),
            ("PQgetvalue", c, [p, i, i]),
            ("PQgetisnull", i, [p, i, i]),
            ("PQcmdTuples", c, [p]),
            ("PQclear", None, [p]),
        ):
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
        getvalue = ctypes.CDLL(path).PQgetvalue  # a pointer of its own, without argtypes
        getvalue.restype = c
        _GETVALUE[:] = [getvalue]
        _LIB = lib
        return lib
    return None


def parse_url(url: str) -> dict[str, str] | None:
    """The URL's connection keywords as libpq reads them, or None when it does not parse."""
    lib = _lib()
    if lib is None:
        return None
    error = ctypes.c_void_p()
    options = lib.PQconninfoParse(url.encode(), ctypes.byref(error))
    if not options:
        if error.value:
            lib.PQfreemem(error)
        return None
    found = {}
    try:
        i = 0
        while options[i].keyword is not None:
            if options[i].val is not None:
                found[options[i].keyword.decode()] = options[i].val.decode()
            i += 1
    finally:
        lib.PQconninfoFree(options)
    return found


# -- values in and out, as psycopg converts them ----------------------------------------------
def _bool(v: bytes) -> bool:
    return v == b"t"


def _time(v: bytes) -> datetime:
    return datetime.fromisoformat(v.decode())


def _json(v: bytes) -> Any:
    import json

    return json.loads(v)


def _bytea(v: bytes) -> bytes:
    return bytes.fromhex(v[2:].decode())  # hex format: \x0a1b…


def _numeric(v: bytes) -> Any:
    from decimal import Decimal

    return Decimal(v.decode())


def _text(v: bytes) -> str:
    return v.decode()


_OUT: dict[int, Callable[[bytes], Any]] = {
    16: _bool,
    17: _bytea,
    20: int,
    21: int,
    23: int,
    26: int,
    114: _json,
    700: float,
    701: float,
    1114: _time,
    1184: _time,
    1700: _numeric,
    3802: _json,
}


def _param(value: Any) -> tuple[bytes | None, int]:
    """A parameter as text, with the type psycopg would send (0: the server infers it)."""
    if value is None:
        return None, 0
    if isinstance(value, bool):
        return (b"t" if value else b"f"), 16
    if isinstance(value, int):
        return str(value).encode(), 20
    if isinstance(value, float):
        return repr(value).encode(), 701
    if isinstance(value, datetime):
        return value.isoformat().encode(), 1184 if value.tzinfo else 1114
    if isinstance(value, bytes):
        return b"\\x" + value.hex().encode(), 17
    return str(value).encode(), 0


def _numbered(query: str) -> str:
    """psycopg's %s placeholders as PostgreSQL's $1, $2…; %% is a literal %."""
    out, n, i = [], 0, 0
    while i < len(query):
        ch = query[i]
        if ch == "%" and i + 1 < len(query) and query[i + 1] in "s%":
            if query[i + 1] == "s":
                n += 1
                out.append(f"${n}")
            else:
                out.append("%")
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


class _Cursor:
    """The part of a DB-API cursor the shared SQL uses for reading."""

    def __init__(self, reader: PostgresReader) -> None:
        self._reader = reader
        self._rows: list[tuple[Any, ...]] = []
        self._at = 0
        self.rowcount = -1

    def execute(self, query: str, params: Sequence[Any] | None = None) -> _Cursor:
        self._rows, self.rowcount = self._reader._run(query, params or ())
        self._at = 0
        return self

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    def fetchmany(self, size: int) -> list[tuple[Any, ...]]:
        batch = self._rows[self._at : self._at + size]
        self._at += len(batch)
        return batch

    def fetchall(self) -> list[tuple[Any, ...]]:
        rest = self._rows[self._at :]
        self._at = len(self._rows)
        return rest

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        while (row := self.fetchone()) is not None:
            yield row


class PostgresReader(SqlStore):
    """The team's PostgreSQL database, for reading only (see the module's docstring)."""

    backend = "postgresql"
    dialect = POSTGRESQL

    def __init__(self, lib: ctypes.CDLL, conn: int, location: str) -> None:
        self._lib = lib
        self._conn: int | None = conn
        self.location = location

    def close(self) -> None:
        if self._conn is not None:
            self._lib.PQfinish(self._conn)
            self._conn = None

    def _run(self, query: str, params: Sequence[Any]) -> tuple[list[tuple[Any, ...]], int]:
        lib, conn = self._lib, self._conn
        if conn is None:
            raise StoreUnavailable(f"the connection to {self.location} is closed")
        values, types = zip(*(_param(p) for p in params), strict=True) if params else ((), ())
        n = len(values)
        result = lib.PQexecParams(
            conn,
            _numbered(query).encode(),
            n,
            (ctypes.c_uint * n)(*types) if n else None,
            (ctypes.c_char_p * n)(*values) if n else None,
            None,
            None,
            0,
        )
        if not result:
            message = (lib.PQerrorMessage(conn) or b"").decode(errors="replace").strip()
            raise StoreUnavailable(
                f"lost the connection to PostgreSQL at {self.location}: {message}"
            )
        try:
            status = lib.PQresultStatus(result)
            if status not in (_PGRES_TUPLES_OK, _PGRES_COMMAND_OK):
                raise self._error(result)
            count = (lib.PQcmdTuples(result) or b"").decode()
            rowcount = int(count) if count else -1
            if status != _PGRES_TUPLES_OK:
                return [], rowcount
            return self._rows_of(result), rowcount
        finally:
            lib.PQclear(result)

    def status_rows(
        self, *, stage: Stage | None = None, owner: str | None = None
    ) -> list[StatusRow]:
        """The board in one JSON value: read a value at a time through ctypes, 2,000 models
        cost more than their query."""
        where, params = self._status_where(stage, owner)
        query = (
            f"SELECT COALESCE(json_agg(json_build_array({STATUS_COLUMNS}) ORDER BY name), "
            f"'[]') FROM models{where}"
        )
        found, _ = self._run(self.dialect.sql(query), params)
        t = self.dialect.time_out
        return [
            StatusRow(r[0], r[1], r[2], r[3], r[4], r[5], t(datetime.fromisoformat(r[6])), r[7])
            for r in found[0][0]
        ]

    def _rows_of(self, result: int) -> list[tuple[Any, ...]]:
        lib = self._lib
        columns = range(lib.PQnfields(result))
        converts = [_OUT.get(lib.PQftype(result, c), _text) for c in columns]
        # The one call made per value, so the lean one: no argtypes (their checks double a
        # call's cost), the result passed as a ready pointer.
        value, isnull, at = _GETVALUE[0], lib.PQgetisnull, ctypes.c_void_p(result)
        rows = []
        for r in range(lib.PQntuples(result)):
            row = []
            for c in columns:
                v = value(at, r, c)
                # an empty string and NULL both come back empty: only then ask which
                row.append(None if not v and isnull(result, r, c) else converts[c](v))
            rows.append(tuple(row))
        return rows

    def _error(self, result: int) -> Exception:
        lib = self._lib
        message = (lib.PQresultErrorMessage(result) or b"").decode(errors="replace").strip()
        state = (lib.PQresultErrorField(result, _PG_DIAG_SQLSTATE) or b"").decode()
        first = message.splitlines()[0] if message else "an unknown error"
        if state.startswith(("08", "57P")):  # connection lost, server shutting down
            return StoreUnavailable(
                f"lost the connection to PostgreSQL at {self.location}: {first}"
            )
        if state == "57014":
            return StoreUnavailable(
                f"PostgreSQL at {self.location} cancelled the statement ({first})"
            )
        return RuntimeError(f"PostgreSQL refused a read ({state}): {first}")

    @contextmanager
    def _read(self) -> Iterator[_Cursor]:
        if self._conn is not None and self._lib.PQtransactionStatus(self._conn) != _PQTRANS_IDLE:
            yield _Cursor(self)  # inside a read already (a use case reading in steps)
            return
        self._run("BEGIN READ ONLY", ())
        try:
            yield _Cursor(self)
        except BaseException:
            if self._conn is not None:
                self._run("ROLLBACK", ())
            raise
        self._run("COMMIT", ())

    def _write(self) -> Any:
        raise RuntimeError("the lean PostgreSQL reader cannot write; open the full store")

    def schema_version(self) -> int:
        with self._read() as cur:
            return self.dialect.schema_version(cur)

    def migrate(self) -> tuple[int, int]:
        raise RuntimeError("the lean PostgreSQL reader cannot migrate; open the full store")


def open_reader(url: str) -> PostgresReader | None:
    """A connected reader on the current schema, or None for the full store to take over
    (no libpq, a URL libpq refuses, an unreachable server, a schema to migrate)."""
    from mlops_tui.store.migrations import LATEST

    lib = _lib()
    info = parse_url(url) if lib is not None else None
    if lib is None or info is None:
        return None
    own = info.get("options") or os.environ.get("PGOPTIONS", "")
    settings = {
        "dbname": url,  # expanded by libpq: the URL's own keywords, then these
        "connect_timeout": str(CONNECT_TIMEOUT_S),
        "application_name": "mlops-tui",
        "client_encoding": "UTF8",
        "options": f"{SESSION_OPTIONS} {own} {_FORMATS}".strip(),
    }
    keys = (ctypes.c_char_p * (len(settings) + 1))(*(k.encode() for k in settings), None)
    values = (ctypes.c_char_p * (len(settings) + 1))(*(v.encode() for v in settings.values()), None)
    conn = lib.PQconnectdbParams(keys, values, 1)
    if not conn:
        return None
    if lib.PQstatus(conn) != _CONNECTION_OK:
        lib.PQfinish(conn)
        return None
    reader = PostgresReader(lib, conn, location(info))
    try:
        current = reader.schema_version() == LATEST
    except Exception:
        current = False
    if not current:
        reader.close()
        return None
    return reader
