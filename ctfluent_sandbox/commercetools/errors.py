"""commercetools-shaped errors.

Every failure of the emulated API is raised as :class:`CtError` and answered with the API's error body
``{statusCode, message, errors: [{code, message, ...}]}`` (OAS ``ErrorResponse``); auth failures add the OAuth
fields ``error`` and ``error_description`` (OAS ``AuthErrorResponse``).
"""

from __future__ import annotations

import json
from typing import Any


class CtError(Exception):
    """An error response: HTTP status, the ``errors[0].code`` and any extra fields of that error object."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {
            "statusCode": self.status,
            "message": self.message,
            "errors": [{"code": self.code, "message": self.message, **self.extra}],
        }


class OAuthError(CtError):
    """An error of the auth service or of token checking: the body also has the OAuth fields."""

    def body(self) -> dict[str, Any]:
        return {**super().body(), "error": self.code, "error_description": self.message}


def invalid_input(message: str) -> CtError:
    return CtError(400, "InvalidInput", message)


def malformed_parameter(name: str, problem: str) -> CtError:
    return invalid_input(f"Malformed parameter: {name}: {problem}")


def invalid_json(detail: str) -> CtError:
    """The API's answer to a body that does not match the expected draft or update shape."""
    return CtError(
        400,
        "InvalidJsonInput",
        "Request body does not contain valid JSON.",
        detailedErrorMessage=detail,
    )


def invalid_operation(message: str) -> CtError:
    return CtError(400, "InvalidOperation", message)


def required_field(field: str) -> CtError:
    return CtError(400, "RequiredField", f"A value is required for field {field}.", field=field)


def invalid_field(field: str, value: Any, message: str) -> CtError:
    return CtError(400, "InvalidField", message, field=field, invalidValue=value)


def duplicate_field(field: str, value: Any) -> CtError:
    message = f"A duplicate value {json.dumps(value, ensure_ascii=False)} exists for field '{field}'."
    return CtError(400, "DuplicateField", message, field=field, duplicateValue=value)


def referenced_resource_not_found(type_id: str, **identifier: str) -> CtError:
    (name, value) = next(iter(identifier.items()))
    return CtError(
        400,
        "ReferencedResourceNotFound",
        f"The referenced object of type '{type_id}' with {name} '{value}' was not found. "
        "It either doesn't exist, or it can't be accessed from this endpoint.",
        typeId=type_id,
        **identifier,
    )


def not_found(identifier: str, by: str = "ID") -> CtError:
    return CtError(404, "ResourceNotFound", f"The Resource with {by} '{identifier}' was not found.")


def concurrent_modification(resource_id: str, expected: int, current: int) -> CtError:
    return CtError(
        409,
        "ConcurrentModification",
        f"Object {resource_id} has a different version than expected. Expected: {expected} - Actual: {current}.",
        currentVersion=current,
    )
