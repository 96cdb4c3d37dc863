"""Building commercetools query predicates safely.

String literals follow JSON escaping (the predicate grammar's EscapedCharacter/EscapedUnicode), so a value with
a quote or backslash can neither break a predicate nor change its meaning. Values that come from data (emails,
keys) should go through input variables (``var.name``) instead; :func:`quote` is for values the sync controls
(ids from a page, timestamps).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime


def quote(value: str) -> str:
    """A predicate string literal: ``a"b`` -> ``"a\\"b"``."""
    return json.dumps(value, ensure_ascii=True)


def timestamp(moment: datetime) -> str:
    """commercetools' timestamp literal: UTC with milliseconds and ``Z`` (the finest step the API compares)."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    utc = moment.astimezone(UTC)
    return quote(utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z")


def all_of(*conditions: str | None) -> str | None:
    """Join conditions with ``and`` into one predicate (the documented way to combine them)."""
    present = [c for c in conditions if c]
    if len(present) <= 1:
        return present[0] if present else None
    return " and ".join(f"({c})" for c in present)  # parentheses keep an inner `or` from leaking
