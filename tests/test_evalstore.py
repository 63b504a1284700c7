"""The eval store: schema versioning, concurrent writers, a killed writer, the age gauge."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from prometheus_client import CollectorRegistry

from otel_llm.evalstore import SCHEMA_VERSION, EvalStore, StoreError, register_evalset_age

WRITER = textwrap.dedent("""
    import sys
    from otel_llm.evalstore import EvalStore
    store = EvalStore(sys.argv[1])
    tag = sys.argv[2]
    i = 0
    while True:
        store.add_feedback(feedback_id=f"{tag}-{i}", kind="thumbs", rating="down", trace_id="ab" * 16,
                           comment="x" * 200)
        print(i, flush=True)   # printed only after the row's transaction committed
        i += 1
""")


def test_new_store_has_current_schema_and_reopens_without_migrating_again(tmp_path):
    path = tmp_path / "s.sqlite3"
    with EvalStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        store.add_feedback(feedback_id="a", kind="thumbs", rating="up", response_id="r")
        created = store.created_at()
    with EvalStore(path) as again:
        assert again.schema_version == SCHEMA_VERSION
        assert again.created_at() == created
        assert again.counts()["thumbs_up"] == 1
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_store_written_by_a_newer_otel_llm_is_refused(tmp_path):
    path = tmp_path / "s.sqlite3"
    EvalStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        EvalStore(path)


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path):
    path = tmp_path / "s.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open eval store"):
        EvalStore(path)
    with pytest.raises(StoreError, match="directory does not exist"):
        EvalStore(tmp_path / "missing" / "s.sqlite3")


def test_constraint_violations_are_rejected_not_stored(tmp_path):
    with EvalStore(tmp_path / "s.sqlite3") as store:
        with pytest.raises(sqlite3.IntegrityError):
            store.add_feedback(feedback_id="a", kind="thumbs", rating="sideways")
        with pytest.raises(sqlite3.IntegrityError):
            store.add_feedback(feedback_id="b", kind="praise")
        assert store.counts()["feedback"] == 0


def test_concurrent_writers_in_threads_and_processes_lose_nothing(tmp_path):
    path = tmp_path / "s.sqlite3"
    EvalStore(path).close()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"p{n}"], stdout=subprocess.PIPE, text=True)
             for n in range(2)]
    store = EvalStore(path)

    def write(tag: str) -> None:
        for i in range(50):
            store.add_feedback(feedback_id=f"{tag}-{i}", kind="thumbs", rating="up", response_id="r")

    threads = [threading.Thread(target=write, args=(f"t{n}",)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    committed = {}
    for n, proc in enumerate(procs):
        lines = []
        while len(lines) < 50:
            lines.append(int(proc.stdout.readline()))
        proc.terminate()
        rest, _ = proc.communicate(timeout=10)
        lines += [int(x) for x in rest.split()]
        committed[f"p{n}"] = len(lines)
    ids = {r["feedback_id"] for r in store.feedback()}
    assert {f"t{n}-{i}" for n in range(3) for i in range(50)} <= ids
    for tag, count in committed.items():
        assert {f"{tag}-{i}" for i in range(count)} <= ids
    store.close()


def test_a_writer_killed_mid_writes_loses_no_committed_row(tmp_path):
    path = tmp_path / "s.sqlite3"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "k"], stdout=subprocess.PIPE, text=True)
    confirmed = []
    while len(confirmed) < 200:
        confirmed.append(int(proc.stdout.readline()))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    confirmed += [int(x) for x in proc.stdout.read().split()]
    with EvalStore(path) as store:  # recovers the WAL left behind by the killed writer
        ids = {r["feedback_id"] for r in store.feedback()}
        assert {f"k-{i}" for i in confirmed} <= ids
        assert len(ids) in (len(confirmed), len(confirmed) + 1)  # at most the in-flight row beyond
        assert store._read("PRAGMA integrity_check")[0]["integrity_check"] == "ok"
        store.add_feedback(feedback_id="after", kind="thumbs", rating="up", response_id="r")
        assert store.counts()["feedback"] == len(ids) + 1


def test_evalset_age_gauge_counts_from_creation_then_from_the_last_refresh(tmp_path):
    with EvalStore(tmp_path / "s.sqlite3") as store:
        registry = CollectorRegistry()
        register_evalset_age(store, "shop", registry)
        labels = {"service_name": "shop"}
        never = registry.get_sample_value("llm_evalset_age_seconds", labels)
        assert 0 <= never < 5  # never refreshed: as old as the store
        store.record_golden_refresh("golden.jsonl", added=3, total=3, refreshed_at=time.time() - 8 * 86400)
        assert registry.get_sample_value("llm_evalset_age_seconds", labels) == pytest.approx(8 * 86400, abs=5)
        store.record_golden_refresh("golden.jsonl", added=1, total=4)
        assert registry.get_sample_value("llm_evalset_age_seconds", labels) < 5


def test_processes_creating_the_same_new_store_at_once_all_succeed(tmp_path):
    path = tmp_path / "fresh.sqlite3"
    script = textwrap.dedent("""
        import sys
        from otel_llm.evalstore import EvalStore
        store = EvalStore(sys.argv[1])
        for j in range(20):
            store.add_feedback(feedback_id=f"{sys.argv[2]}-{j}", kind="thumbs", rating="up", response_id="r")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), str(n)], stderr=subprocess.PIPE, text=True)
             for n in range(4)]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    with EvalStore(path) as store:
        assert store.counts()["feedback"] == 80
        assert store.schema_version == SCHEMA_VERSION


def test_a_version_1_store_is_migrated_forward_keeping_its_rows(tmp_path):
    from otel_llm.evalstore.schema import MIGRATIONS
    from otel_llm.evalstore.store import _statements

    path = tmp_path / "v1.sqlite3"
    conn = sqlite3.connect(path)
    for stmt in _statements(MIGRATIONS[0]):
        conn.execute(stmt)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO meta(key, value) VALUES ('created_at', '1000.0')")
    conn.execute("INSERT INTO interactions(created_at, service, output) VALUES (1.0, 'shop', 'hi')")
    conn.execute("INSERT INTO golden_refreshes(refreshed_at, golden_path, added, total) VALUES (5.0, 'g', 1, 1)")
    conn.commit()
    conn.close()
    with EvalStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION == 3
        assert store.counts()["interactions"] == 1 and store.created_at() == 1000.0
        assert store.evalset_ages(now=105.0) == {"shop": 100.0}  # the old refresh covers every service


def test_evalset_age_has_one_series_per_service(tmp_path):
    now = time.time()
    with EvalStore(tmp_path / "s.sqlite3") as store:
        registry = CollectorRegistry()
        register_evalset_age(store, registry=registry)
        assert registry.get_sample_value("llm_evalset_age_seconds", {"service_name": ""}) < 5  # empty store
        store.add_interaction(service="shop", output="a")
        store.add_interaction(service="search", output="b")
        store.record_golden_refresh("all.jsonl", added=1, total=1, refreshed_at=now - 10 * 86400)
        store.record_golden_refresh("shop.jsonl", added=1, total=2, service="shop", refreshed_at=now - 86400)
        age = {s: registry.get_sample_value("llm_evalset_age_seconds", {"service_name": s})
               for s in ("shop", "search", "")}
        assert age["shop"] == pytest.approx(86400, abs=5)
        assert age["search"] == pytest.approx(10 * 86400, abs=5)  # only the all-services refresh
        assert age[""] is None
