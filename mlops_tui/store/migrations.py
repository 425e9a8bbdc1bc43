"""The schema, one numbered step at a time, in each backend's dialect.

A step is never edited once released: a change is a new step, so a database made by any
earlier release is brought up to date in place.
"""

from __future__ import annotations

GENESIS = "0" * 64  # domain.CHAIN_GENESIS: the previous hash of the first event

SQLITE: dict[int, list[str]] = {
    1: [
        """
        CREATE TABLE models (
            name TEXT PRIMARY KEY,
            description TEXT NOT NULL DEFAULT '',
            repo TEXT,
            tags TEXT NOT NULL DEFAULT '[]',
            stage TEXT NOT NULL
                CHECK (stage IN ('plan', 'build', 'test', 'deploy', 'monitor')),
            iteration INTEGER NOT NULL DEFAULT 1,
            owner TEXT NOT NULL,
            backup TEXT,
            oncall TEXT,
            version INTEGER,
            production_version INTEGER,
            health TEXT NOT NULL DEFAULT 'unknown',
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            revision INTEGER NOT NULL DEFAULT 1
        ) WITHOUT ROWID
        """,
        "CREATE INDEX models_stage ON models (stage)",
        "CREATE INDEX models_owner ON models (owner)",
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            model TEXT,
            kind TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}'
        )
        """,
        "CREATE INDEX events_model ON events (model, id)",
        "CREATE INDEX events_actor ON events (actor, id)",
        "CREATE INDEX events_at ON events (at)",
        """
        CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'the history is append-only'); END
        """,
        """
        CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'the history is append-only'); END
        """,
    ],
    2: [
        """
        CREATE TABLE versions (
            model TEXT NOT NULL REFERENCES models (name),
            number INTEGER NOT NULL,
            inputs TEXT NOT NULL,
            commit_sha TEXT,
            data_ref TEXT,
            params TEXT NOT NULL DEFAULT '{}',
            image TEXT,
            image_id TEXT,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            PRIMARY KEY (model, number),
            UNIQUE (model, inputs)
        )
        """,
        """
        CREATE TABLE builds (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            model TEXT NOT NULL REFERENCES models (name),
            version INTEGER NOT NULL,
            inputs TEXT NOT NULL,
            commit_sha TEXT NOT NULL,
            ref TEXT,
            status TEXT NOT NULL CHECK (status IN
                ('running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
            started_at TEXT NOT NULL,
            finished_at TEXT,
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
    ],
    # 3: the loop's evidence (issue 5): test runs, deployments, checks, alerts.
    3: [
        """
        CREATE TABLE test_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            model TEXT NOT NULL REFERENCES models (name),
            version INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN
                ('running', 'passed', 'failed', 'cancelled', 'interrupted')),
            started_at TEXT NOT NULL,
            finished_at TEXT,
            actor TEXT NOT NULL,
            commit_sha TEXT,
            in_image INTEGER NOT NULL DEFAULT 0,
            command TEXT NOT NULL DEFAULT '[]',
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
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            model TEXT NOT NULL REFERENCES models (name),
            version INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('deploy', 'rollback')),
            target TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN
                ('running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
            started_at TEXT NOT NULL,
            finished_at TEXT,
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
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            model TEXT NOT NULL REFERENCES models (name),
            at TEXT NOT NULL,
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
            at TEXT NOT NULL,
            metric TEXT NOT NULL,
            value DOUBLE PRECISION,
            status TEXT NOT NULL
        )
        """,
        "CREATE INDEX check_results_series ON check_results (model, metric, at)",
        """
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            model TEXT NOT NULL REFERENCES models (name),
            metric TEXT NOT NULL,
            value DOUBLE PRECISION,
            threshold DOUBLE PRECISION,
            status TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
            opened_at TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            acked_at TEXT,
            acked_by TEXT,
            note TEXT,
            resolved_at TEXT
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
            stale_at TEXT NOT NULL,
            last_ok_at TEXT,
            last_check_at TEXT
        )
        """,
        "CREATE INDEX monitoring_stale ON monitoring (stale_at)",
    ],
    # 4: the team (issue 6): users, handoffs, shared settings, the audit hash chain.
    4: [
        """
        CREATE TABLE users (
            name TEXT PRIMARY KEY,
            email TEXT,
            role TEXT NOT NULL CHECK (role IN ('viewer', 'member', 'maintainer', 'admin')),
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE handoffs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            model TEXT NOT NULL REFERENCES models (name),
            from_user TEXT NOT NULL,
            to_user TEXT NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('pending', 'accepted', 'declined', 'cancelled')),
            checklist TEXT NOT NULL DEFAULT '[]',
            note TEXT,
            reply TEXT,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            updated_at TEXT NOT NULL,
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
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            PRIMARY KEY (model, kind)
        )
        """,
        """
        CREATE TABLE model_views (
            model TEXT NOT NULL,
            actor TEXT NOT NULL,
            at TEXT NOT NULL,
            head INTEGER NOT NULL,
            PRIMARY KEY (model, actor)
        )
        """,
        # The audit chain; existing events get their hashes from TeamSql._backfill_chain.
        "ALTER TABLE events ADD COLUMN prev_hash TEXT",
        "ALTER TABLE events ADD COLUMN hash TEXT",
    ],
    # 5: the registry's extras (issue 8): approvals, webhooks and their outbox, gc records.
    5: [
        """
        CREATE TABLE approval_rules (
            scope TEXT PRIMARY KEY,
            required INTEGER NOT NULL CHECK (required >= 1),
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE webhooks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            url TEXT NOT NULL,
            categories TEXT NOT NULL DEFAULT '',
            secret_env TEXT,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            last_event INTEGER NOT NULL DEFAULT 0,
            active INTEGER NOT NULL DEFAULT 1,
            lease_until TEXT,
            lease_owner TEXT
        )
        """,
        """
        CREATE TABLE webhook_deliveries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            webhook INTEGER NOT NULL REFERENCES webhooks (id),
            event INTEGER NOT NULL,
            kind TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'delivered')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            last_error TEXT,
            delivered_at TEXT,
            UNIQUE (webhook, event)
        )
        """,
        "CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (webhook, status, event)",
        """
        CREATE TABLE webhook_attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            webhook INTEGER NOT NULL REFERENCES webhooks (id),
            event INTEGER,
            kind TEXT NOT NULL,
            at TEXT NOT NULL,
            ok INTEGER NOT NULL,
            code INTEGER,
            error TEXT,
            seconds REAL NOT NULL DEFAULT 0
        )
        """,
        "CREATE INDEX webhook_attempts_webhook ON webhook_attempts (webhook, id)",
    ],
    # 6: the audit chain's anchor: the last event the tool appended (its id and hash) and
    # how many it has appended, moved in the same transaction as each append. Its trigger
    # lets it only move forward, one event at a time (from event 0, once, to anchor what an
    # upgrade or an import finds), so deleting the newest events leaves it where it was and
    # `mlops audit verify` sees what is missing. TeamSql._anchor_chain sets it for the
    # events already there.
    6: [
        """
        CREATE TABLE audit_anchor (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            event INTEGER NOT NULL,
            hash TEXT NOT NULL,
            events INTEGER NOT NULL
        )
        """,
        f"INSERT INTO audit_anchor (id, event, hash, events) VALUES (1, 0, '{GENESIS}', 0)",
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
    ],
}

POSTGRES: dict[int, list[str]] = {
    1: [
        """
        CREATE TABLE IF NOT EXISTS mlops_meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE models (
            name TEXT PRIMARY KEY,
            description TEXT NOT NULL DEFAULT '',
            repo TEXT,
            tags JSONB NOT NULL DEFAULT '[]',
            stage TEXT NOT NULL
                CHECK (stage IN ('plan', 'build', 'test', 'deploy', 'monitor')),
            iteration INTEGER NOT NULL DEFAULT 1,
            owner TEXT NOT NULL,
            backup TEXT,
            oncall TEXT,
            version INTEGER,
            production_version INTEGER,
            health TEXT NOT NULL DEFAULT 'unknown',
            created_at TIMESTAMPTZ NOT NULL,
            created_by TEXT NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            updated_by TEXT NOT NULL,
            revision INTEGER NOT NULL DEFAULT 1
        )
        """,
        "CREATE INDEX models_stage ON models (stage)",
        "CREATE INDEX models_owner ON models (owner)",
        """
        CREATE TABLE events (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            at TIMESTAMPTZ NOT NULL,
            actor TEXT NOT NULL,
            model TEXT,
            kind TEXT NOT NULL,
            data JSONB NOT NULL DEFAULT '{}'
        )
        """,
        "CREATE INDEX events_model ON events (model, id)",
        "CREATE INDEX events_actor ON events (actor, id)",
        "CREATE INDEX events_at ON events (at)",
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
    ],
    2: [
        """
        CREATE TABLE versions (
            model TEXT NOT NULL REFERENCES models (name),
            number INTEGER NOT NULL,
            inputs TEXT NOT NULL,
            commit_sha TEXT,
            data_ref TEXT,
            params JSONB NOT NULL DEFAULT '{}',
            image TEXT,
            image_id TEXT,
            created_at TIMESTAMPTZ NOT NULL,
            created_by TEXT NOT NULL,
            PRIMARY KEY (model, number),
            UNIQUE (model, inputs)
        )
        """,
        """
        CREATE TABLE builds (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            model TEXT NOT NULL REFERENCES models (name),
            version INTEGER NOT NULL,
            inputs TEXT NOT NULL,
            commit_sha TEXT NOT NULL,
            ref TEXT,
            status TEXT NOT NULL CHECK (status IN
                ('running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
            started_at TIMESTAMPTZ NOT NULL,
            finished_at TIMESTAMPTZ,
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
    ],
    # 3: the loop's evidence (issue 5): test runs, deployments, checks, alerts.
    3: [
        """
        CREATE TABLE test_runs (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            model TEXT NOT NULL REFERENCES models (name),
            version INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN
                ('running', 'passed', 'failed', 'cancelled', 'interrupted')),
            started_at TIMESTAMPTZ NOT NULL,
            finished_at TIMESTAMPTZ,
            actor TEXT NOT NULL,
            commit_sha TEXT,
            in_image INTEGER NOT NULL DEFAULT 0,
            command JSONB NOT NULL DEFAULT '[]',
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
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            model TEXT NOT NULL REFERENCES models (name),
            version INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('deploy', 'rollback')),
            target TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN
                ('running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
            started_at TIMESTAMPTZ NOT NULL,
            finished_at TIMESTAMPTZ,
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
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            model TEXT NOT NULL REFERENCES models (name),
            at TIMESTAMPTZ NOT NULL,
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
            at TIMESTAMPTZ NOT NULL,
            metric TEXT NOT NULL,
            value DOUBLE PRECISION,
            status TEXT NOT NULL
        )
        """,
        "CREATE INDEX check_results_series ON check_results (model, metric, at)",
        """
        CREATE TABLE alerts (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            model TEXT NOT NULL REFERENCES models (name),
            metric TEXT NOT NULL,
            value DOUBLE PRECISION,
            threshold DOUBLE PRECISION,
            status TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
            opened_at TIMESTAMPTZ NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            acked_at TIMESTAMPTZ,
            acked_by TEXT,
            note TEXT,
            resolved_at TIMESTAMPTZ
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
            stale_at TIMESTAMPTZ NOT NULL,
            last_ok_at TIMESTAMPTZ,
            last_check_at TIMESTAMPTZ
        )
        """,
        "CREATE INDEX monitoring_stale ON monitoring (stale_at)",
    ],
    # 4: the team (issue 6): users, handoffs, shared settings, the audit hash chain.
    4: [
        """
        CREATE TABLE users (
            name TEXT PRIMARY KEY,
            email TEXT,
            role TEXT NOT NULL CHECK (role IN ('viewer', 'member', 'maintainer', 'admin')),
            active INTEGER NOT NULL DEFAULT 1,
            created_at TIMESTAMPTZ NOT NULL,
            created_by TEXT NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            updated_by TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            updated_by TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE handoffs (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            model TEXT NOT NULL REFERENCES models (name),
            from_user TEXT NOT NULL,
            to_user TEXT NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('pending', 'accepted', 'declined', 'cancelled')),
            checklist TEXT NOT NULL DEFAULT '[]',
            note TEXT,
            reply TEXT,
            created_at TIMESTAMPTZ NOT NULL,
            created_by TEXT NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
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
            updated_at TIMESTAMPTZ NOT NULL,
            updated_by TEXT NOT NULL,
            PRIMARY KEY (model, kind)
        )
        """,
        """
        CREATE TABLE model_views (
            model TEXT NOT NULL,
            actor TEXT NOT NULL,
            at TIMESTAMPTZ NOT NULL,
            head BIGINT NOT NULL,
            PRIMARY KEY (model, actor)
        )
        """,
        # The audit chain; existing events get their hashes from TeamSql._backfill_chain.
        "ALTER TABLE events ADD COLUMN prev_hash TEXT",
        "ALTER TABLE events ADD COLUMN hash TEXT",
    ],
    # 5: the registry's extras (issue 8): approvals, webhooks and their outbox, gc records.
    5: [
        """
        CREATE TABLE approval_rules (
            scope TEXT PRIMARY KEY,
            required INTEGER NOT NULL CHECK (required >= 1),
            updated_at TIMESTAMPTZ NOT NULL,
            updated_by TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE webhooks (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            url TEXT NOT NULL,
            categories TEXT NOT NULL DEFAULT '',
            secret_env TEXT,
            created_at TIMESTAMPTZ NOT NULL,
            created_by TEXT NOT NULL,
            last_event BIGINT NOT NULL DEFAULT 0,
            active INTEGER NOT NULL DEFAULT 1,
            lease_until TIMESTAMPTZ,
            lease_owner TEXT
        )
        """,
        """
        CREATE TABLE webhook_deliveries (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            webhook BIGINT NOT NULL REFERENCES webhooks (id),
            event BIGINT NOT NULL,
            kind TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'delivered')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TIMESTAMPTZ,
            last_error TEXT,
            delivered_at TIMESTAMPTZ,
            UNIQUE (webhook, event)
        )
        """,
        "CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (webhook, status, event)",
        """
        CREATE TABLE webhook_attempts (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            webhook BIGINT NOT NULL REFERENCES webhooks (id),
            event BIGINT,
            kind TEXT NOT NULL,
            at TIMESTAMPTZ NOT NULL,
            ok INTEGER NOT NULL,
            code INTEGER,
            error TEXT,
            seconds DOUBLE PRECISION NOT NULL DEFAULT 0
        )
        """,
        "CREATE INDEX webhook_attempts_webhook ON webhook_attempts (webhook, id)",
    ],
    # 6: the audit chain's anchor (see SQLITE[6]), and TRUNCATE refused on the history: it
    # skips row triggers, so the table's owner could otherwise empty it in one statement.
    6: [
        """
        CREATE TABLE audit_anchor (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            event BIGINT NOT NULL,
            hash TEXT NOT NULL,
            events BIGINT NOT NULL
        )
        """,
        f"INSERT INTO audit_anchor (id, event, hash, events) VALUES (1, 0, '{GENESIS}', 0)",
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
    ],
}

# Python run after a step's statements, in the same transaction: a store method's name,
# called with the cursor (e.g. to fill a new column from existing rows).
HOOKS: dict[int, str] = {4: "_backfill_chain", 6: "_anchor_chain"}

LATEST = max(SQLITE)
assert max(POSTGRES) == LATEST, "both dialects must reach the same schema version"
