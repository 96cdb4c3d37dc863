"""The customers section of the settings (``customers:`` in ``ctfluent.yaml``, ``CTFLUENT_CUSTOMERS__*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ctfluent_dagster.hooks import HookSettings


class CustomerMappingSettings(BaseModel):
    """How a commercetools customer becomes Fluent customers (one per retailer)."""

    model_config = ConfigDict(frozen=True)

    # Fluent retailer for customers in no mapped store; FLUENT_RETAILER_ID when unset.
    default_retailer_id: str | None = None
    # commercetools store key -> Fluent retailer id. A customer in several mapped stores goes to each retailer.
    store_retailers: dict[str, str] = Field(default_factory=dict)
    # Username = "<retailerId>_<email>", the email trimmed and lower-cased unless this is true.
    keep_email_case: bool = False
    # Fluent requires firstName: taken from the customer, else from the contact address, else this text.
    first_name_fallback: str = "Customer"
    # Fluent requires a time zone and commercetools has none: by the contact address's country, else the default.
    default_timezone: str = "UTC"
    timezone_by_country: dict[str, str] = Field(default_factory=dict)
    # A boolean custom field on the commercetools customer that holds marketing consent; absent -> opt-out.
    promotion_opt_in_field: str | None = None
    # upsert: create, or update when the mapped payload changed. create_only: an existing customer is linked.
    update_policy: Literal["upsert", "create_only"] = "upsert"
    hooks: HookSettings = Field(default_factory=HookSettings)
