"""Customers: how the sync engine maps, creates, updates and finds them in Fluent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import ValidationError

from ctfluent_dagster.commercetools.models import Customer
from ctfluent_dagster.fluent.client import FluentClient, FluentNotFoundError
from ctfluent_dagster.fluent.models import CUSTOMER_FIELD_LIMITS, customer_update_input, length_violations
from ctfluent_dagster.fluent.operations import Operation, operation
from ctfluent_dagster.hooks import LoadedCustomerHooks
from ctfluent_dagster.ledger.store import LedgerKey, payload_fingerprint
from ctfluent_dagster.mapping.customers import VOLATILE_ATTRIBUTES, SkippedCustomer, map_customer
from ctfluent_dagster.privacy import mask_email
from ctfluent_dagster.settings import CustomerMappingSettings
from ctfluent_dagster.sync.engine import FluentIdentity, PlannedPush, PlannedSkip

ENTITY_TYPE = "customer"
# What a customer deleted in commercetools looks like in Fluent (which cannot delete customers).
DELETED_ATTRIBUTE = {"name": "ctDeleted", "type": "BOOLEAN", "value": True}
# The sync needs these back from every customer mutation, whatever a field hook selects.
_IDENTITY_FIELDS = ("id", "ref")


@dataclass(frozen=True)
class CustomerPush:
    create_input: dict[str, Any]
    customer: Customer


def _change_fingerprint(create_input: Mapping[str, Any]) -> str:
    stable = dict(create_input)
    stable["attributes"] = [a for a in create_input.get("attributes", []) if a.get("name") not in VOLATILE_ATTRIBUTES]
    return payload_fingerprint(stable)


def _describe_invalid(exc: ValidationError) -> str:
    # Without input values: they may be personal data.
    problems = [
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_input=False, include_url=False)
    ]
    return "invalid commercetools customer: " + "; ".join(problems)


class CustomerSync:
    entity_type = ENTITY_TYPE

    def __init__(
        self,
        fluent: FluentClient,
        settings: CustomerMappingSettings,
        default_retailer_id: str | None,
        hooks: LoadedCustomerHooks | None = None,
    ) -> None:
        self.fluent = fluent
        self.settings = settings
        self.default_retailer_id = default_retailer_id
        self.hooks = hooks or LoadedCustomerHooks.load(settings.hooks)
        self._create = self._hooked(operation("CreateCustomer"))
        self._update = self._hooked(operation("UpdateCustomer"))
        self._find = operation("CustomerByRef")
        # Documents or variables changed by hooks are checked against Fluent's schema before they are sent.
        self._check_before_send = bool(self.hooks.query_fields or self.hooks.query_variables)

    def _hooked(self, base: Operation) -> Operation:
        if not self.hooks.query_fields:
            return base
        fields = self.hooks.apply_query_fields(base.root_selection(), base.name)
        fields += [f for f in _IDENTITY_FIELDS if f not in fields]
        return base.with_root_selection(fields)

    # -- EntitySync --------------------------------------------------------------------------------

    def plan(self, record: Mapping[str, Any]) -> list[PlannedPush[CustomerPush] | PlannedSkip]:
        try:
            customer = Customer.model_validate(record)
        except ValidationError as exc:
            key = LedgerKey(ENTITY_TYPE, str(record.get("id", "")), "")
            return [PlannedSkip(key, int(record.get("version") or 0), _describe_invalid(exc), label="")]
        label = mask_email(customer.email)
        plans: list[PlannedPush[CustomerPush] | PlannedSkip] = []
        for mapped in map_customer(customer, self.settings, self.default_retailer_id):
            key = LedgerKey(ENTITY_TYPE, customer.id, mapped.retailer_id or "")
            if isinstance(mapped, SkippedCustomer):
                plans.append(PlannedSkip(key, customer.version, mapped.reason, label))
                continue
            create_input = mapped.payload.create_input()
            # The mapping checked Fluent's lengths; a payload hook may have changed the values since.
            problems = []
            if self.hooks.payload:
                create_input = self.hooks.apply_payload(create_input, customer)
                problems = length_violations(create_input, CUSTOMER_FIELD_LIMITS)
            if problems:
                reason = "too long for Fluent after hooks: " + "; ".join(problems)
                plans.append(PlannedSkip(key, customer.version, reason, label))
                continue
            plans.append(
                PlannedPush(
                    key=key,
                    version=customer.version,
                    ref=create_input["username"],
                    payload_hash=_change_fingerprint(create_input),
                    payload=CustomerPush(create_input, customer),
                    label=label,
                )
            )
        return plans

    def create(self, push: PlannedPush[CustomerPush]) -> FluentIdentity:
        data = self._send(self._create, push.payload.create_input, push.payload.customer)
        return FluentIdentity(ref=data["ref"] or push.ref, id=data["id"])

    def update(self, push: PlannedPush[CustomerPush], ref: str) -> FluentIdentity:
        update_input = customer_update_input(push.payload.create_input, ref)
        data = self._send(self._update, update_input, push.payload.customer)
        return FluentIdentity(ref=data["ref"] or ref, id=data["id"])

    def find(self, ref: str) -> FluentIdentity | None:
        # Whether Fluent answers a missing ref with null or with C0120E is undocumented: both mean "none".
        try:
            found = self.fluent.execute(self._find, {"ref": ref})[self._find.root_field]
        except FluentNotFoundError:
            return None
        return FluentIdentity(ref=found["ref"], id=found["id"]) if found else None

    def mark_deleted(self, ref: str) -> FluentIdentity:
        marker = {"username": ref, "promotionOptIn": False, "attributes": [DELETED_ATTRIBUTE]}
        data = self.fluent.execute(self._update, {"input": marker})[self._update.root_field]
        return FluentIdentity(ref=data["ref"] or ref, id=data["id"])

    def create_many(self, pushes: Sequence[PlannedPush[CustomerPush]]) -> list[FluentIdentity]:
        items = [(push.payload.create_input, push.payload.customer) for push in pushes]
        answers = self._send_batch(self._create, items)
        return [FluentIdentity(ref=a["ref"] or p.ref, id=a["id"]) for a, p in zip(answers, pushes, strict=True)]

    def update_many(self, pushes: Sequence[tuple[PlannedPush[CustomerPush], str]]) -> list[FluentIdentity]:
        items = [(customer_update_input(p.payload.create_input, ref), p.payload.customer) for p, ref in pushes]
        answers = self._send_batch(self._update, items)
        return [FluentIdentity(ref=a["ref"] or ref, id=a["id"]) for a, (_, ref) in zip(answers, pushes, strict=True)]

    def _variables(self, input_value: dict[str, Any], customer: Customer) -> dict[str, Any]:
        return self.hooks.apply_query_variables({"input": input_value}, customer)

    def _send(self, op: Operation, input_value: dict[str, Any], customer: Customer) -> dict[str, Any]:
        variables = self._variables(input_value, customer)
        if self._check_before_send:
            self.fluent.check(op, variables)
        result: dict[str, Any] = self.fluent.execute(op, variables)[op.root_field]
        return result

    def _send_batch(self, op: Operation, items: Sequence[tuple[dict[str, Any], Customer]]) -> list[dict[str, Any]]:
        batch = _batched(op, len(items))
        variables = {
            f"{name}{index}": value
            for index, (input_value, customer) in enumerate(items)
            for name, value in self._variables(input_value, customer).items()
        }
        if self._check_before_send:
            self.fluent.check(batch, variables)
        data = self.fluent.execute(batch, variables)
        return [data[f"item{index}"] for index in range(len(items))]


@cache
def _batched(op: Operation, count: int) -> Operation:
    return op.batched(count)
