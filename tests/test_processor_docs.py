"""docs/metrics.md is generated from semconv.METRICS; the checked-in file must match."""

from __future__ import annotations

from pathlib import Path

from otel_llm import semconv as sc
from otel_llm.processor.docs import metrics_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"


def test_checked_in_metrics_doc_equals_the_generated_text():
    assert DOC.read_text(encoding="utf-8") == metrics_markdown(), (
        "docs/metrics.md is stale: run `python -m otel_llm.processor.docs > docs/metrics.md`")


def test_every_metric_and_label_is_documented():
    text = metrics_markdown()
    for spec in sc.METRICS:
        assert f"`{spec.name}`" in text
        for label in spec.labels:
            assert f"`{label}`" in text
