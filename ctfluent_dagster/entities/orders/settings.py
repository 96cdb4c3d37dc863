"""The orders section of the settings (``orders:`` in ``ctfluent.yaml``, ``CTFLUENT_ORDERS__*``).

An order's retailer, and the customer it is created with, follow the ``customers`` section (store -> retailer map,
username rule, time zones, first-name fallback): one rule for both, so that an order and a customer sync find the
same Fluent customer.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ctfluent_dagster.entities.orders.models import TaxType
from ctfluent_dagster.hooks import HookSettings

# Where prices include a tax called GST (Fluent's home market): the tax type Fluent users there expect.
_GST_COUNTRIES: dict[str, TaxType] = {"AU": "GST", "NZ": "GST"}


class OrderSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    # Backfilling history must not start fulfilment of old orders: an order created before this day (UTC) is
    # skipped with that reason. Unset: the cut-off is `max_age_days` before the sync (a rolling window).
    created_from: date | None = None
    # Used when `created_from` is unset; 0 sends orders of any age.
    max_age_days: int = Field(default=30, ge=0)
    # Orders in these commercetools states are finished: skipped unless already in Fluent.
    skip_order_states: tuple[str, ...] = ("Complete", "Cancelled")
    # Fluent order ref: the order number, else this prefix + the commercetools order id.
    ref_prefix: str = "CT_"
    # Click & collect (type CC): orders whose shipping method key is one of these, or whose custom field
    # `pickup_location_field` is set. Everything else is home delivery (HD).
    click_and_collect_shipping_methods: tuple[str, ...] = ("click-collect",)
    pickup_location_field: str | None = "pickupLocation"
    # commercetools pickup location (the custom field's value) -> Fluent location ref; unmapped values are used as
    # they are.
    pickup_locations: dict[str, str] = Field(default_factory=dict)
    # Shipping method key -> Fluent delivery type; others get `default_delivery_type`.
    delivery_types: dict[str, str] = Field(default_factory=lambda: {"express": "EXPRESS"})
    default_delivery_type: str = "STANDARD"
    # Fluent fulfilmentType (its reference workflows take CC_PFS, CC_PFDC, HD_PFS, HD_PFDC: click & collect or home
    # delivery, picked from a store or a DC): by shipping method key, else by order type (HD, CC); an order type
    # missing here sends none.
    fulfilment_types: dict[str, str] = Field(default_factory=dict)
    default_fulfilment_types: dict[str, str] = Field(default_factory=lambda: {"HD": "HD_PFS", "CC": "CC_PFS"})
    # deliveryInstruction (250 characters; longer is cut, with a note): the order custom field
    # `delivery_instruction_field` when set and filled, else (`delivery_instruction_from_address`) the shipping
    # address's additionalAddressInfo.
    delivery_instruction_field: str | None = None
    delivery_instruction_from_address: bool = True
    # Item taxType: by the country of the line's tax rate (else the order's country) through
    # `tax_types_by_country`, else `included_tax_type` when the list price includes the tax (VAT, GST) and
    # `excluded_tax_type` when the tax comes on top (US sales tax) or the line has none.
    tax_types_by_country: dict[str, TaxType] = Field(default_factory=lambda: dict(_GST_COUNTRIES))
    included_tax_type: TaxType = "VAT"
    excluded_tax_type: TaxType = "EXCLTAX"
    # The order attribute (type JSON) holding the billing address: CreateOrderInput has no field for it. None: not
    # sent.
    billing_address_attribute: str | None = "billingAddress"
    # The item attribute (type STRING) holding the line item's name, in the first of `locales` it has (`en` also
    # matches `en-US`), else with `any_locale` its first locale alphabetically. None: not sent.
    line_item_name_attribute: str | None = "ctName"
    locales: tuple[str, ...] = ("en", "de")
    any_locale: bool = True
    # Custom line items (gift wrapping, a fee): "note" records them on the order (an attribute and a run note);
    # "item" sends those whose slug is in `custom_line_item_products` as items of that Fluent product ref.
    custom_line_items: Literal["note", "item"] = "note"
    custom_line_item_products: dict[str, str] = Field(default_factory=dict)
    # Order custom fields copied to Fluent order attributes (name in commercetools -> attribute name).
    custom_field_attributes: dict[str, str] = Field(default_factory=lambda: {"giftMessage": "giftMessage"})
    # Orders are created once and never updated (Fluent's workflows own them); later commercetools changes are
    # recorded in the ledger, not pushed.
    update_policy: Literal["create_only"] = "create_only"
    hooks: HookSettings = Field(default_factory=HookSettings)
    # An order cancelled in commercetools sends this event to its Fluent order (Event API; its workflow cancels it);
    # null: cancellations are not sent. Fluent statuses that mean cancelled already (no event is sent then).
    cancellation_event: str | None = "CancelOrder"
    cancelled_statuses: tuple[str, ...] = ("CANCELLED",)

    @model_validator(mode="before")
    @classmethod
    def _status_back_sync_moved(cls, values: Any) -> Any:
        """Settings of an older release would be ignored silently: say where they went."""
        if isinstance(values, dict) and "status_back_sync" in values:
            raise ValueError("orders.status_back_sync is now the order_status section (order_status: in the settings "
                             "file, CTFLUENT_ORDER_STATUS__* variables), with the same keys")  # fmt: skip
        return values
