"""A Fluent fulfilment as the sync reads it (``Fulfilments``), with the commercetools order it belongs to
(``commercetoolsId``: added when it is read to be written)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


def _nodes(value: Any) -> Any:
    """A connection's nodes (``{edges: [{node}]}``) as a list."""
    if isinstance(value, dict):
        return [edge["node"] for edge in value.get("edges") or [] if edge and edge.get("node") is not None]
    return value


class Carrier(BaseModel):
    model_config = ConfigDict(frozen=True)

    ref: str | None = None
    name: str | None = None


class Consignment(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    ref: str
    status: str | None = None
    consignment_reference: str | None = Field(default=None, alias="consignmentReference")
    tracking_label: str | None = Field(default=None, alias="trackingLabel")
    label_url: str | None = Field(default=None, alias="labelUrl")
    updated_on: datetime | None = Field(default=None, alias="updatedOn")
    carrier: Carrier | None = None


class Article(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    ref: str | None = None
    status: str | None = None
    consignments: tuple[Consignment, ...] = Field(default=(), alias="consignmentArticles")

    @field_validator("consignments", mode="before")
    @classmethod
    def _consignments(cls, value: Any) -> Any:
        nodes = _nodes(value)
        if isinstance(nodes, list):
            return [node["consignment"] for node in nodes if isinstance(node, dict) and node.get("consignment")]
        return nodes


class FulfilmentItem(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    ref: str | None = None
    status: str | None = None
    requested_quantity: int | None = Field(default=None, alias="requestedQuantity")
    filled_quantity: int = Field(default=0, alias="filledQuantity")
    rejected_quantity: int = Field(default=0, alias="rejectedQuantity")
    order_item_ref: str | None = Field(default=None, alias="orderItem")

    @field_validator("order_item_ref", mode="before")
    @classmethod
    def _order_item(cls, value: Any) -> Any:
        return value.get("ref") if isinstance(value, dict) else value


class OrderLink(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str | None = None
    ref: str


class FluentFulfilment(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    id: str
    ref: str
    status: str | None = None
    type: str | None = None
    # The latest change of the fulfilment or of its consignments (the reader sets it): its version.
    updated_on: datetime = Field(alias="updatedOn")
    order: OrderLink
    items: tuple[FulfilmentItem, ...] = ()
    articles: tuple[Article, ...] = ()
    commercetools_id: str | None = Field(default=None, alias="commercetoolsId")
    # Items or articles beyond the one page a query reads of them (see Fulfilments.graphql).
    truncated: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _truncated(cls, values: Any) -> Any:
        if isinstance(values, dict):
            more = [name for name in ("items", "articles")
                    if ((values.get(name) or {}).get("pageInfo") or {}).get("hasNextPage")]  # fmt: skip
            return {**values, "truncated": tuple(more)}
        return values

    @field_validator("items", "articles", mode="before")
    @classmethod
    def _connections(cls, value: Any) -> Any:
        return _nodes(value)

    @property
    def consignments(self) -> list[Consignment]:
        """Each consignment once (one may hold several articles), in the order read."""
        seen: dict[str, Consignment] = {}
        for article in self.articles:
            for consignment in article.consignments:
                seen.setdefault(consignment.ref, consignment)
        return list(seen.values())
