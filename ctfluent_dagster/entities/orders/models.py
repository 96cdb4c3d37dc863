"""A commercetools order as read (the fields the mapping uses), and a Fluent order as the sync creates it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from ctfluent_dagster.commercetools.models import (
    Address,
    CtModel,
    CustomFields,
    LocalizedString,
    Money,
    StoreKeyReference,
)
from ctfluent_dagster.fluent.models import DEFAULT_STRING_LIMIT, AttributeInput, FluentModel, RetailerId

# "Max character limit: N" of CreateCustomerAddressInput (the delivery address) in Fluent's schema; 255 elsewhere.
ADDRESS_FIELD_LIMITS: dict[str, int] = {
    "ref": DEFAULT_STRING_LIMIT,
    "name": DEFAULT_STRING_LIMIT,
    "companyName": 45,
    "street": 100,
    "city": 45,
    "state": 200,
    "postcode": 100,
    "region": 250,
    "country": 100,
}
ORDER_FIELD_LIMITS: dict[str, int] = {"ref": DEFAULT_STRING_LIMIT, "type": DEFAULT_STRING_LIMIT}
# The input states none; the FulfilmentChoice field it sets does: "Instruction provided by the customer (250
# character limit)".
DELIVERY_INSTRUCTION_LIMIT = 250
# CreateOrderItemWithOrderInput.taxType: "Supported values are GST, VAT, EXCLTAX".
TaxType = Literal["GST", "VAT", "EXCLTAX"]


class TaxRate(CtModel):
    """The rate a line was taxed at: ``amount`` in 0..1 (the sum of its sub-rates), ``includedInPrice`` says
    whether the line's prices include it."""

    amount: Decimal
    included_in_price: bool
    country: str | None = None


class TaxedPrice(CtModel):
    total_net: Money
    total_gross: Money
    total_tax: Money | None = None


class Variant(CtModel):
    id: int | None = None
    sku: str | None = None
    key: str | None = None


class LineItem(CtModel):
    id: str
    product_id: str | None = None
    product_key: str | None = None
    name: LocalizedString | None = None
    variant: Variant
    price: dict[str, Any]  # {value: Money, ...}
    quantity: int
    total_price: Money
    taxed_price: TaxedPrice | None = None
    tax_rate: TaxRate | None = None

    @property
    def unit_price(self) -> Money:
        return Money.model_validate(self.price["value"])


class CustomLineItem(CtModel):
    id: str
    name: LocalizedString
    slug: str
    quantity: int
    money: Money
    total_price: Money
    taxed_price: TaxedPrice | None = None
    tax_rate: TaxRate | None = None

    @property
    def unit_price(self) -> Money:
        return self.money


class OrderAddress(Address):
    """An order's address: with ``additionalAddressInfo``, the shopper's note for the delivery."""

    additional_address_info: str | None = None


class ShippingMethodObject(CtModel):
    key: str | None = None


class ShippingMethodReference(CtModel):
    id: str | None = None
    obj: ShippingMethodObject | None = None  # with ``expand=shippingInfo.shippingMethod``


class ShippingInfo(CtModel):
    shipping_method_name: str | None = None
    price: Money
    taxed_price: TaxedPrice | None = None
    shipping_method: ShippingMethodReference | None = None

    @property
    def method_key(self) -> str | None:
        method = self.shipping_method
        return method.obj.key if method is not None and method.obj is not None else None


class PaymentReference(CtModel):
    id: str


class PaymentInfo(CtModel):
    payments: list[PaymentReference] = Field(default_factory=list)


class Order(CtModel):
    id: str
    version: int
    created_at: datetime
    last_modified_at: datetime
    order_number: str | None = None
    customer_id: str | None = None
    customer_email: str | None = None
    anonymous_id: str | None = None
    store: StoreKeyReference | None = None
    line_items: list[LineItem] = Field(default_factory=list)
    custom_line_items: list[CustomLineItem] = Field(default_factory=list)
    total_price: Money
    taxed_price: TaxedPrice | None = None
    shipping_address: OrderAddress | None = None
    billing_address: OrderAddress | None = None
    shipping_info: ShippingInfo | None = None
    payment_info: PaymentInfo | None = None
    order_state: str
    locale: str | None = None
    country: str | None = None
    custom: CustomFields | None = None


class FluentAddress(FluentModel):
    """``CreateCustomerAddressInput``: the delivery address."""

    ref: str
    name: str | None = None
    company_name: str | None = None
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postcode: str | None = None
    region: str | None = None
    country: str | None = None


class FluentFulfilmentChoice(FluentModel):
    """``CreateFulfilmentChoiceWithOrderInput``."""

    delivery_type: str
    fulfilment_type: str | None = None
    currency: str
    fulfilment_price: Decimal | None = None
    fulfilment_tax_price: Decimal | None = None
    pickup_location_ref: str | None = None
    delivery_instruction: str | None = None
    delivery_address: FluentAddress | None = None


class FluentOrderItem(FluentModel):
    """``CreateOrderItemWithOrderInput``."""

    ref: str
    product_ref: str
    product_catalogue_ref: str
    quantity: int
    currency: str
    price: Decimal  # per unit, net: as paidPrice ("Excludes tax")
    paid_price: Decimal
    tax_price: Decimal
    tax_type: TaxType
    total_price: Decimal  # the line's, gross
    total_tax_price: Decimal
    attributes: list[AttributeInput] = Field(default_factory=list)


class FluentOrder(FluentModel):
    """``CreateOrderInput`` without ``customer``, which the sync finds or creates at order time."""

    ref: str
    type: str
    retailer: RetailerId
    items: list[FluentOrderItem]
    total_price: Decimal
    total_tax_price: Decimal
    fulfilment_choice: FluentFulfilmentChoice | None = None
    attributes: list[AttributeInput] = Field(default_factory=list)

    def create_input(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)
