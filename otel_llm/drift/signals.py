"""What a response says about drift: refusal, non-answer, invalid JSON, truncation.

Patterns are deliberately plain and overridable: pass your own compiled
regexes to :class:`ResponseSignals` when your product's refusals or "I don't
know" answers read differently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

__all__ = ["ResponseSignals", "message_text"]

REFUSAL = re.compile(
    r"\b(i\s*(?:'m| am)\s*(?:sorry|afraid)[, ]+(?:but\s+)?i\s*(?:can(?:'|no)t|cannot|won't|am unable|'m unable)"
    r"|i\s*(?:can(?:'|no)t|cannot|won't)\s+(?:help|assist|comply|provide|do that)"
    r"|i\s*(?:'m| am)\s+(?:not able|unable)\s+to\s+(?:help|assist|comply|provide)"
    r"|as an ai(?: language model)?[, ]+i\s*(?:can(?:'|no)t|cannot|don't))",
    re.IGNORECASE,
)
NON_ANSWER = re.compile(
    r"\b(i\s*(?:don't|do not)\s+know"
    r"|i\s*(?:'m| am)\s+not\s+sure"
    r"|i\s*(?:don't|do not)\s+have\s+(?:any\s+|enough\s+)?(?:information|data|details|context)"
    r"|(?:there is|there's)\s+no\s+(?:information|mention)"
    r"|(?:not|isn't|is not)\s+(?:mentioned|covered|found)\s+in\s+the\s+(?:context|documents?|provided))",
    re.IGNORECASE,
)


def message_text(messages: Any) -> str:
    """The text parts of GenAI-convention messages (a JSON string or a list), joined."""
    if isinstance(messages, str):
        try:
            messages = json.loads(messages)
        except ValueError:
            return messages
    out: list[str] = []
    if isinstance(messages, list):
        for msg in messages:
            if not isinstance(msg, dict):
                continue
            parts = msg.get("parts")
            for part in parts if isinstance(parts, list) else ():
                if isinstance(part, dict) and isinstance(part.get("content"), str) and part.get("type", "text") == "text":
                    out.append(part["content"])
            if isinstance(msg.get("content"), str):  # older flat shape
                out.append(msg["content"])
    return "\n".join(out)


def last_user_text(messages: Any) -> str:
    """The last user message's text: the query whose topic and repeats we track."""
    if isinstance(messages, str):
        try:
            messages = json.loads(messages)
        except ValueError:
            return messages
    if isinstance(messages, list):
        for msg in reversed(messages):
            if isinstance(msg, dict) and msg.get("role") == "user":
                return message_text([msg])
    return ""


class ResponseSignals:
    def __init__(self, refusal: re.Pattern[str] = REFUSAL, non_answer: re.Pattern[str] = NON_ANSWER) -> None:
        self.refusal = refusal
        self.non_answer = non_answer

    def classify(self, output_text: str | None, finish_reasons: Sequence[str], json_expected: bool) -> dict[str, bool]:
        """Signals for one response; a signal that cannot be judged (no content) is left out."""
        reasons = [str(r) for r in finish_reasons or ()]
        out: dict[str, bool] = {"truncated": "length" in reasons}
        if output_text is not None:
            out["refusal"] = bool(self.refusal.search(output_text)) or "content_filter" in reasons
            out["non_answer"] = bool(self.non_answer.search(output_text))
            if json_expected:
                out["invalid_json"] = not _parses(output_text)
        elif "content_filter" in reasons:
            out["refusal"] = True
        return out


def _parses(text: str) -> bool:
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text[4:] if text.lower().startswith("json") else text
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
