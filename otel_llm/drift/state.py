"""Saving and restoring drift baselines, so a restart does not forget what "normal" was.

Only baselines are kept: topic and finish-reason counts, rate counts, the
learnt topic centroids (numbers, no text) and the response models and
fingerprints seen. Current windows are not saved (live traffic refills them)
and neither is any query text. The file is JSON, written atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from otel_llm.drift.topics import CentroidClassifier

if TYPE_CHECKING:
    from otel_llm.drift.monitor import DriftMonitor

__all__ = ["dump_state", "load_state", "read_state_file", "write_state_file"]

VERSION = 1


def _classifier_state(classifier: Any) -> dict | None:
    if isinstance(classifier, CentroidClassifier) and classifier.centroids is not None:
        return {
            "kind": "centroid",
            "centroids": classifier.centroids.tolist(),
            "idf": None if classifier.idf is None else classifier.idf.tolist(),
            "min_similarity": classifier.min_similarity,
        }
    return None


def dump_state(monitor: DriftMonitor) -> dict:
    """The monitor's complete baselines as plain JSON-able data."""
    keys = []
    with monitor._lock:
        for (service, feature), st in monitor._keys.items():
            entry: dict[str, Any] = {"service": service, "feature": feature, "rates": {}}
            mix = st.input.mix
            if mix.baseline_ready:
                learns = getattr(st.input.classifier, "learns_from_baseline", False)
                classifier = _classifier_state(st.input.classifier)
                if classifier is not None or not learns:
                    entry["input"] = {"baseline": dict(mix.baseline), "n": mix._baseline_n, "classifier": classifier}
            if st.finish.baseline_ready:
                entry["finish"] = {"baseline": dict(st.finish.baseline), "n": st.finish._baseline_n}
            for name, rate in st.rates.items():
                if rate._base_n >= rate.baseline_size:
                    entry["rates"][name] = {"hits": rate._base_hits, "n": rate._base_n}
            keys.append(entry)
        # Least recently seen first, as ModelChanges keeps them: the order it forgets them in.
        models = [[*key, list(values)] for key, values in monitor.models._seen.items()]
    return {"version": VERSION, "keys": keys, "models": models}


def load_state(monitor: DriftMonitor, data: dict) -> int:
    """Restore baselines saved by :func:`dump_state`; returns how many (service, feature) pairs."""
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ValueError(f"not an otel-llm drift state (version {VERSION})")
    restored = 0
    with monitor._lock:
        for entry in data.get("keys", []):
            st = monitor._state(str(entry["service"]), str(entry["feature"]))
            inp = entry.get("input")
            if inp:
                saved = inp.get("classifier")
                clf = st.input.classifier
                if saved and saved.get("kind") == "centroid" and isinstance(clf, CentroidClassifier):
                    clf.centroids = np.asarray(saved["centroids"], dtype=np.float64)
                    clf.idf = None if saved.get("idf") is None else np.asarray(saved["idf"], dtype=np.float64)
                    clf.min_similarity = float(saved["min_similarity"])
                    ok = True
                else:
                    ok = not getattr(clf, "learns_from_baseline", False)
                if ok:
                    st.input.mix.baseline.clear()
                    st.input.mix.baseline.update({str(k): int(v) for k, v in inp["baseline"].items()})
                    st.input.mix._baseline_n = int(inp["n"])
                    st.input._pending = []
            fin = entry.get("finish")
            if fin:
                st.finish.baseline.clear()
                st.finish.baseline.update({str(k): int(v) for k, v in fin["baseline"].items()})
                st.finish._baseline_n = int(fin["n"])
            for name, counts in entry.get("rates", {}).items():
                if name in st.rates:
                    st.rates[name]._base_hits = int(counts["hits"])
                    st.rates[name]._base_n = int(counts["n"])
            restored += 1
        for service, model, kind, values in data.get("models", []):
            monitor.models._seen[(service, model, kind)] = OrderedDict.fromkeys(
                str(v) for v in values[-monitor.models.max_values:])
    return restored


def write_state_file(monitor: DriftMonitor, path: str | os.PathLike[str]) -> None:
    path = Path(path)
    data = json.dumps(dump_state(monitor), separators=(",", ":"))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_state_file(monitor: DriftMonitor, path: str | os.PathLike[str]) -> int:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read drift state {path}: {exc}") from None
    return load_state(monitor, data)
