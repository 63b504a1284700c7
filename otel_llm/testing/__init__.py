"""Test and demo helpers that ship with otel-llm (no test framework needed to use them)."""

from otel_llm.testing.fake_openai import Behaviour, FakeOpenAIServer

__all__ = ["Behaviour", "FakeOpenAIServer"]
