"""schema.py is the one declaration of every table: a database made by the migrations, fresh
or upgraded from an old release's file, has exactly the tables and columns it declares, on
both backends."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from mlops_tui.store import is_postgres_url, open_store, schema

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def columns_in(url: str) -> dict[str, set[str]]:
    """Table -> column names, as the database itself reports them."""
    found: dict[str, set[str]] = {}
    if is_postgres_url(url):
        import psycopg

        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema()"
            ).fetchall()
    else:
        with sqlite3.connect(url) as conn:
            tables = [
                r[0]
                for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                # SQLite's own counters, and the history's full-text index (FTS5 tables)
                if r[0] != "sqlite_sequence" and not r[0].startswith("events_search")
            ]
            rows = [(t, c[1]) for t in tables for c in conn.execute(f"PRAGMA table_info({t})")]
    for table, column in rows:
        found.setdefault(table, set()).add(column)
    return found


def declared(url: str) -> dict[str, set[str]]:
    tables = [*schema.TABLES, schema.META] if is_postgres_url(url) else schema.TABLES
    return {t.name: set(t.names) for t in tables}


def test_a_new_database_has_exactly_the_declared_columns(db_url: str) -> None:
    open_store(db_url).close()
    assert columns_in(db_url) == declared(db_url)


def test_an_upgraded_database_has_exactly_the_declared_columns(tmp_path: Path) -> None:
    copy = tmp_path / "old.db"
    shutil.copyfile(FIXTURES / "schema_v1.db", copy)
    assert json.loads((FIXTURES / "schema_v1.json").read_text())["schema_version"] == 1
    open_store(str(copy)).close()
    assert columns_in(str(copy)) == declared(str(copy))


def test_every_record_field_comes_from_a_declared_column() -> None:
    """A reader builds its record from the declared columns (and a join's extras) alone."""
    import dataclasses

    for table in schema.TABLES:
        if table.record is None:
            continue
        fields = {f.name for f in dataclasses.fields(table.record)}
        columns = {table.col(c).field for c in table.record_columns}
        assert columns | set(table.extra) == fields, table.name


@pytest.mark.parametrize("table", [t for t in schema.TABLES if t.export_as], ids=str)
def test_every_exported_table_has_an_order(table: schema.Table) -> None:
    assert set(c.strip() for c in table.order.split(",")) <= set(table.names)
