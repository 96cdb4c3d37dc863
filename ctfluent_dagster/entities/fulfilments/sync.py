"""Fulfilments: how the sync reads Fluent's fulfilments (and the consignments that ship them), and writes
commercetools deliveries, parcels and shipment state.

* reading (:class:`FulfilmentsReader`): by ``updatedOn`` (a day, a poll) the fulfilments updated in the window and
  those whose consignments were (a consignment's change need not move its fulfilment's ``updatedOn``); by ref what
  a webhook event names (a ``CONSIGNMENT`` event's ref is read as its fulfilments'), a retry, a re-drive. A
  fulfilment's version is the latest ``updatedOn`` of it and its consignments, so a consignment's change is a new
  version. When read to be written, each with its commercetools order (:func:`with_orders`: the shared rule);
* writing (the core's versioned writes on the order, with the write client: ``manage_orders``): add the delivery
  (keyed by the fulfilment ref) when missing, else set its items, add or update its parcels (keyed by the
  consignment ref), and change the order's shipment state; only what differs is written. A fulfilment whose order
  neither the ledger nor an order number finds is skipped, not an error.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ctfluent_dagster.commercetools.client import CommercetoolsClient
from ctfluent_dagster.entities.fulfilments.mapping import (
    MappedDelivery,
    SkippedFulfilment,
    delivery_actions,
    map_delivery,
)
from ctfluent_dagster.entities.fulfilments.models import FluentFulfilment
from ctfluent_dagster.entities.fulfilments.settings import FulfilmentSettings
from ctfluent_dagster.entities.shared import commercetools_orders
from ctfluent_dagster.entity import Pages, SyncContext
from ctfluent_dagster.fluent.changes import parse_time, updated_on_version
from ctfluent_dagster.fluent.client import FluentClient
from ctfluent_dagster.fluent.operations import OperationSet
from ctfluent_dagster.fluent.paging import date_range, nodes, nodes_by_refs
from ctfluent_dagster.records import FluentIdentity, LedgerKey, PlannedPush, PlannedSkip, payload_fingerprint
from ctfluent_dagster.sync.commercetools_entity import CommercetoolsEntitySync, VersionedWrites, describe_actions
from ctfluent_dagster.sync.invalid import invalid_fluent_record_skip

ENTITY_TYPE = "delivery"
OPERATIONS = OperationSet(Path(__file__).with_name("operations"))
REFS_PER_QUERY = 100
# Fulfilments per page: each holds up to 100 items and 10 articles of 5 consignments, and a query stays within
# Fluent's complexity limit (11,111) only so; consignments per page, each with 10 articles of 2 fulfilments.
FULFILMENTS_PER_PAGE = 5
CONSIGNMENTS_PER_PAGE = 50


def with_latest_change(node: Mapping[str, Any]) -> dict[str, Any]:
    """The fulfilment with ``updatedOn`` = the latest change of it and of its consignments (its version)."""
    moments = [parse_time(node["updatedOn"])]
    for article in ((node.get("articles") or {}).get("edges")) or []:
        for link in (((article or {}).get("node") or {}).get("consignmentArticles") or {}).get("edges") or []:
            consignment = ((link or {}).get("node") or {}).get("consignment") or {}
            if consignment.get("updatedOn"):
                moments.append(parse_time(consignment["updatedOn"]))
    return {**node, "updatedOn": max(moments).isoformat()}


class FulfilmentsReader:
    def __init__(self, fluent: FluentClient) -> None:
        self.fluent = fluent

    def updated_between(self, start: datetime | None, end: datetime | None) -> Pages:
        window = date_range(start, end)
        seen: set[str] = set()
        for page in nodes(self.fluent, OPERATIONS["Fulfilments"], {"refs": None, "updatedOn": window},
                          page_size=FULFILMENTS_PER_PAGE):  # fmt: skip
            seen.update(str(node["ref"]) for node in page)
            yield [with_latest_change(node) for node in page]
        if window is None:  # every fulfilment was read already
            return
        shipped = sorted(self._fulfilments_of_consignments(window) - seen)
        yield from self.by_refs(shipped)

    def _fulfilments_of_consignments(self, window: Mapping[str, str]) -> set[str]:
        return fulfilments_of_consignments(
            nodes(
                self.fluent,
                OPERATIONS["Consignments"],
                {"refs": None, "updatedOn": window},
                page_size=CONSIGNMENTS_PER_PAGE,
            )
        )

    def by_refs(self, refs: Sequence[str]) -> Pages:
        pages = nodes_by_refs(self.fluent, OPERATIONS["Fulfilments"], refs, {"updatedOn": None},
                              per_query=REFS_PER_QUERY, page_size=FULFILMENTS_PER_PAGE)  # fmt: skip
        for page in pages:
            yield [with_latest_change(node) for node in page]


def fulfilments_of_consignments(pages: Pages) -> set[str]:
    """The refs of the fulfilments whose articles these pages of consignments hold."""
    return {ref for page in pages for consignment in page for ref in _fulfilment_refs(consignment)}


def fulfilments_of_events(context: SyncContext, entity_type: str, refs: Sequence[str]) -> set[str]:
    """The fulfilments recorded webhook events name: a ``FULFILMENT`` event its own ref, a ``CONSIGNMENT`` event
    the fulfilments of the consignment's articles."""
    if entity_type != "CONSIGNMENT":
        return set(refs)
    return fulfilments_of_consignments(nodes_by_refs(context.fluent, OPERATIONS["Consignments"], refs,
                                                     {"updatedOn": None}, per_query=REFS_PER_QUERY,
                                                     page_size=CONSIGNMENTS_PER_PAGE))  # fmt: skip


def _fulfilment_refs(consignment: Mapping[str, Any]) -> Iterator[str]:
    for link in (consignment.get("consignmentArticles") or {}).get("edges") or []:
        article = ((link or {}).get("node") or {}).get("article") or {}
        for edge in (article.get("fulfilments") or {}).get("edges") or []:
            if edge and edge.get("node"):
                yield str(edge["node"]["ref"])


def with_orders(context: SyncContext, page: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each fulfilment with ``commercetoolsId``: the commercetools order of its Fluent order (None: not found)."""
    orders = commercetools_orders(context, [str(node["order"]["ref"]) for node in page if node.get("order")])
    return [{**node, "commercetoolsId": (orders.get(str((node.get("order") or {}).get("ref"))) or {}).get("id")}
            for node in page]  # fmt: skip


class DeliverySync(CommercetoolsEntitySync[MappedDelivery]):
    entity_type = ENTITY_TYPE

    def __init__(self, writer: CommercetoolsClient, settings: FulfilmentSettings) -> None:
        self.writes = VersionedWrites(writer, settings.max_conflict_retries)
        self.settings = settings

    def plan(self, record: Mapping[str, Any]) -> list[PlannedPush[MappedDelivery] | PlannedSkip]:
        try:
            fulfilment = FluentFulfilment.model_validate(record)
        except ValidationError as exc:
            return [invalid_fluent_record_skip(ENTITY_TYPE, record, exc)]
        key, version = LedgerKey(ENTITY_TYPE, fulfilment.ref, ""), updated_on_version(record)
        mapped = map_delivery(fulfilment, self.settings)
        if isinstance(mapped, SkippedFulfilment):
            return [PlannedSkip(key, version, mapped.reason, fulfilment.ref, lookup=fulfilment.order.ref)]
        label = f"{fulfilment.ref} (order {fulfilment.order.ref})"
        return [PlannedPush(key, version, mapped.key, payload_fingerprint(mapped.fingerprint_basis()), mapped, label,
                            lookup=fulfilment.order.ref)]  # fmt: skip

    def write(self, push: PlannedPush[MappedDelivery]) -> FluentIdentity:
        delivery = push.payload
        self.writes.apply("orders", delivery.order_id, partial(delivery_actions, wanted=delivery,
                                                               settings=self.settings))  # fmt: skip
        return FluentIdentity(ref=delivery.key, id=delivery.order_id)

    def retire(self, ref: str) -> FluentIdentity:
        return FluentIdentity(ref=ref, id=None)  # a delivery made stays: a fulfilment gone from Fluent is only noted

    def differences(self, push: PlannedPush[MappedDelivery], ref: str) -> list[str]:
        order = self.writes.client.get("orders", push.payload.order_id) or {}
        return describe_actions(delivery_actions(order, push.payload, self.settings))


def build_reader(context: SyncContext) -> FulfilmentsReader:
    return FulfilmentsReader(context.fluent)


def build_sync(context: SyncContext) -> DeliverySync:
    if context.writer is None:
        raise ValueError("deliveries are written with the write client: set CTP_WRITE_CLIENT_ID and "
                         "CTP_WRITE_CLIENT_SECRET (a client with manage_orders)")  # fmt: skip
    return DeliverySync(context.writer, context.entity_settings(FulfilmentSettings))
