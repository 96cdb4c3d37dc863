"""What every entity's Fluent inputs share: the model base, attributes, retailer ids, and the length check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

# Strings without a stated "Max character limit" default to 255 (Fluent's GraphQL query limits page).
DEFAULT_STRING_LIMIT = 255


class FluentModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class RetailerId(FluentModel):
    id: str


class AttributeInput(FluentModel):
    name: str
    type: str
    value: Any


def cut_to_limit(value: str | None, limit: int, field: str, notes: list[str]) -> str | None:
    """``value`` within ``limit`` characters; a cut is noted (a summary is worth keeping, shortened)."""
    if value is None or len(value) <= limit:
        return value
    notes.append(f"{field} cut from {len(value)} to {limit} characters")
    return value[:limit]


def length_violations(values: Mapping[str, Any], limits: Mapping[str, int]) -> list[str]:
    """Fields longer than Fluent accepts, described for a skip reason: ``primaryPhone is 23 characters (max 20)``."""
    return [
        f"{name} is {len(value)} characters (max {limit})"
        for name, limit in limits.items()
        if isinstance(value := values.get(name), str) and len(value) > limit
    ]
