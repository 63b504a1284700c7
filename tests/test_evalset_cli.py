"""`otel-llm evalset export` / `merge`: priority first, stratified sample, de-duplication, counts."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from otel_llm.cli import main
from otel_llm.evalstore import EvalStore

DAY = 86400.0


def _hex(n: int, width: int) -> str:
    return format(n, f"0{width}x")


@pytest.fixture()
def store_path(tmp_path):
    path = tmp_path / "evals.sqlite3"
    now = time.time()
    with EvalStore(path) as store:
        n = 0
        for feature, count in (("search", 30), ("summarise", 6), ("rare", 2)):
            for i in range(count):
                n += 1
                store.add_interaction(trace_id=_hex(n, 32), span_id=_hex(n, 16), response_id=f"resp-{n}",
                                      feature=feature, model="gpt-4o-mini", service="shop",
                                      input=[{"role": "user", "parts": [{"type": "text", "content": f"{feature} q{i}"}]}],
                                      output=f"answer {n}", created_at=now - DAY - n)
        # older than the export window: never exported
        store.add_interaction(trace_id=_hex(999, 32), span_id=_hex(999, 16), feature="search",
                              input="old question", output="old", created_at=now - 30 * DAY)
        store.add_feedback(feedback_id="f-down", kind="thumbs", rating="down", trace_id=_hex(1, 32), span_id=_hex(1, 16))
        store.add_feedback(feedback_id="f-up", kind="thumbs", rating="up", trace_id=_hex(2, 32), span_id=_hex(2, 16))
        store.add_feedback(feedback_id="f-corr", kind="correction", response_id="resp-31", original="answer 31",
                           edited="the right answer")
        store.add_feedback(feedback_id="f-esc", kind="escalation", trace_id=_hex(5000, 32), query="cancel my plan",
                           attempt="I can't", resolution="agent cancelled", labels={"feature": "billing"})
        store.add_score(evaluator="refusal", value=0.0, trace_id=_hex(37, 32), span_id=_hex(37, 16))
        store.add_score(evaluator="refusal", value=1.0, trace_id=_hex(3, 32), span_id=_hex(3, 16))
    return path


def _export(store_path, out, *extra):
    return main(["evalset", "export", "--since", "7d", "--store", str(store_path), "--out", str(out), *extra])


def _read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_export_puts_priority_cases_first_then_a_stratified_sample(store_path, tmp_path, capsys):
    out = tmp_path / "batch.jsonl"
    assert _export(store_path, out, "--sample", "10", "--stratify", "feature", "--seed", "3") == 0
    records = _read(out)
    priority = [r for r in records if r["priority"] != "sample"]
    assert [r["priority"] for r in priority] == ["escalation", "correction", "thumbs_down", "low_score"]
    esc, corr, down, low = priority
    assert (esc["input"], esc["output"], esc["expected"], esc["feature"]) == (
        "cancel my plan", "I can't", "agent cancelled", "billing")
    assert corr["id"] == f"{_hex(31, 32)}:{_hex(31, 16)}"  # found by response id, merged with the interaction
    assert (corr["feature"], corr["output"], corr["expected"]) == ("summarise", "answer 31", "the right answer")
    assert down["id"] == f"{_hex(1, 32)}:{_hex(1, 16)}" and down["feedback"][0]["rating"] == "down"
    assert low["feature"] == "rare" and low["scores"] == {"refusal": 0.0}

    sample = [r for r in records if r["priority"] == "sample"]
    assert len(sample) == 10
    by_feature = {f: sum(r["feature"] == f for r in sample) for f in ("search", "summarise", "rare")}
    assert by_feature["rare"] == 1 and by_feature["summarise"] >= 1  # small strata are represented
    assert by_feature["search"] >= 6  # and the big one gets its proportional share
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids))  # nothing twice
    assert all("old" not in json.dumps(r["input"]) for r in records)  # outside --since
    assert all(r["label"] is None for r in records)
    err = capsys.readouterr().err
    assert "exported 14 records from 38 stored interactions" in err
    assert "export: interactions 38/38" in err  # plain progress lines when not a terminal


def test_same_seed_reproduces_the_sample(store_path, tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert _export(store_path, a, "--sample", "5", "--seed", "9") == 0
    assert _export(store_path, b, "--sample", "5", "--seed", "9") == 0
    assert a.read_text() == b.read_text()


def test_max_priority_caps_the_urgent_cases_most_urgent_first(store_path, tmp_path, capsys):
    out = tmp_path / "batch.jsonl"
    assert _export(store_path, out, "--sample", "0", "--max-priority", "2") == 0
    assert [r["priority"] for r in _read(out)] == ["escalation", "correction"]
    assert "2 priority cases over --max-priority left out" in capsys.readouterr().err


def _label(records, skip=(), discard=()):
    for i, rec in enumerate(records):
        if i in skip:
            continue
        rec["label"] = "discard" if i in discard else ("bad" if rec["priority"] != "sample" else "good")
    return records


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_merge_round_trip_deduplicates_and_counts_right(store_path, tmp_path, capsys):
    batch1, batch2, golden = tmp_path / "b1.jsonl", tmp_path / "b2.jsonl", tmp_path / "golden.jsonl"
    assert _export(store_path, batch1, "--sample", "10", "--seed", "1") == 0
    records = _label(_read(batch1), skip={5}, discard={6})
    _write(batch1, records)
    capsys.readouterr()

    assert main(["evalset", "merge", str(batch1), "--golden", str(golden), "--store", str(store_path)]) == 0
    gold = _read(golden)
    assert len(gold) == 12  # 14 exported - 1 unlabelled - 1 discarded
    assert f"{golden}: 0 before, 12 added, 0 duplicates" in capsys.readouterr().err
    assert all(g["added_at"] and g["source"] == "b1.jsonl" for g in gold)

    # a second batch overlapping the first: same records (by id) and a same-input copy under a new id
    assert _export(store_path, batch2, "--sample", "20", "--seed", "2", "--golden", str(golden)) == 0
    second = _read(batch2)
    assert not {r["id"] for r in second} & {g["id"] for g in gold}  # --golden skips what is already there
    second = _label(second)
    copy = dict(second[0], id="response:some-other-id")
    overlap = [dict(g, label="good") for g in gold[:3]]
    _write(batch2, second + [copy] + overlap)
    assert main(["evalset", "merge", str(batch2), "--golden", str(golden), "--store", str(store_path)]) == 0
    err = capsys.readouterr().err
    gold2 = _read(golden)
    assert len(gold2) == 12 + len(second)
    assert (f"12 before, {len(second)} added, 4 duplicates (3 already in the golden set, 1 within the batches), "
            f"0 unlabelled skipped, 0 discarded; {12 + len(second)} total") in err
    assert gold2[:12] == gold  # existing records untouched, in order
    assert len({g["id"] for g in gold2}) == len(gold2)

    with EvalStore(store_path) as store:
        assert store.counts()["golden_refreshes"] == 2
        assert store.evalset_age() < 60


def test_malformed_batch_changes_nothing(store_path, tmp_path, capsys):
    golden = tmp_path / "golden.jsonl"
    golden.write_text('{"id": "x", "label": "good", "input": "q"}\n')
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "label": "good", "input": "q1"}\n{broken\n')
    assert main(["evalset", "merge", str(bad), "--golden", str(golden), "--store", str(store_path)]) == 2
    assert "bad.jsonl:2: not valid JSON" in capsys.readouterr().err
    assert golden.read_text() == '{"id": "x", "label": "good", "input": "q"}\n'
    with EvalStore(store_path) as store:
        assert store.golden_refreshed_at() is None


def test_export_errors_are_clear(store_path, tmp_path, capsys):
    assert main(["evalset", "export", "--since", "a week", "--store", str(store_path)]) == 2
    assert "not a duration" in capsys.readouterr().err
    assert main(["evalset", "export", "--store", str(tmp_path / "missing.sqlite3")]) == 3
    assert "no eval store" in capsys.readouterr().err


def test_the_installed_command_runs(store_path, tmp_path):
    out = tmp_path / "batch.jsonl"
    proc = subprocess.run([sys.executable, "-m", "otel_llm", "evalset", "export", "--store", str(store_path),
                           "--sample", "3", "--out", str(out)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert len(_read(out)) == 7


def test_per_service_export_and_refresh(store_path, tmp_path, capsys):
    with EvalStore(store_path) as store:
        store.add_interaction(trace_id=_hex(7000, 32), span_id=_hex(7000, 16), service="other", feature="x",
                              input="other q", output="other a", created_at=time.time() - 60)
    out, golden = tmp_path / "b.jsonl", tmp_path / "golden-other.jsonl"
    assert _export(store_path, out, "--service", "other", "--sample", "50") == 0
    records = _read(out)
    assert [r["service"] for r in records] == ["other"]
    _write(out, _label(records))
    assert main(["evalset", "merge", str(out), "--golden", str(golden), "--store", str(store_path),
                 "--service", "other"]) == 0
    with EvalStore(store_path) as store:
        ages = store.evalset_ages()
    assert ages["other"] < 60 and ages["shop"] >= 0 and set(ages) == {"other", "shop"}
