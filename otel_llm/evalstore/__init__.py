"""The embedded eval store: sampled interactions, scores and feedback in SQLite.

Nothing to run: the store is one SQLite file, by default
``./otel-llm-evals.sqlite3`` or the path in ``$OTEL_LLM_EVAL_STORE``::

    from otel_llm.evalstore import EvalStore
    store = EvalStore("/var/lib/otel-llm/evals.sqlite3")

It keeps, with their trace ids: sampled interactions (content already
redacted), automated scores, thumbs, corrections and escalations, and every
golden-set refresh (``otel-llm evalset merge``). Several processes may write
the same file (write-ahead logging, a busy timeout, one short transaction per
row); the schema is versioned and migrated forward on open.
``register_evalset_age(store)`` exposes ``llm_evalset_age_seconds``.
"""

from __future__ import annotations

from otel_llm.evalstore.age import EvalsetAgeCollector, register_evalset_age
from otel_llm.evalstore.schema import SCHEMA_VERSION
from otel_llm.evalstore.store import DEFAULT_PATH, EvalStore, StoreError, default_path

__all__ = [
    "DEFAULT_PATH",
    "SCHEMA_VERSION",
    "EvalStore",
    "EvalsetAgeCollector",
    "StoreError",
    "default_path",
    "register_evalset_age",
]
