"""Build hook for the one thing pyproject.toml cannot declare stably: the optional C extension.

``otel_llm.processor._otlp_scan`` is the receiver's accelerator (bench/README.md, "Receiver").
It is optional: where it cannot be compiled (no C compiler or Python headers) the install still
succeeds, and the receiver reads requests with upb alone, with the same results, more slowly.
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("otel_llm.processor._otlp_scan", ["otel_llm/processor/_otlp_scan.c"],
              optional=True, extra_compile_args=["-O2"]),
])
