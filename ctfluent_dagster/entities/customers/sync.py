"""Customers: how the sync engine maps, creates, updates, finds and marks them deleted in Fluent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ctfluent_dagster.commercetools.models import CtModel
from ctfluent_dagster.entities.customers.mapping import VOLATILE_ATTRIBUTES, SkippedCustomer, map_customer
from ctfluent_dagster.entities.customers.models import (
    CUSTOMER_FIELD_LIMITS,
    ENTITY_TYPE,
    Customer,
    customer_update_input,
)
from ctfluent_dagster.entities.customers.settings import CustomerMappingSettings
from ctfluent_dagster.fluent.client import FluentClient
from ctfluent_dagster.fluent.operations import OperationSet
from ctfluent_dagster.hooks import LoadedHooks
from ctfluent_dagster.privacy import email_digest, mask_email
from ctfluent_dagster.records import LedgerKey, PlannedPush, PlannedSkip, payload_fingerprint
from ctfluent_dagster.sync.graphql_entity import GraphQLEntitySync
from ctfluent_dagster.sync.invalid import invalid_record_skip

OPERATIONS = OperationSet(Path(__file__).with_name("operations"))
# What a customer deleted in commercetools looks like in Fluent (which cannot delete customers).
DELETED_ATTRIBUTE = {"name": "ctDeleted", "type": "BOOLEAN", "value": True}


@dataclass(frozen=True)
class CustomerPush:
    create_input: dict[str, Any]
    # The commercetools record it was mapped from, what hooks receive: the customer, or, for a customer created at
    # order time for a guest (no commercetools customer), the order (None when no hook needs it).
    source: CtModel | None


def _change_fingerprint(create_input: Mapping[str, Any]) -> str:
    stable = dict(create_input)
    stable["attributes"] = [a for a in create_input.get("attributes", []) if a.get("name") not in VOLATILE_ATTRIBUTES]
    return payload_fingerprint(stable)


class CustomerSync(GraphQLEntitySync[CustomerPush]):
    entity_type = ENTITY_TYPE

    def __init__(
        self,
        fluent: FluentClient,
        settings: CustomerMappingSettings,
        default_retailer_id: str | None,
        hooks: LoadedHooks | None = None,
    ) -> None:
        super().__init__(
            fluent,
            create=OPERATIONS["CreateCustomer"],
            update=OPERATIONS["UpdateCustomer"],
            find=OPERATIONS["CustomerByRef"],
            hooks=hooks or LoadedHooks.load(settings.hooks),
        )
        self.settings = settings
        self.default_retailer_id = default_retailer_id

    def plan(self, record: Mapping[str, Any]) -> list[PlannedPush[CustomerPush] | PlannedSkip]:
        try:
            customer = Customer.model_validate(record)
        except ValidationError as exc:
            return [invalid_record_skip(ENTITY_TYPE, record, exc)]
        label, lookup = mask_email(customer.email), email_digest(customer.email)
        plans: list[PlannedPush[CustomerPush] | PlannedSkip] = []
        for mapped in map_customer(customer, self.settings, self.default_retailer_id):
            key = LedgerKey(ENTITY_TYPE, customer.id, mapped.retailer_id or "")
            if isinstance(mapped, SkippedCustomer):
                plans.append(PlannedSkip(key, customer.version, mapped.reason, label, lookup=lookup))
                continue
            create_input = self.hooked_payload(mapped.payload.create_input(), customer, CUSTOMER_FIELD_LIMITS)
            if isinstance(create_input, str):
                plans.append(PlannedSkip(key, customer.version, create_input, label, lookup=lookup))
                continue
            plans.append(
                PlannedPush(
                    key=key,
                    version=customer.version,
                    ref=create_input["username"],
                    payload_hash=_change_fingerprint(create_input),
                    payload=CustomerPush(create_input, customer),
                    label=label,
                    lookup=lookup,
                )
            )
        return plans

    def create_input(self, push: PlannedPush[CustomerPush]) -> dict[str, Any]:
        return push.payload.create_input

    def update_input(self, push: PlannedPush[CustomerPush], ref: str) -> dict[str, Any]:
        return customer_update_input(push.payload.create_input, ref)

    def find_variables(self, ref: str) -> dict[str, Any]:
        return {"ref": ref}

    def deactivate_input(self, ref: str) -> dict[str, Any]:
        return {"username": ref, "promotionOptIn": False, "attributes": [DELETED_ATTRIBUTE]}

    def hook_subject(self, push: PlannedPush[CustomerPush]) -> CtModel | None:
        return push.payload.source

    def push_for_order(self, create_input: dict[str, Any], order: CtModel | None) -> PlannedPush[CustomerPush] | str:
        """A customer created at order time from the order (a guest's: no commercetools customer), ready for
        ``create``/``create_many``: its input after the customers' payload hooks, which receive the order (as the
        Adobe Commerce module's events carry it); or why it cannot be sent. The mutation gets the customers' field
        and variables hooks when it is sent."""
        hooked = self.hooked_payload(create_input, order, CUSTOMER_FIELD_LIMITS)
        if isinstance(hooked, str):
            return hooked
        username = hooked["username"]
        key = LedgerKey(ENTITY_TYPE, "", str(hooked.get("retailer", {}).get("id", "")))
        return PlannedPush(key, 0, username, _change_fingerprint(hooked), CustomerPush(hooked, order),
                           mask_email(username))  # fmt: skip
