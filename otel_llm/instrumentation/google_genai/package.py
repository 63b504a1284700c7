"""The range of the ``google-genai`` SDK this instrumentation supports."""

_instruments = ("google-genai >= 1.0, < 4",)
