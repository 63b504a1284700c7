"""otel-llm: post-launch monitoring for LLM products on open standards."""

from __future__ import annotations

__version__ = "0.1.0"
