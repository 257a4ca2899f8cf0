"""Logging set-up with a redaction filter: no token, key or customer e-mail reaches a log line.

Callers should not log secrets in the first place; this filter is the net under them, applied to
the fully formatted message so secrets inside arguments and exception text are caught too.
"""

from __future__ import annotations

import logging
import re

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [redacted]"),
    (re.compile(r"\bshp(at|ca|pa|ss|ua)_[A-Za-z0-9]+"), "shp\\1_[redacted]"),
    (re.compile(r"\b(ck|cs)_[A-Za-z0-9]{8,}"), r"\1_[redacted]"),
    (re.compile(r"\bbo_[A-Za-z0-9_-]{16,}"), "bo_[redacted]"),
    (re.compile(r"\bgAAAAA[A-Za-z0-9_=-]{20,}"), "[ciphertext]"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[email]"),
)


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.msg = redact(message)
        record.args = None
        return True


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
