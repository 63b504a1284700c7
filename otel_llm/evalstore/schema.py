"""The eval store's schema, as an ordered list of migrations.

``PRAGMA user_version`` holds the number of migrations applied. A store opened
by a newer otel-llm is migrated forward in one transaction per step; a store
written by a *newer* otel-llm than this one is refused rather than misread.
Never edit a released migration: append a new one.
"""

from __future__ import annotations

# Each entry is one migration: a script run inside one transaction.
MIGRATIONS: tuple[str, ...] = (
    # 1: interactions, scores, feedback, corrections, escalations, golden-set refreshes.
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE interactions (
        id INTEGER PRIMARY KEY,
        created_at REAL NOT NULL,
        trace_id TEXT NOT NULL DEFAULT '',
        span_id TEXT NOT NULL DEFAULT '',
        response_id TEXT NOT NULL DEFAULT '',
        service TEXT NOT NULL DEFAULT '',
        provider TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL DEFAULT '',
        feature TEXT NOT NULL DEFAULT '',
        variant TEXT NOT NULL DEFAULT '',
        finish_reason TEXT NOT NULL DEFAULT '',
        input TEXT,
        output TEXT
    );
    CREATE UNIQUE INDEX interactions_span ON interactions(trace_id, span_id) WHERE span_id != '';
    CREATE INDEX interactions_response ON interactions(response_id) WHERE response_id != '';
    CREATE INDEX interactions_time ON interactions(created_at);

    CREATE TABLE scores (
        id INTEGER PRIMARY KEY,
        created_at REAL NOT NULL,
        trace_id TEXT NOT NULL DEFAULT '',
        span_id TEXT NOT NULL DEFAULT '',
        response_id TEXT NOT NULL DEFAULT '',
        evaluator TEXT NOT NULL,
        value REAL NOT NULL,
        label TEXT,
        explanation TEXT
    );
    CREATE INDEX scores_time ON scores(created_at);
    CREATE INDEX scores_span ON scores(trace_id, span_id);

    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY,
        feedback_id TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('thumbs', 'correction', 'escalation')),
        trace_id TEXT NOT NULL DEFAULT '',
        span_id TEXT NOT NULL DEFAULT '',
        response_id TEXT NOT NULL DEFAULT '',
        rating TEXT CHECK (rating IN ('up', 'down')),
        comment TEXT,
        user_id TEXT,
        -- correction: the AI's output and the user's edit; escalation: query, attempt, resolution
        original TEXT,
        edited TEXT,
        query TEXT,
        attempt TEXT,
        resolution TEXT,
        -- the rated call's labels when the sender knew them (model, feature, ...), JSON
        labels TEXT
    );
    CREATE INDEX feedback_time ON feedback(created_at);
    CREATE INDEX feedback_span ON feedback(trace_id, span_id);
    CREATE INDEX feedback_response ON feedback(response_id) WHERE response_id != '';

    CREATE TABLE golden_refreshes (
        id INTEGER PRIMARY KEY,
        refreshed_at REAL NOT NULL,
        golden_path TEXT NOT NULL,
        added INTEGER NOT NULL,
        total INTEGER NOT NULL
    );
    """,
    # 2: golden sets per service (a refresh with service '' covers every service), and the
    # services seen, so the age gauge has one series per service without scanning interactions.
    """
    ALTER TABLE golden_refreshes ADD COLUMN service TEXT NOT NULL DEFAULT '';
    CREATE TABLE services (name TEXT PRIMARY KEY);
    INSERT OR IGNORE INTO services(name) SELECT DISTINCT service FROM interactions;
    """,
    # 3: the experiment of each sampled interaction (its variant was already kept), and the
    # results of golden-set replays (`otel-llm evalset run`), one row per case per run.
    """
    ALTER TABLE interactions ADD COLUMN experiment TEXT NOT NULL DEFAULT '';
    CREATE TABLE golden_results (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        created_at REAL NOT NULL,
        golden_path TEXT NOT NULL DEFAULT '',
        case_id TEXT NOT NULL,
        model TEXT NOT NULL DEFAULT '',
        response_model TEXT NOT NULL DEFAULT '',
        trace_id TEXT NOT NULL DEFAULT '',
        response_id TEXT NOT NULL DEFAULT '',
        passed INTEGER NOT NULL,
        score REAL,
        -- {evaluator: score} and the failed checks with their reasons, JSON
        scores TEXT,
        failures TEXT,
        output TEXT,
        error TEXT
    );
    CREATE INDEX golden_results_run ON golden_results(run_id);
    CREATE INDEX golden_results_time ON golden_results(created_at);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
