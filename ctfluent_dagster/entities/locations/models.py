"""A Fluent location as the sync reads it (``Locations``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

CHANNEL = "channel"  # the ledger's entity type of a location's channel


class FluentAddress(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    company_name: str | None = Field(default=None, alias="companyName")
    name: str | None = None
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postcode: str | None = None
    country: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class FluentLocation(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    id: str
    ref: str
    type: str | None = None
    status: str | None = None
    name: str | None = None
    updated_on: datetime = Field(alias="updatedOn")
    primary_address: FluentAddress | None = Field(default=None, alias="primaryAddress")
    networks: tuple[str, ...] = ()

    @field_validator("networks", mode="before")
    @classmethod
    def _network_refs(cls, value: Any) -> Any:
        """The connection's edges as their refs."""
        if isinstance(value, dict):
            return tuple(str(edge["node"]["ref"]) for edge in value.get("edges") or [] if edge and edge.get("node"))
        return value
