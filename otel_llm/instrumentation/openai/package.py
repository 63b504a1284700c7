"""The range of the ``openai`` SDK this instrumentation supports."""

_instruments = ("openai >= 1.40, < 4",)
