"""The schema's history: an ordered list of named steps, each a Python function.

A step is never edited once released: a change is a new step appended to STEPS, so a
database made by any earlier release is brought up to date in place, in one transaction.
A step's SQL is written once for both backends; the dialect fills in the few words that
differ (`<ID>`, `<TIME>`, `<JSON>`, `<BIGINT>`, `<FLOAT>`, `<WITHOUT ROWID>`), and
`m.sqlite(...)`/`m.postgresql(...)` hold what only one backend has (triggers, functions).
A new column is declared in schema.py and added by a step calling `m.add_column`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlops_tui.domain import CHAIN_GENESIS as GENESIS
from mlops_tui.domain import chain_hash
from mlops_tui.store.dialect import Dialect
from mlops_tui.store.schema import ALERTS, USERS, Table

#: the words of an event that `history --search` finds, as PostgreSQL indexes them: split
#: at anything but letters and digits, as SQLite's FTS5 does ("model.created" is two words)
SEARCH_WORDS = "regexp_replace({}, '[^[:alnum:]]+', ' ', 'g')"
_EVENT_TEXT = "kind || ' ' || actor || ' ' || COALESCE(model, '') || ' ' || data::text"
SEARCH_VECTOR = f"to_tsvector('simple', {SEARCH_WORDS.format(_EVENT_TEXT)})"
#: the SQL type of a schema column, by its type (`<…>` words are the dialect's)
_COLUMN_TYPES = {"int": "INTEGER", "float": "DOUBLE PRECISION", "bool": "INTEGER"}
_COLUMN_TYPES |= {"time": "<TIME>", "json": "<JSON>"}


class Migration:
    """What a step sees: the migrating transaction's cursor and its backend's dialect."""

    def __init__(self, cur: Any, dialect: Dialect) -> None:
        self.cur = cur
        self.dialect = dialect

    def _render(self, statement: str) -> str:
        for word, sql in self.dialect.ddl.items():
            statement = statement.replace(word, sql)
        return statement

    def run(self, *statements: str) -> None:
        """Run statements written for both backends."""
        for statement in statements:
            self.cur.execute(self._render(statement))

    def sqlite(self, *statements: str) -> None:
        """Run statements only SQLite needs."""
        if self.dialect.name == "sqlite":
            self.run(*statements)

    def postgresql(self, *statements: str) -> None:
        """Run statements only PostgreSQL needs."""
        if self.dialect.name == "postgresql":
            self.run(*statements)

    def add_column(self, table: Table[Any], name: str, constraints: str = "") -> None:
        """Add the column `name` as schema.py declares it (NULL, unless `constraints` say
        otherwise, e.g. "NOT NULL DEFAULT 0")."""
        sql_type = _COLUMN_TYPES.get(table.col(name).kind, "TEXT")
        self.run(f"ALTER TABLE {table.name} ADD COLUMN {name} {sql_type} {constraints}".strip())


def backfill_chain(m: Migration) -> None:
    """Hash the history written before the chain existed, in id order, with the append-only
    triggers lifted for the length of this transaction."""
    d = m.dialect
    d.lift_append_only(m.cur)
    m.cur.execute("SELECT id, at, actor, model, kind, data FROM events ORDER BY id")
    prev = GENESIS
    updates = []
    for id_, at, actor, model, kind, data in m.cur.fetchall():
        digest = chain_hash(prev, int(id_), d.time_out(at), actor, model, kind, d.json_out(data))
        updates.append((prev, digest, id_))
        prev = digest
    if updates:
        m.cur.executemany(d.sql("UPDATE events SET prev_hash = ?, hash = ? WHERE id = ?"), updates)
    d.restore_append_only(m.cur)


def anchor_chain(m: Migration) -> None:
    """Anchor the chain at the newest event already there, after an upgrade or an import
    (the anchor's trigger lets it leave event 0 once, for exactly this)."""
    m.cur.execute("SELECT id, hash FROM events WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1")
    row = m.cur.fetchone()
    if row is None:
        return
    m.cur.execute("SELECT count(*) FROM events")
    count = int(m.cur.fetchone()[0])
    m.cur.execute(
        m.dialect.sql("UPDATE audit_anchor SET event = ?, hash = ?, events = ? WHERE id = 1"),
        (int(row[0]), row[1], count),
    )


def create_models_and_history(m: Migration) -> None:
    """Models and their append-only history."""
    m.postgresql(
        """
        CREATE TABLE IF NOT EXISTS mlops_meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )
        """,
    )
    m.run(
        """
        CREATE TABLE models (
            name TEXT PRIMARY KEY,
            description TEXT NOT NULL DEFAULT '',
            repo TEXT,
            tags <JSON> NOT NULL DEFAULT '[]',
            stage TEXT NOT NULL
                CHECK (stage IN ('plan', 'build', 'test', 'deploy', 'monitor')),
            iteration INTEGER NOT NULL DEFAULT 1,
            owner TEXT NOT NULL,
            backup TEXT,
            oncall TEXT,
            version INTEGER,
            production_version INTEGER,
            health TEXT NOT NULL DEFAULT 'unknown',
            created_at <TIME> NOT NULL,
            created_by TEXT NOT NULL,
            updated_at <TIME> NOT NULL,
            updated_by TEXT NOT NULL,
            revision INTEGER NOT NULL DEFAULT 1
        )<WITHOUT ROWID>
        """,
        "CREATE INDEX models_stage ON models (stage)",
        "CREATE INDEX models_owner ON models (owner)",
        """
        CREATE TABLE events (
            id <ID>,
            at <TIME> NOT NULL,
            actor TEXT NOT NULL,
            model TEXT,
            kind TEXT NOT NULL,
            data <JSON> NOT NULL DEFAULT '{}'
        )
        """,
        "CREATE INDEX events_model ON events (model, id)",
        "CREATE INDEX events_actor ON events (actor, id)",
        "CREATE INDEX events_at ON events (at)",
    )
    m.sqlite(
        """
        CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'the history is append-only'); END
        """,
        """
        CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'the history is append-only'); END
        """,
    )
    m.postgresql(
        """
        CREATE OR REPLACE FUNCTION mlops_append_only() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'the history is append-only';
        END
        $$ LANGUAGE plpgsql
        """,
        """
        CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
        FOR EACH ROW EXECUTE FUNCTION mlops_append_only()
        """,
    )


def add_versions_and_builds(m: Migration) -> None:
    """Versions (code + data + parameters) and the builds that make them."""
    m.run(
        """
        CREATE TABLE versions (
            model TEXT NOT NULL REFERENCES models (name),
            number INTEGER NOT NULL,
            inputs TEXT NOT NULL,
            commit_sha TEXT,
            data_ref TEXT,
            params <JSON> NOT NULL DEFAULT '{}',
            image TEXT,
            image_id TEXT,
            created_at <TIME> NOT NULL,
            created_by TEXT NOT NULL,
            PRIMARY KEY (model, number),
            UNIQUE (model, inputs)
        )
        """,
        """
        CREATE TABLE builds (
            id <ID>,
            model TEXT NOT NULL REFERENCES models (name),
            version INTEGER NOT NULL,
            inputs TEXT NOT NULL,
            commit_sha TEXT NOT NULL,
            ref TEXT,
            status TEXT NOT NULL CHECK (status IN
                ('running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
            started_at <TIME> NOT NULL,
            finished_at <TIME>,
            actor TEXT NOT NULL,
            host TEXT,
            pid INTEGER,
            image TEXT,
            url TEXT,
            error TEXT,
            log_tail TEXT NOT NULL DEFAULT ''
        )
        """,
        "CREATE INDEX builds_model ON builds (model, id)",
        "CREATE INDEX builds_status ON builds (status)",
    )


def add_loop_evidence(m: Migration) -> None:
    """The loop's evidence: test runs, deployments, checks, alerts."""
    m.run(
        """
        CREATE TABLE test_runs (
            id <ID>,
            model TEXT NOT NULL REFERENCES models (name),
            version INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN
                ('running', 'passed', 'failed', 'cancelled', 'interrupted')),
            started_at <TIME> NOT NULL,
            finished_at <TIME>,
            actor TEXT NOT NULL,
            commit_sha TEXT,
            in_image INTEGER NOT NULL DEFAULT 0,
            command <JSON> NOT NULL DEFAULT '[]',
            host TEXT,
            pid INTEGER,
            passed INTEGER,
            failed INTEGER,
            skipped INTEGER,
            url TEXT,
            error TEXT,
            log_tail TEXT NOT NULL DEFAULT ''
        )
        """,
        "CREATE INDEX test_runs_model ON test_runs (model, version, id)",
        "CREATE INDEX test_runs_status ON test_runs (status)",
        """
        CREATE TABLE deployments (
            id <ID>,
            model TEXT NOT NULL REFERENCES models (name),
            version INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('deploy', 'rollback')),
            target TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN
                ('running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
            started_at <TIME> NOT NULL,
            finished_at <TIME>,
            actor TEXT NOT NULL,
            image TEXT,
            previous_version INTEGER,
            rolled_back INTEGER NOT NULL DEFAULT 0,
            host TEXT,
            pid INTEGER,
            error TEXT,
            log_tail TEXT NOT NULL DEFAULT ''
        )
        """,
        "CREATE INDEX deployments_model ON deployments (model, id)",
        "CREATE INDEX deployments_status ON deployments (status)",
        """
        CREATE TABLE checks (
            id <ID>,
            model TEXT NOT NULL REFERENCES models (name),
            at <TIME> NOT NULL,
            version INTEGER,
            health TEXT NOT NULL,
            ok INTEGER NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            actor TEXT NOT NULL
        )
        """,
        "CREATE INDEX checks_model ON checks (model, id)",
        """
        CREATE TABLE check_results (
            check_id BIGINT NOT NULL REFERENCES checks (id),
            model TEXT NOT NULL REFERENCES models (name),
            at <TIME> NOT NULL,
            metric TEXT NOT NULL,
            value DOUBLE PRECISION,
            status TEXT NOT NULL
        )
        """,
        "CREATE INDEX check_results_series ON check_results (model, metric, at)",
        """
        CREATE TABLE alerts (
            id <ID>,
            model TEXT NOT NULL REFERENCES models (name),
            metric TEXT NOT NULL,
            value DOUBLE PRECISION,
            threshold DOUBLE PRECISION,
            status TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
            opened_at <TIME> NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            acked_at <TIME>,
            acked_by TEXT,
            note TEXT,
            resolved_at <TIME>
        )
        """,
        # One unresolved alert per model and metric, whatever the number of checks.
        "CREATE UNIQUE INDEX alerts_one_active ON alerts (model, metric) "
        "WHERE status <> 'resolved'",
        "CREATE INDEX alerts_status ON alerts (status, model)",
        # When each production model goes stale unless a check succeeds before then.
        """
        CREATE TABLE monitoring (
            model TEXT PRIMARY KEY REFERENCES models (name),
            stale_at <TIME> NOT NULL,
            last_ok_at <TIME>,
            last_check_at <TIME>
        )
        """,
        "CREATE INDEX monitoring_stale ON monitoring (stale_at)",
    )


def add_team_and_audit_chain(m: Migration) -> None:
    """The team: users, handoffs, shared settings, the audit hash chain."""
    m.run(
        """
        CREATE TABLE users (
            name TEXT PRIMARY KEY,
            email TEXT,
            role TEXT NOT NULL CHECK (role IN ('viewer', 'member', 'maintainer', 'admin')),
            active INTEGER NOT NULL DEFAULT 1,
            created_at <TIME> NOT NULL,
            created_by TEXT NOT NULL,
            updated_at <TIME> NOT NULL,
            updated_by TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at <TIME> NOT NULL,
            updated_by TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE handoffs (
            id <ID>,
            model TEXT NOT NULL REFERENCES models (name),
            from_user TEXT NOT NULL,
            to_user TEXT NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('pending', 'accepted', 'declined', 'cancelled')),
            checklist TEXT NOT NULL DEFAULT '[]',
            note TEXT,
            reply TEXT,
            created_at <TIME> NOT NULL,
            created_by TEXT NOT NULL,
            updated_at <TIME> NOT NULL,
            updated_by TEXT NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX handoffs_one_pending ON handoffs (model) WHERE status = 'pending'",
        "CREATE INDEX handoffs_to ON handoffs (to_user, status)",
        """
        CREATE TABLE model_links (
            model TEXT NOT NULL REFERENCES models (name),
            kind TEXT NOT NULL,
            url TEXT NOT NULL,
            updated_at <TIME> NOT NULL,
            updated_by TEXT NOT NULL,
            PRIMARY KEY (model, kind)
        )
        """,
        """
        CREATE TABLE model_views (
            model TEXT NOT NULL,
            actor TEXT NOT NULL,
            at <TIME> NOT NULL,
            head <BIGINT> NOT NULL,
            PRIMARY KEY (model, actor)
        )
        """,
        # The audit chain; the events already there get their hashes below.
        "ALTER TABLE events ADD COLUMN prev_hash TEXT",
        "ALTER TABLE events ADD COLUMN hash TEXT",
    )
    backfill_chain(m)


def add_registry_extras(m: Migration) -> None:
    """The registry's extras: approvals, webhooks and their outbox, gc records."""
    m.run(
        """
        CREATE TABLE approval_rules (
            scope TEXT PRIMARY KEY,
            required INTEGER NOT NULL CHECK (required >= 1),
            updated_at <TIME> NOT NULL,
            updated_by TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE webhooks (
            id <ID>,
            url TEXT NOT NULL,
            categories TEXT NOT NULL DEFAULT '',
            secret_env TEXT,
            created_at <TIME> NOT NULL,
            created_by TEXT NOT NULL,
            last_event <BIGINT> NOT NULL DEFAULT 0,
            active INTEGER NOT NULL DEFAULT 1,
            lease_until <TIME>,
            lease_owner TEXT
        )
        """,
        """
        CREATE TABLE webhook_deliveries (
            id <ID>,
            webhook <BIGINT> NOT NULL REFERENCES webhooks (id),
            event <BIGINT> NOT NULL,
            kind TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'delivered')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at <TIME>,
            last_error TEXT,
            delivered_at <TIME>,
            UNIQUE (webhook, event)
        )
        """,
        "CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (webhook, status, event)",
        """
        CREATE TABLE webhook_attempts (
            id <ID>,
            webhook <BIGINT> NOT NULL REFERENCES webhooks (id),
            event <BIGINT>,
            kind TEXT NOT NULL,
            at <TIME> NOT NULL,
            ok INTEGER NOT NULL,
            code INTEGER,
            error TEXT,
            seconds <FLOAT> NOT NULL DEFAULT 0
        )
        """,
        "CREATE INDEX webhook_attempts_webhook ON webhook_attempts (webhook, id)",
    )


def add_audit_anchor(m: Migration) -> None:
    """The audit chain's anchor: the last event the tool appended (its id and hash) and how
    many it has appended, moved in the same transaction as each append. Its trigger lets it
    only move forward, one event at a time (from event 0, once, to anchor what an upgrade or
    an import finds), so deleting the newest events leaves it where it was and `mlops audit
    verify` sees what is missing. On PostgreSQL TRUNCATE is refused on the history too: it
    skips row triggers, so the table's owner could otherwise empty it in one statement."""
    m.run(
        """
        CREATE TABLE audit_anchor (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            event <BIGINT> NOT NULL,
            hash TEXT NOT NULL,
            events <BIGINT> NOT NULL
        )
        """,
        f"INSERT INTO audit_anchor (id, event, hash, events) VALUES (1, 0, '{GENESIS}', 0)",
    )
    m.sqlite(
        """
        CREATE TRIGGER audit_anchor_follows BEFORE UPDATE ON audit_anchor
        WHEN NEW.id IS NOT OLD.id OR NEW.event <= OLD.event
            OR (OLD.event <> 0 AND NEW.events <> OLD.events + 1)
        BEGIN SELECT RAISE(ABORT, 'the audit anchor only moves with an append'); END
        """,
        """
        CREATE TRIGGER audit_anchor_kept BEFORE DELETE ON audit_anchor
        BEGIN SELECT RAISE(ABORT, 'the history is append-only'); END
        """,
    )
    m.postgresql(
        """
        CREATE OR REPLACE FUNCTION mlops_anchor_follows() RETURNS trigger AS $$
        BEGIN
            IF NEW.id = OLD.id AND NEW.event > OLD.event
                AND (OLD.event = 0 OR NEW.events = OLD.events + 1) THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION 'the audit anchor only moves with an append';
        END
        $$ LANGUAGE plpgsql
        """,
        """
        CREATE TRIGGER audit_anchor_follows BEFORE UPDATE ON audit_anchor
        FOR EACH ROW EXECUTE FUNCTION mlops_anchor_follows()
        """,
        """
        CREATE TRIGGER audit_anchor_kept BEFORE DELETE ON audit_anchor
        FOR EACH ROW EXECUTE FUNCTION mlops_append_only()
        """,
        """
        CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
        FOR EACH STATEMENT EXECUTE FUNCTION mlops_append_only()
        """,
        """
        CREATE TRIGGER audit_anchor_no_truncate BEFORE TRUNCATE ON audit_anchor
        FOR EACH STATEMENT EXECUTE FUNCTION mlops_append_only()
        """,
    )
    anchor_chain(m)


def add_history_search(m: Migration) -> None:
    """Full-text search over the history (`mlops history --search`): kind, actor, model and
    the event's data, notes included. SQLite keeps an FTS5 index fed by a trigger on each
    append; PostgreSQL a GIN index on the same words as a tsvector. Both split words the
    same simple way (no stemming), so a search finds the same events on either backend."""
    m.sqlite(
        """
        CREATE VIRTUAL TABLE events_search USING fts5(
            kind, actor, model, data, content='events', content_rowid='id'
        )
        """,
        """
        CREATE TRIGGER events_search_add AFTER INSERT ON events BEGIN
            INSERT INTO events_search (rowid, kind, actor, model, data)
            VALUES (new.id, new.kind, new.actor, new.model, new.data);
        END
        """,
        "INSERT INTO events_search (events_search) VALUES ('rebuild')",
    )
    m.postgresql(f"CREATE INDEX events_search ON events USING GIN ({SEARCH_VECTOR})")


def add_change_notices(m: Migration) -> None:
    """PostgreSQL tells listeners (`LISTEN mlops_events`) when events are appended, once per
    statement, with the schema as the payload, so a TUI shows another person's change as it
    commits instead of at its next poll. SQLite has no such channel: its readers poll."""
    m.postgresql(
        """
        CREATE OR REPLACE FUNCTION mlops_notify() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('mlops_events', TG_TABLE_SCHEMA);
            RETURN NULL;
        END
        $$ LANGUAGE plpgsql
        """,
        """
        CREATE TRIGGER events_notify AFTER INSERT ON events
        FOR EACH STATEMENT EXECUTE FUNCTION mlops_notify()
        """,
    )


def add_checkpoints(m: Migration) -> None:
    """Checkpoints of the replayed state, so `status --at` replays only the events after
    the newest one that lies wholly before the moment asked for. `max_at` is the latest
    time among the events folded in (the history's times need not rise with its ids), and
    the state is the service's own bytes: the store keeps them, never reads into them."""
    m.run(
        """
        CREATE TABLE checkpoints (
            upto <BIGINT> NOT NULL,
            replay INTEGER NOT NULL,
            max_at <TIME>,
            models INTEGER NOT NULL,
            state <BYTES> NOT NULL,
            PRIMARY KEY (replay, upto)
        )
        """
    )


def add_service_accounts(m: Migration) -> None:
    """Service accounts: the monitor, CI and servers act under their own names, but are
    shown as bots, hold no model and are never counted among the people."""
    m.add_column(USERS, "bot", "NOT NULL DEFAULT 0")


def add_tokens_and_alert_sources(m: Migration) -> None:
    """API tokens for `mlops serve` (the secret's hash only), and the Alertmanager
    fingerprint of an alert that came from there, so a repeated notification is one alert
    and each series a rule fires for is an alert of its own."""
    m.run(
        """
        CREATE TABLE tokens (
            name TEXT PRIMARY KEY,
            person TEXT NOT NULL,
            hash TEXT NOT NULL UNIQUE,
            created_at <TIME> NOT NULL,
            created_by TEXT NOT NULL,
            last_used_at <TIME>
        )
        """,
    )
    m.add_column(ALERTS, "fingerprint")
    # One unresolved alert per model and metric still, but per series for Alertmanager's:
    # one rule can fire for several series of a model, each resolving on its own.
    m.run(
        "DROP INDEX alerts_one_active",
        "CREATE UNIQUE INDEX alerts_one_active ON alerts (model, metric, COALESCE(fingerprint, ''))"
        " WHERE status <> 'resolved'",
        "CREATE INDEX alerts_fingerprint ON alerts (model, fingerprint)",
    )


def add_mlflow_bridge(m: Migration) -> None:
    """The MLflow bridge: each model's link to a registered model (one model here per
    registered model there, or two would fight over its alias), the versions that are MLflow
    model versions, and the outbox of alias pushes after deployments."""
    m.run(
        """
        CREATE TABLE mlflow_links (
            model TEXT PRIMARY KEY REFERENCES models (name),
            tracking_uri TEXT NOT NULL,
            registered_model TEXT NOT NULL,
            alias TEXT,
            aliases <JSON> NOT NULL DEFAULT '{}',
            tags <JSON> NOT NULL DEFAULT '{}',
            created_at <TIME> NOT NULL,
            created_by TEXT NOT NULL,
            updated_at <TIME> NOT NULL,
            updated_by TEXT NOT NULL,
            last_event <BIGINT> NOT NULL DEFAULT 0,
            UNIQUE (tracking_uri, registered_model)
        )
        """,
        """
        CREATE TABLE mlflow_versions (
            model TEXT NOT NULL,
            number INTEGER NOT NULL,
            registered_model TEXT NOT NULL,
            mlflow_version TEXT NOT NULL,
            run_id TEXT,
            author TEXT,
            metrics <JSON> NOT NULL DEFAULT '{}',
            stage TEXT,
            registered_at <TIME>,
            PRIMARY KEY (model, number),
            UNIQUE (model, registered_model, mlflow_version),
            FOREIGN KEY (model, number) REFERENCES versions (model, number)
        )
        """,
        """
        CREATE TABLE mlflow_pushes (
            id <ID>,
            model TEXT NOT NULL,
            event <BIGINT> NOT NULL,
            version INTEGER NOT NULL,
            tracking_uri TEXT NOT NULL,
            registered_model TEXT NOT NULL,
            mlflow_version TEXT,
            alias TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at <TIME> NOT NULL,
            next_attempt_at <TIME>,
            last_error TEXT,
            done_at <TIME>,
            actor TEXT NOT NULL,
            UNIQUE (model, event)
        )
        """,
        "CREATE INDEX mlflow_pushes_waiting ON mlflow_pushes (status, next_attempt_at)",
    )


#: Every step in order; a database at version N has run the first N.
STEPS: tuple[Callable[[Migration], None], ...] = (
    create_models_and_history,
    add_versions_and_builds,
    add_loop_evidence,
    add_team_and_audit_chain,
    add_registry_extras,
    add_audit_anchor,
    add_history_search,
    add_change_notices,
    add_checkpoints,
    add_service_accounts,
    add_tokens_and_alert_sources,
    add_mlflow_bridge,
)
LATEST = len(STEPS)


def upgrade(cur: Any, dialect: Dialect, current: int, target: int = LATEST) -> None:
    """Run the steps after `current` up to `target` in the caller's transaction, recording
    each version."""
    for version in range(current + 1, target + 1):
        STEPS[version - 1](Migration(cur, dialect))
        dialect.set_schema_version(cur, version)
