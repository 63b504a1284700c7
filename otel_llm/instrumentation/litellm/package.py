"""The range of ``litellm`` this instrumentation supports."""

_instruments = ("litellm >= 1.50, < 2",)
