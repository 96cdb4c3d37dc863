"""A Fluent virtual position as the sync reads it (``VirtualPositions``), with the channel it goes to when its
group is a location of the synced networks (``locationChannel``: added by :func:`~ctfluent_dagster.entities.
inventory.sync.with_location_channels`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FluentAttribute(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    type: str | None = None
    value: Any = None


class VirtualPosition(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    id: str
    ref: str
    status: str | None = None
    product_ref: str | None = Field(default=None, alias="productRef")
    group_ref: str | None = Field(default=None, alias="groupRef")
    quantity: int | None = None
    updated_on: datetime = Field(alias="updatedOn")
    attributes: tuple[FluentAttribute, ...] = ()
    location_channel: str | None = Field(default=None, alias="locationChannel")

    def attribute(self, name: str | None) -> Any:
        if not name:
            return None
        return next((a.value for a in self.attributes if a.name == name), None)
