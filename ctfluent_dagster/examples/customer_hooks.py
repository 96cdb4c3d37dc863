"""A working example of each customer hook. Enable them in ctfluent.yaml::

    customers:
      hooks:
        payload: ["ctfluent_dagster.examples.customer_hooks:add_loyalty_tier"]
        query_fields: ["ctfluent_dagster.examples.customer_hooks:also_select_status"]
        query_variables: ["ctfluent_dagster.examples.customer_hooks:tag_integration"]

Put your own hooks in any importable module of the code location and list their dotted paths the same way.
"""

from __future__ import annotations

from typing import Any

from ctfluent_dagster.entities.customers.models import Customer


def add_loyalty_tier(payload: dict[str, Any], customer: Customer) -> dict[str, Any]:
    """Payload hook: copy a commercetools custom field into a Fluent attribute (part of change detection)."""
    tier = customer.custom.fields.get("loyaltyTier") if customer.custom else None
    if tier:
        tier_attribute = {"name": "loyaltyTier", "type": "STRING", "value": tier}
        payload["attributes"] = [*payload.get("attributes", []), tier_attribute]
    return payload


def also_select_status(fields: list[str], operation: str) -> list[str]:
    """Query-fields hook: also read back the customer's status from every customer mutation."""
    return [*fields, "status"] if "status" not in fields else fields


def tag_integration(variables: dict[str, Any], customer: Customer) -> dict[str, Any]:
    """Variables hook: mark what wrote the customer, at send time (not part of change detection)."""
    marker = {"name": "syncedBy", "type": "STRING", "value": "ctfluent"}
    attributes = [*variables["input"].get("attributes", []), marker]
    return {**variables, "input": {**variables["input"], "attributes": attributes}}
