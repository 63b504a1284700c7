"""Pydantic validation errors as lines a person can act on: ``field.path: reason``.

Every config loader (guard policies, experiment declarations, ...) reports bad
input the same way: the dotted path of the bad field, pydantic's reason without
its ``Value error,`` prefix, and an unknown field called out as a likely typo.
"""

from __future__ import annotations

from pydantic import ValidationError

__all__ = ["validation_problems"]


def validation_problems(error: ValidationError, top: str = "(top level)") -> list[str]:
    """One ``field.path: reason`` line per problem; ``top`` names a problem of the whole object."""
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or top
        reason = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            reason = "unknown field (misspelt?)"
        lines.append(f"{field}: {reason}")
    return lines
