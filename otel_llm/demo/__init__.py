"""``otel-llm demo``: a simulated LLM product, its incidents, and otel-llm catching them.

Run ``otel-llm demo`` (``--headless`` for plain lines, ``--duration`` to
change the default minute). The modules, in reading order: ``scenario`` (the
story as data), ``provider`` (the OpenAI-compatible fake provider driven by
it), ``product`` (users calling four features through the instrumented
``openai`` SDK, with judge scores, thumbs and corrections), ``detector`` (the
six core metrics and their alerts, from the demo's own ``/metrics``),
``alerting`` (real Prometheus + Alertmanager with generated rules, when
installed), ``view`` (live and headless output, the summary) and ``runner``.
``quickstart`` is ``otel-llm demo --spans``: a few instrumented calls, their spans
printed. docs/demo.md is the user documentation.
"""
