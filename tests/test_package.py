"""The top-level package: a cheap import, and every documented entry point reachable from ``import otel_llm``."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

import otel_llm


def _fresh(script: str) -> str:
    """Run ``script`` in a new interpreter (this one has imported everything already)."""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_import_otel_llm_loads_no_sdk_and_no_instrumentation():
    loaded = _fresh(
        "import sys, otel_llm\n"
        "heavy = ('opentelemetry', 'prometheus_client', 'pydantic', 'otel_llm.instrumentation',"
        " 'otel_llm.processor', 'otel_llm.feedback', 'openai')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {h.split('.')[0] for h in heavy}"
        " and any(m == h or m.startswith(h + '.') for h in heavy)))\n"
    )
    assert loaded.strip() == "[]"


def test_documented_entry_points_work_after_a_bare_import():
    printed = _fresh(
        "import otel_llm\n"
        "print(otel_llm.feedback.thumbs.__module__, otel_llm.experiments.assign.__module__,"
        " otel_llm.guard.install.__module__, otel_llm.outcome.__module__, otel_llm.record_outcome.__module__,"
        " otel_llm.attributes.__module__, otel_llm.genai_call.__module__)\n"
    )
    assert printed.split() == [
        "otel_llm.feedback", "otel_llm.experiments", "otel_llm.guard", "otel_llm.outcomes", "otel_llm.outcomes",
        "otel_llm.attribution", "otel_llm.instrumentation.genai_call",
    ]


@pytest.mark.parametrize("name", otel_llm.__all__)
def test_every_name_in___all___resolves(name):
    assert getattr(otel_llm, name) is not None
    assert name in dir(otel_llm)


def test_an_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'fedback'"):
        otel_llm.fedback  # noqa: B018


def test_the_genai_call_module_is_not_shadowed_by_the_function():
    import otel_llm.instrumentation.genai_call as module

    assert isinstance(module, types.ModuleType)
    assert module.genai_call is otel_llm.genai_call
