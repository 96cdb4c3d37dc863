"""Fluent error codes and how an error is rendered into a GraphQL ``errors`` entry.

Codes follow Fluent's ``<C|S|T><4 digits><E|W>`` format. Where Fluent puts the code is unconfirmed (clients read
``extensions.code`` and fall back to the message text), so the placement is a setting: ``extensions``, ``message``
(``"C0121E: ..."``) or ``both``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

ErrorPlacement = Literal["extensions", "message", "both"]
ERROR_PLACEMENTS: tuple[str, ...] = get_args(ErrorPlacement)

COMPLEXITY_TOO_HIGH = "C0001E"
RATE_LIMITED = "C0011E"
INVALID_DATE = "C0100E"
DATE_RANGE_WITHOUT_BOUND = "C0101E"
NOT_FOUND = "C0120E"
UNIQUE_VIOLATION = "C0121E"
NEGATIVE_VALUE = "C0122E"
DUPLICATE_PRODUCT_REF = "C0128E"
MISSING_VARIABLES = "C0140E"
FIELD_LENGTH_EXCEEDED = "C0141E"
CUSTOM_VALIDATION = "C0160E"
SERVER_ERROR = "S0001E"

# Messages for codes that only fault injection produces (the emulator never rate-limits by itself).
FAULT_MESSAGES: Mapping[str, str] = {
    COMPLEXITY_TOO_HIGH: "Query complexity exceeds the allowed maximum",
    RATE_LIMITED: "Rate limit exceeded",
    SERVER_ERROR: "Internal server error",
}


class FluentError(Exception):
    """An API error a resolver (or scalar) raises; graphql-core keeps it as the ``original_error``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def error_entry(message: str, code: str | None, placement: ErrorPlacement, **extra: Any) -> dict[str, Any]:
    """One entry of the ``errors`` array; ``extra`` carries ``locations``/``path`` when there are any."""
    entry: dict[str, Any] = {"message": message}
    entry.update({key: value for key, value in extra.items() if value})
    if code is not None:
        if placement in ("message", "both"):
            entry["message"] = f"{code}: {message}"
        if placement in ("extensions", "both"):
            entry["extensions"] = {"code": code}
    return entry
