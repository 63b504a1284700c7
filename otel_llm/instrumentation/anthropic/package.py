"""The range of the ``anthropic`` SDK this instrumentation supports."""

_instruments = ("anthropic >= 0.40, < 3",)
