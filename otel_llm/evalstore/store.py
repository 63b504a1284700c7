"""The embedded eval store: one SQLite file, safe for several writing processes.

Why SQLite: nothing to run, and with write-ahead logging several processes (the
app's evaluation worker, ``otel-llm collector`` taking feedback over HTTP, the
``evalset`` CLI) can write the same file. Every write is its own short
``BEGIN IMMEDIATE`` transaction, so a writer killed mid-way loses at most the
row it had not committed; ``synchronous=FULL`` (the default) also keeps
committed rows through a power cut. Concurrent writers wait up to
``busy_timeout`` seconds for the lock instead of failing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from otel_llm import semconv
from otel_llm.evalstore.schema import MIGRATIONS, SCHEMA_VERSION

DEFAULT_PATH = "otel-llm-evals.sqlite3"
_SYNC = {"full": "FULL", "normal": "NORMAL"}


class StoreError(RuntimeError):
    """The store cannot be opened or used (bad path, newer schema, corrupt file)."""


def default_path() -> Path:
    """``$OTEL_LLM_EVAL_STORE``, else ``./otel-llm-evals.sqlite3``."""
    return Path(os.environ.get(semconv.ENV_EVAL_STORE) or DEFAULT_PATH)


def _statements(script: str) -> Iterator[str]:
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                yield buf
            buf = ""
    if buf.strip():
        yield buf


class EvalStore:
    """Sampled interactions, scores, feedback and golden-set refreshes, in one file.

    Thread-safe (one connection behind a lock); open one ``EvalStore`` per
    process and share it. ``path=None`` uses :func:`default_path`.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, busy_timeout: float = 10.0,
                 synchronous: str = "full") -> None:
        self.path = Path(path) if path is not None else default_path()
        if synchronous.lower() not in _SYNC:
            raise ValueError(f"synchronous must be 'full' or 'normal', got {synchronous!r}")
        if self.path.parent and not self.path.parent.exists():
            raise StoreError(f"eval store directory does not exist: {self.path.parent}")
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None,
                                         check_same_thread=False)
            self._conn.row_factory = sqlite3.Row
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: cannot enable write-ahead logging (journal_mode={mode})")
            self._conn.execute(f"PRAGMA synchronous = {_SYNC[synchronous.lower()]}")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open eval store {self.path}: {exc}") from exc

    # -- lifecycle --------------------------------------------------------------
    def _migrate(self) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {version}, newer than this otel-llm "
                    f"understands ({SCHEMA_VERSION}); upgrade otel-llm"
                )
            for number in range(version, SCHEMA_VERSION):
                for stmt in _statements(MIGRATIONS[number]):
                    conn.execute(stmt)
            if version < SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('created_at', ?)",
                             (repr(time.time()),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> EvalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _write(self, sql: str, params: tuple[Any, ...] | Mapping[str, Any],
               *also: tuple[str, tuple[Any, ...]]) -> sqlite3.Cursor:
        """Run ``sql`` (and any ``also`` statements) in one short write transaction."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                cur = conn.execute(sql, params)
                for extra_sql, extra_params in also:
                    conn.execute(extra_sql, extra_params)
                conn.execute("COMMIT")
                return cur
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _read(self, sql: str, params: tuple[Any, ...] | Mapping[str, Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(row) for row in self._conn.execute(sql, params).fetchall()]

    # -- writes -------------------------------------------------------------------
    def add_interaction(self, *, trace_id: str = "", span_id: str = "", response_id: str = "",
                        service: str = "", provider: str = "", model: str = "", feature: str = "",
                        variant: str = "", finish_reason: str = "", input: Any = None, output: Any = None,
                        created_at: float | None = None, experiment: str = "") -> int:
        """Keep one sampled interaction (content must already be redacted); returns its row id.

        The same (trace_id, span_id) stored twice keeps the first copy.
        """
        cur = self._write(
            "INSERT INTO interactions(created_at, trace_id, span_id, response_id, service, provider, model,"
            " feature, experiment, variant, finish_reason, input, output) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT DO NOTHING",
            (created_at or time.time(), trace_id, span_id, response_id, service, provider, model, feature,
             experiment, variant, finish_reason, _json(input), _json(output)),
            ("INSERT OR IGNORE INTO services(name) VALUES (?)", (service,)),
        )
        return int(cur.lastrowid or 0) if cur.rowcount else 0

    def add_score(self, *, evaluator: str, value: float, label: str | None = None,
                  explanation: str | None = None, trace_id: str = "", span_id: str = "",
                  response_id: str = "", created_at: float | None = None) -> int:
        cur = self._write(
            "INSERT INTO scores(created_at, trace_id, span_id, response_id, evaluator, value, label, explanation)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (created_at or time.time(), trace_id, span_id, response_id, evaluator, float(value), label,
             explanation),
        )
        return int(cur.lastrowid or 0)

    def add_feedback(self, *, feedback_id: str, kind: str, trace_id: str = "", span_id: str = "",
                     response_id: str = "", rating: str | None = None, comment: str | None = None,
                     user_id: str | None = None, original: str | None = None, edited: str | None = None,
                     query: str | None = None, attempt: str | None = None, resolution: str | None = None,
                     labels: Mapping[str, str] | None = None, created_at: float | None = None) -> bool:
        """Keep one piece of feedback; ``False`` if this ``feedback_id`` was already stored."""
        cur = self._write(
            "INSERT INTO feedback(feedback_id, created_at, kind, trace_id, span_id, response_id, rating,"
            " comment, user_id, original, edited, query, attempt, resolution, labels)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(feedback_id) DO NOTHING",
            (feedback_id, created_at or time.time(), kind, trace_id, span_id, response_id, rating, comment,
             user_id, original, edited, query, attempt, resolution,
             json.dumps(dict(labels), sort_keys=True) if labels else None),
        )
        return cur.rowcount == 1

    def add_golden_result(self, *, run_id: str, case_id: str, passed: bool, score: float | None = None,
                          scores: Mapping[str, float] | None = None, failures: list[str] | None = None,
                          golden_path: str = "", model: str = "", response_model: str = "", trace_id: str = "",
                          response_id: str = "", output: str | None = None, error: str | None = None,
                          created_at: float | None = None) -> int:
        """Keep one golden-set case's result from a replay (``otel-llm evalset run``)."""
        cur = self._write(
            "INSERT INTO golden_results(run_id, created_at, golden_path, case_id, model, response_model, trace_id,"
            " response_id, passed, score, scores, failures, output, error) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (run_id, created_at or time.time(), str(golden_path), case_id, model, response_model, trace_id,
             response_id, int(bool(passed)), score, _json(dict(scores or {})), _json(list(failures or [])),
             output, error),
        )
        return int(cur.lastrowid or 0)

    def golden_results(self, run_id: str | None = None, since: float = 0.0) -> list[dict[str, Any]]:
        """Golden-set replay results, one per case, of one run or of every run since ``since``."""
        where, params = ("run_id = ?", (run_id,)) if run_id is not None else ("created_at >= ?", (since,))
        rows = self._read(f"SELECT * FROM golden_results WHERE {where} ORDER BY created_at, id", params)
        for row in rows:
            row["passed"] = bool(row["passed"])
            row["scores"] = _unjson(row["scores"]) or {}
            row["failures"] = _unjson(row["failures"]) or []
        return rows

    def record_golden_refresh(self, golden_path: str, *, added: int, total: int, service: str = "",
                              refreshed_at: float | None = None) -> None:
        """Note that the golden set was refreshed (``llm_evalset_age_seconds`` restarts at 0).

        ``service``: whose golden set it is; ``""`` (default) refreshes every service's.
        """
        self._write(
            "INSERT INTO golden_refreshes(refreshed_at, golden_path, added, total, service) VALUES (?,?,?,?,?)",
            (refreshed_at or time.time(), str(golden_path), added, total, service),
        )

    # -- reads ----------------------------------------------------------------------
    def created_at(self) -> float:
        rows = self._read("SELECT value FROM meta WHERE key = 'created_at'")
        return float(rows[0]["value"]) if rows else 0.0

    def golden_refreshed_at(self) -> float | None:
        """When the golden set was last refreshed, or ``None`` if never."""
        rows = self._read("SELECT MAX(refreshed_at) AS t FROM golden_refreshes")
        t = rows[0]["t"] if rows else None
        return float(t) if t is not None else None

    def evalset_age(self, now: float | None = None) -> float:
        """Seconds since the last golden-set refresh; since the store's creation if never."""
        ref = self.golden_refreshed_at()
        if ref is None:
            ref = self.created_at()
        return max(0.0, (now if now is not None else time.time()) - ref)

    def evalset_ages(self, now: float | None = None, services: set[str] | None = None) -> dict[str, float]:
        """Age per service: since its last refresh (or an all-services one), else since the
        store's creation. ``services`` default: those seen in interactions or refreshes (an
        empty store reports one age under ``""``)."""
        now = now if now is not None else time.time()
        created = self.created_at()
        refreshed = {r["service"]: r["t"] for r in
                     self._read("SELECT service, MAX(refreshed_at) AS t FROM golden_refreshes GROUP BY service")}
        everyone = refreshed.get("")
        if services is None:
            services = {r["name"] for r in self._read("SELECT name FROM services")} | set(refreshed)
            if len(services) > 1:
                services.discard("")
        ages = {}
        for service in services or {""}:
            ref = max((t for t in (refreshed.get(service), everyone) if t is not None), default=created)
            ages[service] = max(0.0, now - ref)
        return ages

    def counts(self) -> dict[str, int]:
        """Row counts per table, and feedback per kind (``thumbs_up``, ``thumbs_down``, ...)."""
        out: dict[str, int] = {}
        for table in ("interactions", "scores", "feedback", "golden_refreshes", "golden_results"):
            out[table] = self._read(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"]
        for row in self._read("SELECT kind, rating, COUNT(*) AS n FROM feedback GROUP BY kind, rating"):
            key = f"thumbs_{row['rating']}" if row["kind"] == "thumbs" else row["kind"]
            out[key] = row["n"]
        return out

    def feedback(self, since: float = 0.0) -> list[dict[str, Any]]:
        rows = self._read("SELECT * FROM feedback WHERE created_at >= ? ORDER BY created_at, id", (since,))
        for row in rows:
            row["labels"] = json.loads(row["labels"]) if row["labels"] else {}
        return rows

    def scores(self, since: float = 0.0) -> list[dict[str, Any]]:
        return self._read("SELECT * FROM scores WHERE created_at >= ? ORDER BY created_at, id", (since,))

    def interactions(self, since: float = 0.0) -> list[dict[str, Any]]:
        rows = self._read("SELECT * FROM interactions WHERE created_at >= ? ORDER BY created_at, id", (since,))
        for row in rows:
            row["input"] = _unjson(row["input"])
            row["output"] = _unjson(row["output"])
        return rows

    def experiment_evidence(self, experiment: str, start: float, end: float) -> dict[str, list[dict[str, Any]]]:
        """What the store knows of one experiment in ``[start, end)``, without content.

        ``interactions``: the sampled calls (variant, ids, time); ``scores``: their
        scores (variant, evaluator, value); ``thumbs``: ratings of the experiment's
        calls (variant, rating), matched to a stored call by span or response id,
        else by the experiment and variant labels the sender gave.
        """
        calls = self._read(
            "SELECT id, created_at, trace_id, span_id, response_id, variant FROM interactions"
            " WHERE experiment = ? AND created_at >= ? AND created_at < ? ORDER BY created_at, id",
            (experiment, start, end))
        by_span = {(r["trace_id"], r["span_id"]): r["variant"] for r in calls if r["span_id"]}
        by_response = {r["response_id"]: r["variant"] for r in calls if r["response_id"]}

        def variant_of(row: dict[str, Any]) -> str | None:
            if row["span_id"] and (row["trace_id"], row["span_id"]) in by_span:
                return by_span[(row["trace_id"], row["span_id"])]
            return by_response.get(row["response_id"]) if row["response_id"] else None

        scores = []
        for row in self._read("SELECT trace_id, span_id, response_id, evaluator, value FROM scores"
                              " WHERE created_at >= ?", (start,)):
            variant = variant_of(row)
            if variant is not None:
                scores.append({"variant": variant, "evaluator": row["evaluator"], "value": row["value"]})
        thumbs = []
        for row in self._read("SELECT trace_id, span_id, response_id, rating, labels FROM feedback"
                              " WHERE kind = 'thumbs' AND created_at >= ? AND created_at < ?", (start, end)):
            variant = variant_of(row)
            if variant is None and row["labels"]:
                labels = json.loads(row["labels"])
                if labels.get("experiment") == experiment and labels.get("variant"):
                    variant = str(labels["variant"])
            if variant is not None:
                thumbs.append({"variant": variant, "rating": row["rating"]})
        return {"interactions": calls, "scores": scores, "thumbs": thumbs}

    def find_interaction(self, *, trace_id: str = "", span_id: str = "",
                         response_id: str = "") -> dict[str, Any] | None:
        """The stored interaction a piece of feedback is about, by span or by response id."""
        rows: list[dict[str, Any]] = []
        if span_id:
            rows = self._read("SELECT * FROM interactions WHERE trace_id = ? AND span_id = ? LIMIT 1",
                              (trace_id, span_id))
        if not rows and response_id:
            rows = self._read("SELECT * FROM interactions WHERE response_id = ? LIMIT 1", (response_id,))
        if not rows:
            return None
        row = rows[0]
        row["input"] = _unjson(row["input"])
        row["output"] = _unjson(row["output"])
        return row


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _unjson(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
