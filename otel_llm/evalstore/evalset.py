"""The living eval set: export reviewable batches from the store, merge labelled ones into the golden set.

A batch is JSONL, one record per line, one record per response (everything the
store knows about it gathered together)::

    {"id": "<trace_id>:<span_id>", "priority": "thumbs_down", "created_at": "2026-11-20T10:00:00Z",
     "trace_id": ..., "span_id": ..., "response_id": ..., "service": ..., "feature": ..., "model": ...,
     "variant": ..., "input": [...], "output": "...", "feedback": [...], "scores": {"refusal": 0.0},
     "expected": "<prefilled from a correction or resolution>", "label": null, "notes": null}

Batches put what needs a human first (``priority``: escalation, correction,
thumbs_down, low_score), then a stratified random ``sample`` of the other
stored interactions, so the golden set keeps tracking production. Reviewers set
``label`` (any verdict, e.g. ``good``/``bad``; ``discard`` drops the record)
and may edit ``expected``. :func:`merge` adds labelled records to the golden
file, skipping duplicates (same ``id``, or same input), and records the refresh
in the store, which resets ``llm_evalset_age_seconds``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from otel_llm.evalstore.store import EvalStore

PRIORITIES = ("escalation", "correction", "thumbs_down", "low_score")  # most urgent first
STRATA = ("feature", "model", "variant", "service", "none")
DISCARD = "discard"
Progress = Callable[[str, int, int], None]  # (step, done, total)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class EvalsetError(ValueError):
    """Bad input to export or merge (a malformed batch line, a bad duration)."""


def parse_duration(text: str) -> float:
    """``30m``, ``24h``, ``7d``, ``2w`` -> seconds."""
    match = _DURATION.match(text or "")
    if not match:
        raise EvalsetError(f"not a duration: {text!r} (use e.g. 30m, 24h, 7d, 2w)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def record_id(trace_id: str = "", span_id: str = "", response_id: str = "", fallback: str = "") -> str:
    if trace_id and span_id:
        return f"{trace_id}:{span_id}"
    if response_id:
        return f"response:{response_id}"
    if trace_id:
        return f"trace:{trace_id}"
    return f"feedback:{fallback}"


def content_key(record: dict[str, Any]) -> str | None:
    """Two records with the same input (normalised) are the same golden case."""
    subject = record.get("input")
    if subject in (None, "", []):
        subject = record.get("output")
    if subject in (None, "", []):
        return None
    text = json.dumps(subject, sort_keys=True, ensure_ascii=False) if not isinstance(subject, str) else subject
    normalised = " ".join(text.lower().split())
    return hashlib.sha256(normalised.encode()).hexdigest()


# -- export ---------------------------------------------------------------------------
@dataclass
class ExportStats:
    interactions: int = 0
    priority: dict[str, int] = field(default_factory=dict)
    priority_left_out: int = 0
    sampled: int = 0
    strata: dict[str, int] = field(default_factory=dict)
    excluded: int = 0


def _subject(subjects: dict[str, dict[str, Any]], by_response: dict[str, str], *, trace_id: str, span_id: str,
             response_id: str, created_at: float, fallback: str = "") -> dict[str, Any]:
    key = record_id(trace_id, span_id, response_id, fallback)
    if key not in subjects and response_id and response_id in by_response:
        key = by_response[response_id]
    rec = subjects.get(key)
    if rec is None:
        rec = subjects[key] = {
            "id": key, "priority": None, "created_at": _iso(created_at), "trace_id": trace_id, "span_id": span_id,
            "response_id": response_id, "service": "", "feature": "", "model": "", "experiment": "", "variant": "",
            "input": None, "output": None, "feedback": [], "scores": {}, "expected": None, "label": None,
            "notes": None,
        }
        if response_id:
            by_response.setdefault(response_id, key)
    return rec


def _raise_priority(rec: dict[str, Any], priority: str) -> None:
    current = rec["priority"]
    if current is None or PRIORITIES.index(priority) < PRIORITIES.index(current):
        rec["priority"] = priority


def build_batch(store: EvalStore, *, since_seconds: float, sample: int = 100, stratify: str = "feature",
                max_priority: int = 100, low_score: float = 0.5, seed: int | None = None,
                exclude_ids: Iterable[str] = (), service: str | None = None, now: float | None = None,
                progress: Progress | None = None) -> tuple[list[dict[str, Any]], ExportStats]:
    """The records of one review batch: priority cases first, then a stratified sample.

    ``service``: only responses known to belong to this service (feedback whose
    call was never stored and that named no service is left out).
    """
    if stratify not in STRATA:
        raise EvalsetError(f"--stratify must be one of {', '.join(STRATA)}, got {stratify!r}")
    if sample < 0 or max_priority < 0:
        raise EvalsetError("--sample and --max-priority must be >= 0")
    since = (now if now is not None else time.time()) - since_seconds
    report = progress or (lambda step, done, total: None)
    stats = ExportStats()
    subjects: dict[str, dict[str, Any]] = {}
    by_response: dict[str, str] = {}

    rows = store.interactions(since)
    stats.interactions = len(rows)
    for i, row in enumerate(rows, 1):
        rec = _subject(subjects, by_response, trace_id=row["trace_id"], span_id=row["span_id"],
                       response_id=row["response_id"], created_at=row["created_at"])
        for key in ("service", "feature", "model", "experiment", "variant", "input", "output"):
            rec[key] = row[key] if row[key] is not None else rec[key]
        if i % 1000 == 0 or i == len(rows):
            report("interactions", i, len(rows))

    fb_rows = store.feedback(since)
    for i, fb in enumerate(fb_rows, 1):
        rec = _subject(subjects, by_response, trace_id=fb["trace_id"], span_id=fb["span_id"],
                       response_id=fb["response_id"], created_at=fb["created_at"], fallback=fb["feedback_id"])
        item = {k: fb[k] for k in ("kind", "rating", "comment", "original", "edited", "query", "attempt",
                                   "resolution") if fb[k] is not None}
        item["at"] = _iso(fb["created_at"])
        rec["feedback"].append(item)
        for key, value in (fb["labels"] or {}).items():
            if key in rec and not rec[key]:
                rec[key] = value
        if fb["kind"] == "escalation":
            _raise_priority(rec, "escalation")
            rec["input"] = rec["input"] if rec["input"] is not None else fb["query"]
            rec["output"] = rec["output"] if rec["output"] is not None else fb["attempt"]
            rec["expected"] = fb["resolution"] or rec["expected"]
        elif fb["kind"] == "correction":
            _raise_priority(rec, "correction")
            rec["output"] = rec["output"] if rec["output"] is not None else fb["original"]
            rec["expected"] = fb["edited"]
        elif fb["rating"] == "down":
            _raise_priority(rec, "thumbs_down")
        if i % 1000 == 0 or i == len(fb_rows):
            report("feedback", i, len(fb_rows))

    score_rows = store.scores(since)
    for i, sc in enumerate(score_rows, 1):
        if i % 1000 == 0 or i == len(score_rows):
            report("scores", i, len(score_rows))
        key = record_id(sc["trace_id"], sc["span_id"], sc["response_id"])
        found = subjects.get(key) or subjects.get(by_response.get(sc["response_id"], ""))
        if found is None:
            continue  # a content-free score (e.g. truncated) of a call not stored: nothing to review
        rec = found
        rec["scores"][sc["evaluator"]] = min(sc["value"], rec["scores"].get(sc["evaluator"], 1.0))
        if sc["value"] < low_score:
            _raise_priority(rec, "low_score")

    excluded = set(exclude_ids)
    pool = []
    for rec in subjects.values():
        if rec["id"] in excluded:
            stats.excluded += 1
        elif service is None or rec["service"] == service:
            pool.append(rec)
    urgent = sorted((r for r in pool if r["priority"]),
                    key=lambda r: (PRIORITIES.index(r["priority"]), r["created_at"], r["id"]))
    stats.priority_left_out = max(0, len(urgent) - max_priority)
    urgent = urgent[:max_priority]
    for rec in urgent:
        stats.priority[rec["priority"]] = stats.priority.get(rec["priority"], 0) + 1
    rest = [r for r in pool if not r["priority"] and r["output"] is not None]
    rest.sort(key=lambda r: (r["created_at"], r["id"]))  # stable before shuffling: seeds reproduce
    picked = stratified_sample(rest, sample, stratify, random.Random(seed))
    for rec in picked:
        rec["priority"] = "sample"
        stratum = rec.get(stratify, "") if stratify != "none" else ""
        stats.strata[stratum] = stats.strata.get(stratum, 0) + 1
    stats.sampled = len(picked)
    report("sample", len(picked), len(picked))
    return urgent + picked, stats


def stratified_sample(records: list[dict[str, Any]], n: int, stratify: str,
                      rng: random.Random) -> list[dict[str, Any]]:
    """``n`` records, each stratum getting its proportional share (largest remainders),
    and at least one record when ``n`` allows, so small strata are represented."""
    if n <= 0 or not records:
        return []
    if n >= len(records):
        out = list(records)
        rng.shuffle(out)
        return out
    groups: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        groups.setdefault(rec.get(stratify, "") if stratify != "none" else "", []).append(rec)
    total = len(records)
    quotas = {k: n * len(v) / total for k, v in groups.items()}
    alloc = {k: min(len(groups[k]), int(q)) for k, q in quotas.items()}
    if n >= len(groups):
        for k in groups:
            alloc[k] = max(alloc[k], 1)
    while sum(alloc.values()) > n:  # the floors overshot: take back from the largest allocations
        candidates = [k for k in alloc if alloc[k] > 1] or [k for k in alloc if alloc[k] > 0]
        k = max(candidates, key=lambda k: (alloc[k] - quotas[k], alloc[k]))
        alloc[k] -= 1
    order = sorted(groups, key=lambda k: (quotas[k] - int(quotas[k]), len(groups[k])), reverse=True)
    while sum(alloc.values()) < n:
        for k in order:
            if sum(alloc.values()) >= n:
                break
            if alloc[k] < len(groups[k]):
                alloc[k] += 1
    out = []
    for k in sorted(groups):
        out.extend(rng.sample(groups[k], alloc[k]))
    return out


def write_jsonl(records: Iterable[dict[str, Any]], path: str | os.PathLike[str]) -> int:
    """Write records atomically (temp file + rename): a crash never leaves half a file."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path("."))
    n = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for rec in records:
                out.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
                n += 1
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n


# -- merge ----------------------------------------------------------------------------
def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as exc:
                raise EvalsetError(f"{path}:{number}: not valid JSON: {exc}") from None
            if not isinstance(rec, dict):
                raise EvalsetError(f"{path}:{number}: expected a JSON object per line")
            out.append(rec)
    return out


@dataclass
class MergeStats:
    before: int = 0
    read: int = 0
    added: int = 0
    duplicate_golden: int = 0  # already in the golden set
    duplicate_batch: int = 0  # repeated across (or within) the batches
    unlabelled: int = 0
    discarded: int = 0

    @property
    def total(self) -> int:
        return self.before + self.added


def merge(golden: str | os.PathLike[str], batches: Iterable[str | os.PathLike[str]], *,
          store: EvalStore | None = None, service: str = "", now: float | None = None,
          progress: Progress | None = None) -> MergeStats:
    """Add the labelled records of ``batches`` to the golden JSONL file, de-duplicated.

    Every batch is read and checked before anything is written; the golden file
    is replaced atomically. With a store, the refresh is recorded when at least
    one labelled record was reviewed (even if all were duplicates), for ``service``
    (``""``: every service's golden set).
    """
    report = progress or (lambda step, done, total: None)
    golden_path = Path(golden)
    existing = read_jsonl(golden_path) if golden_path.exists() else []
    stats = MergeStats(before=len(existing))
    batch_records: list[tuple[str, dict[str, Any]]] = []
    for path in batches:
        batch_records.extend((Path(path).name, rec) for rec in read_jsonl(path))
    stats.read = len(batch_records)
    seen_ids = {str(r.get("id")) for r in existing if r.get("id")}
    seen_keys = {k for k in (content_key(r) for r in existing) if k}
    batch_ids: set[str] = set()
    batch_keys: set[str] = set()
    added: list[dict[str, Any]] = []
    stamp = _iso(now if now is not None else time.time())
    for i, (source, rec) in enumerate(batch_records, 1):
        label = rec.get("label")
        if label is None or (isinstance(label, str) and not label.strip()):
            stats.unlabelled += 1
        elif isinstance(label, str) and label.strip().lower() == DISCARD:
            stats.discarded += 1
        else:
            rid = str(rec.get("id") or "")
            key = content_key(rec)
            if (rid and rid in seen_ids) or (key and key in seen_keys):
                stats.duplicate_golden += 1
            elif (rid and rid in batch_ids) or (key and key in batch_keys):
                stats.duplicate_batch += 1
            else:
                if rid:
                    batch_ids.add(rid)
                if key:
                    batch_keys.add(key)
                added.append({**rec, "added_at": stamp, "source": source})
        if i % 1000 == 0 or i == len(batch_records):
            report("merge", i, len(batch_records))
    stats.added = len(added)
    if added or not golden_path.exists():
        write_jsonl(existing + added, golden_path)
    reviewed = stats.added + stats.duplicate_golden + stats.duplicate_batch
    if store is not None and reviewed:
        store.record_golden_refresh(str(golden_path.resolve()), added=stats.added, total=stats.total,
                                    service=service, refreshed_at=now)
    return stats
