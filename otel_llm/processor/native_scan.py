"""The receiver's optional C accelerator (``_otlp_scan.c``): loading it, and the switch to turn it off.

The scanner reads an OTLP trace request's wire format once and returns, per span,
only what the metrics need; ``ingest.TraceIngest`` uses it when it is built and
enabled, and upb (``otlp_lite``) otherwise, with the same results. It is built at
install time where a C compiler and the Python headers exist (``setup.py``); set
``OTEL_LLM_NATIVE_SCAN=0`` to read every request with upb alone.
"""

from __future__ import annotations

import os
from typing import Any

try:
    from otel_llm.processor import _otlp_scan  # type: ignore[attr-defined]
except ImportError:  # not compiled here: the pure-Python path is complete on its own
    _otlp_scan = None

ENV_SWITCH = "OTEL_LLM_NATIVE_SCAN"
# Record flags (mirrors of the C constants, so the pure-Python path can set them too).
F_EVENTS = 1   # an event named gen_ai.evaluation.result
F_OTHER = 2    # an attribute of another convention or an outcome
F_CONTENT = 4  # message content attributes
F_ANY = 8      # any attribute the metrics read
F_ALL = F_EVENTS | F_OTHER | F_CONTENT | F_ANY

if _otlp_scan is not None:
    assert (_otlp_scan.F_EVENTS, _otlp_scan.F_OTHER, _otlp_scan.F_CONTENT, _otlp_scan.F_ANY) == \
        (F_EVENTS, F_OTHER, F_CONTENT, F_ANY)


def available() -> bool:
    """True if the extension was compiled for this interpreter."""
    return _otlp_scan is not None


def enabled() -> bool:
    """True if the receiver will use it: compiled, and not switched off by the environment."""
    return available() and os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def make_scanner(*, labels: tuple[str, ...], values: tuple[str, ...], other: tuple[str, ...],
                 content: tuple[str, ...], service_key: str, event_name: str,
                 interned: tuple[int, ...], cost_slot: int, duration_buckets: tuple[float, ...],
                 cost_buckets: tuple[float, ...], trace_ids: bool = True, required: bool = False) -> Any:
    """A scanner for these attribute keys, or None when the accelerator is unavailable or off.

    ``required``: raise instead of returning None when it is not built (the environment
    switch is ignored then).

    Records carry ``labels`` and ``values`` as tuples of raw AnyValue bytes (``b""`` when absent);
    ``interned`` lists slot indexes (labels first, then values) whose small values are shared
    objects, for low-cardinality keys only. The slot ``cost_slot`` is also decoded when it holds a
    double, and the duration and cost come with their bucket among ``duration_buckets`` /
    ``cost_buckets`` (``bisect_left``). ``trace_ids=False``: records carry ``b""`` for the trace id
    (one object less per span where nothing reads it).
    """
    if required and not available():
        raise RuntimeError("the native OTLP scanner (otel_llm.processor._otlp_scan) is not built: "
                           "reinstall otel-llm where a C compiler and the Python headers exist")
    if not required and not enabled():
        return None
    return _otlp_scan.Scanner(labels, values, other, content, service_key, event_name, tuple(interned),
                              cost_slot, tuple(map(float, duration_buckets)), tuple(map(float, cost_buckets)),
                              trace_ids=trace_ids)
