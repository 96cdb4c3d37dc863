"""A Fluent order as the order status back-sync reads it (``OrdersByRef``, ``OrdersUpdatedBetween``), with the
commercetools order it belongs to (``commercetoolsId``, found by the reader)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class FluentOrderStatus(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    id: str
    ref: str
    status: str
    updated_on: datetime = Field(alias="updatedOn")
    commercetools_id: str | None = Field(default=None, alias="commercetoolsId")
    commercetools_order_state: str | None = Field(default=None, alias="commercetoolsOrderState")
