"""Orders: the queryable fields, the two ways an order comes to be, the update actions and their messages.

* **Import** (``POST /orders/import``, ``OrderImportDraft``) -> ``OrderImported``. As documented, the totals are taken
  as given (``totalPrice`` is required and not computed from the items), and so are line item prices and taxed
  prices; a line's taxed price is otherwise derived from its given tax rate. A line's variant is found by
  ``variant.sku`` or by ``productId`` + ``variant.id`` (published data first) and copied into the line item, with
  ``prices``, ``attributes`` and ``images`` replaced where the draft gives them; an unknown variant is 400
  ``InvalidOperation``. The spec's ``OrderImportDraft`` has no ``locale``: an import cannot set one.
* **Checkout** (:func:`checkout`) -> ``OrderCreated``. The emulator has no Carts API, so ``POST /orders``
  (``OrderFromCartDraft``) always fails on the cart it names; a checkout takes a cart-like draft instead (through
  the admin API or in process, see :meth:`CommercetoolsEmulator.checkout`) and prices it as a cart in platform tax
  mode would: each line's price is the variant's price for the currency (and country, else without one) valid now,
  less a built-in cart discount if the line names one; taxes come from the built-in tax category (:mod:`taxes`);
  shipping from the shipping method's rate for the country and currency, free above its threshold.
* **Update actions**: ``changeOrderState``, ``changeShipmentState``, ``changePaymentState`` (each with its message,
  new and old value; enum values checked: the order state is ``Cancelled``, the shipment state ``Canceled``),
  ``addPayment`` (``OrderPaymentAdded`` with ``paymentRef``; a payment already on the order is refused),
  ``setOrderNumber`` (once, and without a message, as the spec has none), and the delivery and parcel actions of
  :mod:`.deliveries` (``addDelivery``, ``addParcelToDelivery``, ``setParcelTrackingData``...).
* ``paymentInfo(payments(id = ...))``, how a payment's order is found, is served by a lookup index.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctfluent_sandbox.commercetools import deliveries, products, shipping_methods, taxes
from ctfluent_sandbox.commercetools.customers import ADDRESS_SCHEMA, parse_address
from ctfluent_sandbox.commercetools.errors import (
    CtError,
    invalid_json,
    invalid_operation,
    referenced_resource_not_found,
)
from ctfluent_sandbox.commercetools.messages import Change
from ctfluent_sandbox.commercetools.money import cent_precision, currency_code, divide, money
from ctfluent_sandbox.commercetools.predicates import ANY_SCHEMA, Leaf, Schema
from ctfluent_sandbox.commercetools.projections import MONEY_SCHEMA, PRICE_SCHEMA, VARIANT_SCHEMA, variants
from ctfluent_sandbox.commercetools.resources import (
    BASE_RESOURCE_FIELDS,
    CUSTOM_FIELDS_SCHEMA,
    REFERENCE_SCHEMA,
    ActionHandler,
    ResourceKind,
    WriteContext,
    custom_fields,
    derived_id,
    new_resource_fields,
    optional_enum,
    optional_list,
    optional_str,
    reference,
    required_enum,
    required_localized,
    required_str,
    resolve,
    store_reference,
)
from ctfluent_sandbox.commercetools.store import Collection, Resource

ORDER_STATES = ("Open", "Confirmed", "Complete", "Cancelled")
SHIPMENT_STATES = ("Shipped", "Delivered", "Ready", "Pending", "Delayed", "Partial", "Backorder", "Canceled")
PAYMENT_STATES = ("BalanceDue", "Failed", "Pending", "CreditOwed", "Paid")
_ORIGINS = ("Customer", "Merchant", "Quote", "RecurringOrder")
_ROUNDING_MODES = ("HalfEven", "HalfUp", "HalfDown")
_IMPORT_MODES = {
    "priceRoundingMode": _ROUNDING_MODES,
    "taxRoundingMode": _ROUNDING_MODES,
    "taxCalculationMode": ("LineItemLevel", "UnitPriceLevel"),
    "inventoryMode": ("None", "TrackOnly", "ReserveOnOrder", "ReserveOnCart"),
}
# A checkout's platform settings: the project's rounding modes (HalfEven), taxes per line item.
_CHECKOUT_MODES = {
    "taxMode": "Platform",
    "inventoryMode": "None",
    "taxRoundingMode": "HalfEven",
    "priceRoundingMode": "HalfEven",
    "taxCalculationMode": "LineItemLevel",
}
# Built-in cart discounts (there is no Cart Discounts API): key -> percent off a line's price.
CART_DISCOUNTS = {"summer-sale": 10, "loyalty": 15, "clearance": 30}
# Every line item starts in the project's initial line item state (no States API: a derived id).
_INITIAL_STATE = reference("state", derived_id("states/Initial"))

_TAXED_SCHEMA = Schema(
    {
        "totalNet": MONEY_SCHEMA,
        "totalGross": MONEY_SCHEMA,
        "totalTax": MONEY_SCHEMA,
        "taxPortions": Schema({"name": "string", "rate": "number", "amount": MONEY_SCHEMA}),
    }
)
_TAX_RATE_SCHEMA = Schema(
    {
        "id": "string",
        "key": "string",
        "name": "string",
        "amount": "number",
        "includedInPrice": "boolean",
        "country": "string",
        "state": "string",
        "subRates": ANY_SCHEMA,
    }
)
_DISCOUNTED_SCHEMA = Schema(
    {
        "quantity": "number",
        "discountedPrice": Schema(
            {
                "value": MONEY_SCHEMA,
                "includedDiscounts": Schema({"discount": REFERENCE_SCHEMA, "discountedAmount": MONEY_SCHEMA}),
            }
        ),
    }
)
_ITEM_FIELDS: dict[str, Leaf | Schema] = {
    "id": "string",
    "key": "string",
    "name": ANY_SCHEMA,
    "quantity": "number",
    "totalPrice": MONEY_SCHEMA,
    "taxedPrice": _TAXED_SCHEMA,
    "taxedPricePortions": ANY_SCHEMA,
    "taxRate": _TAX_RATE_SCHEMA,
    "perMethodTaxRate": ANY_SCHEMA,
    "discountedPricePerQuantity": _DISCOUNTED_SCHEMA,
    "state": Schema({"quantity": "number", "state": REFERENCE_SCHEMA}),
    "priceMode": "string",
    "shippingDetails": ANY_SCHEMA,
    "custom": CUSTOM_FIELDS_SCHEMA,
}
_LINE_ITEM_SCHEMA = Schema(
    {
        **_ITEM_FIELDS,
        "productId": "string",
        "productKey": "string",
        "productSlug": ANY_SCHEMA,
        "productType": REFERENCE_SCHEMA,
        "variant": VARIANT_SCHEMA,
        "price": PRICE_SCHEMA,
        "lineItemMode": "string",
        "inventoryMode": "string",
        "supplyChannel": REFERENCE_SCHEMA,
        "distributionChannel": REFERENCE_SCHEMA,
        "addedAt": "string",
        "lastModifiedAt": "string",
    }
)
_CUSTOM_LINE_ITEM_SCHEMA = Schema(
    {**_ITEM_FIELDS, "money": MONEY_SCHEMA, "slug": "string", "taxCategory": REFERENCE_SCHEMA}
)
_SHIPPING_INFO_SCHEMA = Schema(
    {
        "shippingMethodName": "string",
        "price": MONEY_SCHEMA,
        "shippingRate": ANY_SCHEMA,
        "taxedPrice": _TAXED_SCHEMA,
        "taxRate": _TAX_RATE_SCHEMA,
        "taxCategory": REFERENCE_SCHEMA,
        "shippingMethod": REFERENCE_SCHEMA,
        "deliveries": deliveries.DELIVERY_SCHEMA,
        "discountedPrice": ANY_SCHEMA,
        "shippingMethodState": "string",
    }
)
ORDER_SCHEMA = Schema(
    {
        **BASE_RESOURCE_FIELDS,
        "orderNumber": "string",
        "purchaseOrderNumber": "string",
        "customerId": "string",
        "customerEmail": "string",
        "anonymousId": "string",
        "customerGroup": REFERENCE_SCHEMA,
        "store": Schema({"typeId": "string", "key": "string"}),
        "lineItems": _LINE_ITEM_SCHEMA,
        "customLineItems": _CUSTOM_LINE_ITEM_SCHEMA,
        "totalPrice": MONEY_SCHEMA,
        "taxedPrice": _TAXED_SCHEMA,
        "taxedShippingPrice": _TAXED_SCHEMA,
        "shippingAddress": ADDRESS_SCHEMA,
        "billingAddress": ADDRESS_SCHEMA,
        "itemShippingAddresses": ADDRESS_SCHEMA,
        "shippingMode": "string",
        "shippingInfo": _SHIPPING_INFO_SCHEMA,
        "shipping": ANY_SCHEMA,
        **dict.fromkeys((*_CHECKOUT_MODES, *_IMPORT_MODES), "string"),
        "discountCodes": ANY_SCHEMA,
        "directDiscounts": ANY_SCHEMA,
        "refusedGifts": REFERENCE_SCHEMA,
        "paymentInfo": Schema({"payments": REFERENCE_SCHEMA}),
        "country": "string",
        "locale": "string",
        "origin": "string",
        "orderState": "string",
        "shipmentState": "string",
        "paymentState": "string",
        "state": REFERENCE_SCHEMA,
        "syncInfo": ANY_SCHEMA,
        "returnInfo": ANY_SCHEMA,
        "custom": CUSTOM_FIELDS_SCHEMA,
        "completedAt": "string",
    }
)


def _payment_ids(order: Resource) -> list[str]:
    return [payment["id"] for payment in order.get("paymentInfo", {}).get("payments", ())]


def new_collection() -> Collection:
    return Collection(
        ORDER_SCHEMA,
        indexed=("lastModifiedAt", "createdAt"),
        unique={"orderNumber": lambda o: o.get("orderNumber")},
        lookups={("paymentInfo", "payments", "id"): _payment_ids},
    )


def identifiers(order: Resource) -> dict[str, str]:
    return {"orderNumber": order["orderNumber"]} if "orderNumber" in order else {}


def cart_discount(key: str) -> dict[str, str]:
    """The reference to a built-in cart discount."""
    return reference("cart-discount", derived_id(f"cart-discounts/{key}"))


# -- the parts of an order -------------------------------------------------------------------------------------


def _quantity(source: Mapping[str, Any], field: str, default: int | None = None) -> int:
    value = source.get("quantity", default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_json(f"{field} -> quantity: expected an integer")
    return value


def _line_item(
    ctx: WriteContext,
    product: Resource,
    data: Resource,
    variant: Resource,
    *,
    name: Mapping[str, str],
    quantity: int,
    price: Resource,
    price_mode: str,
    discount: str | None = None,
) -> Resource:
    """A ``LineItem`` of ``quantity`` units of ``variant`` (of ``product``, its ``data`` side) at ``price``, less the
    cart discount ``discount`` if given: every unit gets the same discounted price."""
    currency, unit = price["value"]["currencyCode"], price["value"]["centAmount"]
    item: Resource = {"id": ctx.ids.uuid(), "productId": product["id"]}
    if "key" in product:
        item["productKey"] = product["key"]
    item.update(
        name=name,
        productSlug=data["slug"],
        productType=product["productType"],
        variant=variant,
        price=price,
        quantity=quantity,
        discountedPricePerQuantity=[],
    )
    paid = unit
    if discount is not None:
        off = divide(unit * CART_DISCOUNTS[discount], 100)
        paid = unit - off
        portion = {"discount": cart_discount(discount), "discountedAmount": money(currency, off)}
        discounted = {"value": money(currency, paid), "includedDiscounts": [portion]}
        item["discountedPricePerQuantity"] = [{"quantity": quantity, "discountedPrice": discounted}]
    item.update(
        totalPrice=money(currency, paid * quantity),
        taxedPricePortions=[],
        state=[{"quantity": quantity, "state": _INITIAL_STATE}],
        perMethodTaxRate=[],
        priceMode=price_mode,
        lineItemMode="Standard",
        addedAt=ctx.now,
    )
    return item


def _custom_line_item(raw: Any, field: str, ctx: WriteContext) -> Resource:
    """A ``CustomLineItem`` of a checkout or import draft, not yet taxed."""
    if not isinstance(raw, dict):
        raise invalid_json(f"{field}: expected a custom line item draft")
    item: Resource = {"id": ctx.ids.uuid()}
    key = optional_str(raw, "key")
    if key is not None:
        item["key"] = key
    unit = cent_precision(raw.get("money"), f"{field}.money")
    quantity = _quantity(raw, field)
    item.update(
        name=required_localized(raw, "name"),
        money=unit,
        slug=required_str(raw, "slug"),
        quantity=quantity,
        totalPrice=money(unit["currencyCode"], unit["centAmount"] * quantity),
        discountedPricePerQuantity=[],
        taxedPricePortions=[],
        state=[{"quantity": quantity, "state": _INITIAL_STATE}],
        perMethodTaxRate=[],
        priceMode=optional_enum(raw, "priceMode", ("Standard", "External")) or "Standard",
    )
    if raw.get("custom") is not None:
        item["custom"] = custom_fields(raw["custom"], ctx)
    return item


def _tax(item: Resource, rate: Mapping[str, Any], taxed: Mapping[str, Any] | None = None) -> None:
    """Give a line (or the shipping info) its tax rate and taxed price: ``taxed`` as given, else derived."""
    item["taxRate"] = rate
    item["taxedPrice"] = taxes.taxed(item.get("totalPrice") or item["price"], rate) if taxed is None else taxed


def _taxed_totals(order: Resource, currency: str) -> None:
    """``taxedPrice`` (and ``taxedShippingPrice``) of an order whose every line is taxed, as a cart derives them."""
    lines = [*order["lineItems"], *order["customLineItems"]]
    shipping = order.get("shippingInfo")
    parts = [line.get("taxedPrice") for line in lines] + ([] if shipping is None else [shipping.get("taxedPrice")])
    if all(part is not None for part in parts):
        order["taxedPrice"] = taxes.summed((part for part in parts if part is not None), currency)
    if shipping is not None and "taxedPrice" in shipping:
        order["taxedShippingPrice"] = shipping["taxedPrice"]  # a TaxedPrice of the same amounts


def _find_variant(product: Resource, variant_id: int | None, sku: str | None) -> tuple[Resource, Resource] | None:
    """The data side (published first) and variant of ``product`` with ``variant_id`` or ``sku``."""
    master = product["masterData"]
    sides = (master["current"], master["staged"]) if master["published"] else (master["staged"],)
    for data in sides:
        for variant in variants(data):
            if (variant["id"] == variant_id) if variant_id is not None else (variant.get("sku") == sku):
                return data, variant
    return None


def _no_variant(wanted: str) -> CtError:
    return invalid_operation(f"The product variant with {wanted} does not exist.")


def select_price(product: Resource, variant: Resource, currency: str, country: str, now: str) -> Resource:
    """The price a cart selects: the currency's, valid now, for the country if the variant has one, else for any
    country; one with a validity period is more specific than one without. 400 ``MatchingPriceNotFound`` if none."""
    best: tuple[tuple[bool, bool], Resource] | None = None
    for price in variant["prices"]:
        if price["value"]["currencyCode"] != currency or "channel" in price or "customerGroup" in price:
            continue
        if price.get("country", country) != country:
            continue
        if not price.get("validFrom", now) <= now < price.get("validUntil", "\uffff"):
            continue
        rank = ("country" in price, "validFrom" in price or "validUntil" in price)
        if best is None or rank > best[0]:
            best = (rank, price)
    if best is None:
        raise CtError(
            400,
            "MatchingPriceNotFound",
            f"The variant {variant['id']} of product '{product['id']}' has no price for currency {currency} and "
            f"country {country}.",
            productId=product["id"],
            variantId=variant["id"],
            currency=currency,
            country=country,
        )
    return best[1]


def _customer_id(draft: Mapping[str, Any], ctx: WriteContext) -> Resource | None:
    """The customer a draft's ``customerId`` names: 400 ``ReferencedResourceNotFound`` if it does not exist."""
    customer_id = optional_str(draft, "customerId")
    if customer_id is None:
        return None
    customer = ctx.collections["customer"].get(customer_id)
    if customer is None:
        raise referenced_resource_not_found("customer", id=customer_id)
    return customer


def _finish(order: Resource, draft: Mapping[str, Any], payments: list[Any], ctx: WriteContext) -> None:
    """The fields imports and checkouts fill alike: states, ``payments`` (identifiers), custom fields and the empty
    lists."""
    order["shippingMode"] = "Single"
    order["shipping"] = []
    order["orderState"] = optional_enum(draft, "orderState", ORDER_STATES) or "Open"
    for name, allowed in (("shipmentState", SHIPMENT_STATES), ("paymentState", PAYMENT_STATES)):
        value = optional_enum(draft, name, allowed)
        if value is not None:
            order[name] = value
    if payments:
        order["paymentInfo"] = {
            "payments": [reference("payment", resolve(i, "payment", ctx, "payments")["id"]) for i in payments]
        }
    if draft.get("custom") is not None:
        order["custom"] = custom_fields(draft["custom"], ctx)
    order.update(syncInfo=[], returnInfo=[], refusedGifts=[], discountCodes=[], directDiscounts=[])
    order["itemShippingAddresses"] = []


def _start(draft: Mapping[str, Any], ctx: WriteContext) -> tuple[Resource, Resource | None]:
    """A new order with its number, customer and store from the draft, and the customer."""
    order: Resource = new_resource_fields(ctx)
    number = optional_str(draft, "orderNumber")
    if number is not None:
        order["orderNumber"] = number
    customer = _customer_id(draft, ctx)
    if customer is not None:
        order["customerId"] = customer["id"]
    email = optional_str(draft, "customerEmail")
    if email is not None:
        order["customerEmail"] = email
    if draft.get("store") is not None:
        order["store"] = store_reference(draft["store"], ctx)
    return order, customer


# -- checkout --------------------------------------------------------------------------------------------------


def checkout(draft: Mapping[str, Any], ctx: WriteContext) -> tuple[Resource, list[Change]]:
    """An order as a checkout of a cart makes it (the emulator has no carts). The draft:

    ``currency``; ``shippingAddress`` (its country is the cart's, unless ``country`` says otherwise) and optionally
    ``billingAddress``; ``customerId`` (``customerEmail`` then defaults to the customer's email), ``customerEmail``,
    ``anonymousId``; ``store`` (the country must be one of the store's); ``locale``; ``lineItems``: ``{sku,
    quantity?, discount?}`` (``discount``: a key of :data:`CART_DISCOUNTS`); ``customLineItems``: ``{name, slug,
    quantity, money, key?}``; ``shippingMethod`` (by key or id); ``payments``: payments added to the cart, so the
    order has them from the start (and no ``OrderPaymentAdded``); ``orderNumber``, ``orderState``,
    ``shipmentState``, ``paymentState``, ``custom``."""
    currency = currency_code(draft.get("currency"), "currency")
    shipping_address = parse_address(draft.get("shippingAddress"), ctx, field="shippingAddress")
    country = optional_str(draft, "country") or shipping_address["country"]
    rate = taxes.rate_for(country)
    order, customer = _start(draft, ctx)
    if customer is not None and "customerEmail" not in order:
        order["customerEmail"] = customer["email"]
    anonymous_id = optional_str(draft, "anonymousId")
    if anonymous_id is not None:
        order["anonymousId"] = anonymous_id
    if "store" in order:
        _check_store_country(order["store"]["key"], country, ctx)
    order["lineItems"] = []
    for position, raw in enumerate(optional_list(draft, "lineItems")):
        item = _checkout_line_item(raw, f"lineItems -> [{position}]", currency, country, ctx)
        _tax(item, rate)
        order["lineItems"].append(item)
    order["customLineItems"] = []
    for position, raw in enumerate(optional_list(draft, "customLineItems")):
        item = _custom_line_item(raw, f"customLineItems -> [{position}]", ctx)
        if item["money"]["currencyCode"] != currency:
            raise invalid_operation(f"The custom line item's currency must be the cart's, {currency}.")
        item["taxCategory"] = taxes.tax_category()
        _tax(item, rate)
        order["customLineItems"].append(item)
    subtotal = sum(line["totalPrice"]["centAmount"] for line in (*order["lineItems"], *order["customLineItems"]))
    shipping = 0
    if draft.get("shippingMethod") is not None:
        method = resolve(draft["shippingMethod"], "shipping-method", ctx, "shippingMethod")
        order["shippingInfo"] = _checkout_shipping(method, subtotal, currency, country, rate)
        shipping = order["shippingInfo"]["price"]["centAmount"]
    order["totalPrice"] = money(currency, subtotal + shipping)
    _taxed_totals(order, currency)
    order["shippingAddress"] = shipping_address
    if draft.get("billingAddress") is not None:
        order["billingAddress"] = parse_address(draft["billingAddress"], ctx, field="billingAddress")
    order.update(_CHECKOUT_MODES)
    order["country"] = country
    locale = optional_str(draft, "locale")
    if locale is not None:
        order["locale"] = locale
    order["origin"] = "Customer"
    _finish(order, draft, optional_list(draft, "payments"), ctx)
    return order, [Change("OrderCreated", {"order": order})]


def _check_store_country(store_key: str, country: str, ctx: WriteContext) -> None:
    store = ctx.collections["store"].find("key", store_key)
    countries = [c["code"] for c in store["countries"]] if store is not None else []
    if countries and country not in countries:
        raise CtError(
            400,
            "CountryNotConfiguredInStore",
            f"The country '{country}' is not configured for the store '{store_key}'.",
            storeCountries=countries,
            country=country,
        )


def _checkout_line_item(raw: Any, field: str, currency: str, country: str, ctx: WriteContext) -> Resource:
    if not isinstance(raw, dict):
        raise invalid_json(f"{field}: expected a line item draft")
    sku = required_str(raw, "sku")
    product = ctx.collections["product"].find("sku", sku)
    found = None if product is None or not product["masterData"]["published"] else _find_variant(product, None, sku)
    if product is None or found is None or found[0] is not product["masterData"]["current"]:
        raise _no_variant(f"the SKU '{sku}' in published data")
    data, variant = found
    discount = optional_str(raw, "discount")
    if discount is not None and discount not in CART_DISCOUNTS:
        raise referenced_resource_not_found("cart-discount", key=discount)
    price = select_price(product, variant, currency, country, ctx.now)
    return _line_item(
        ctx,
        product,
        data,
        variant,
        name=data["name"],
        quantity=_quantity(raw, field, default=1),
        price=price,
        price_mode="Platform",
        discount=discount,
    )


def _checkout_shipping(
    method: Resource, subtotal: int, currency: str, country: str, rate: Mapping[str, Any]
) -> Resource:
    shipping_rate = shipping_methods.shipping_rate(method, country, currency)
    if shipping_rate is None:
        raise CtError(
            400,
            "ShippingMethodDoesNotMatchCart",
            f"The shipping method '{method.get('key', method['id'])}' has no rate for {country} in {currency}.",
        )
    free_above = shipping_rate.get("freeAbove")
    free = free_above is not None and subtotal >= free_above["centAmount"]
    info: Resource = {
        "shippingMethodName": method["name"],
        "price": money(currency, 0 if free else shipping_rate["price"]["centAmount"]),
        "shippingRate": shipping_rate,
        "taxCategory": taxes.tax_category(),
        "shippingMethod": reference("shipping-method", method["id"]),
        "deliveries": [],
        "shippingMethodState": "MatchesCart",
    }
    _tax(info, rate)
    return info


# -- import ----------------------------------------------------------------------------------------------------


def import_order(draft: Mapping[str, Any], ctx: WriteContext) -> tuple[Resource, list[Change]]:
    """An ``OrderImportDraft`` as the order it creates."""
    if draft.get("totalPrice") is None:
        raise invalid_json("totalPrice: Missing required value")
    order, _ = _start(draft, ctx)
    order["lineItems"] = [
        _imported_line_item(raw, f"lineItems -> [{position}]", ctx)
        for position, raw in enumerate(optional_list(draft, "lineItems"))
    ]
    order["customLineItems"] = []
    for position, raw in enumerate(optional_list(draft, "customLineItems")):
        field = f"customLineItems -> [{position}]"
        item = _custom_line_item(raw, field, ctx)
        if raw.get("taxCategory") is not None:  # no Tax Categories API: whatever it names cannot be found
            raise referenced_resource_not_found("tax-category", id=str(raw["taxCategory"].get("id")))
        if raw.get("taxRate") is not None:
            _tax(item, taxes.tax_rate(raw["taxRate"], f"{field}.taxRate"), _given_taxed(raw, field))
        order["customLineItems"].append(item)
    order["totalPrice"] = cent_precision(draft["totalPrice"], "totalPrice")
    if draft.get("taxedPrice") is not None:
        order["taxedPrice"] = taxes.taxed_price(draft["taxedPrice"], "taxedPrice")
    for name in ("shippingAddress", "billingAddress"):
        if draft.get(name) is not None:
            order[name] = parse_address(draft[name], ctx, field=name)
    if draft.get("shippingInfo") is not None:
        order["shippingInfo"] = _imported_shipping(draft["shippingInfo"], ctx)
        if "taxedPrice" in order["shippingInfo"]:
            order["taxedShippingPrice"] = order["shippingInfo"]["taxedPrice"]
    for name, allowed in _IMPORT_MODES.items():
        value = optional_enum(draft, name, allowed)
        if value is not None:
            order[name] = value
    for name in ("country", "completedAt", "purchaseOrderNumber"):
        value = optional_str(draft, name)
        if value is not None:
            order[name] = value
    order["origin"] = optional_enum(draft, "origin", _ORIGINS) or "Customer"
    payment_info = draft.get("paymentInfo") or {}
    if not isinstance(payment_info, dict):
        raise invalid_json("paymentInfo: expected a PaymentInfo")
    _finish(order, draft, optional_list(payment_info, "payments"), ctx)
    return order, [Change("OrderImported", {"order": order})]


def _given_taxed(raw: Mapping[str, Any], field: str) -> dict[str, Any] | None:
    """A line's pre-calculated taxed price, stored as sent (the import allows one with a tax rate)."""
    given = raw.get("taxedPrice")
    return None if given is None else taxes.taxed_price(given, f"{field}.taxedPrice")


def _imported_line_item(raw: Any, field: str, ctx: WriteContext) -> Resource:
    if not isinstance(raw, dict):
        raise invalid_json(f"{field}: expected a LineItemImportDraft")
    wanted = raw.get("variant")
    if not isinstance(wanted, dict):
        raise invalid_json(f"{field} -> variant: Missing required value")
    product_id, variant_id, sku = optional_str(raw, "productId"), wanted.get("id"), optional_str(wanted, "sku")
    if product_id is not None:
        if isinstance(variant_id, bool) or not isinstance(variant_id, int):
            raise invalid_json(f"{field} -> variant -> id: required with a productId")
        product = ctx.collections["product"].get(product_id)
        found = None if product is None else _find_variant(product, variant_id, None)
        missing = f"the id {variant_id} in product '{product_id}'"
    elif sku is not None:
        product = ctx.collections["product"].find("sku", sku)
        found = None if product is None else _find_variant(product, None, sku)
        missing = f"the SKU '{sku}'"
    else:
        raise invalid_json(f"{field} -> variant: either a sku or a productId with the variant id is required")
    if product is None or found is None:
        raise _no_variant(missing)
    data, variant = found
    overrides: Resource = {}
    if wanted.get("prices") is not None:
        overrides["prices"] = products.new_prices(optional_list(wanted, "prices"), ctx)
    if wanted.get("attributes") is not None:
        overrides["attributes"] = optional_list(wanted, "attributes")
    if wanted.get("images") is not None:
        overrides["images"] = [products.parse_image(image) for image in optional_list(wanted, "images")]
    item = _line_item(
        ctx,
        product,
        data,
        {**variant, **overrides} if overrides else variant,
        name=required_localized(raw, "name"),
        quantity=_quantity(raw, field),
        price=products.new_price(raw.get("price"), ctx),
        price_mode="ExternalPrice",
    )
    key = optional_str(raw, "key")
    if key is not None:
        item["key"] = key
    if raw.get("taxRate") is not None:
        _tax(item, taxes.tax_rate(raw["taxRate"], f"{field}.taxRate"), _given_taxed(raw, field))
    if raw.get("state") is not None:
        item["state"] = optional_list(raw, "state")
    if raw.get("custom") is not None:
        item["custom"] = custom_fields(raw["custom"], ctx)
    return item


def _imported_shipping(raw: Any, ctx: WriteContext) -> Resource:
    if not isinstance(raw, dict):
        raise invalid_json("shippingInfo: expected a ShippingInfoImportDraft")
    rate = raw.get("shippingRate")
    if not isinstance(rate, dict):
        raise invalid_json("shippingInfo -> shippingRate: Missing required value")
    shipping_rate: Resource = {"price": cent_precision(rate.get("price"), "shippingInfo.shippingRate.price")}
    if rate.get("freeAbove") is not None:
        shipping_rate["freeAbove"] = cent_precision(rate["freeAbove"], "shippingInfo.shippingRate.freeAbove")
    shipping_rate["tiers"] = optional_list(rate, "tiers")
    info: Resource = {
        "shippingMethodName": required_str(raw, "shippingMethodName"),
        "price": cent_precision(raw.get("price"), "shippingInfo.price"),
        "shippingRate": shipping_rate,
    }
    if raw.get("taxCategory") is not None:
        raise referenced_resource_not_found("tax-category", id=str(raw["taxCategory"].get("id")))
    if raw.get("shippingMethod") is not None:
        method = resolve(raw["shippingMethod"], "shipping-method", ctx, "shippingInfo.shippingMethod")
        info["shippingMethod"] = reference("shipping-method", method["id"])
    if raw.get("taxRate") is not None:
        _tax(info, taxes.tax_rate(raw["taxRate"], "shippingInfo.taxRate"), _given_taxed(raw, "shippingInfo"))
    info["deliveries"] = []
    info["shippingMethodState"] = (
        optional_enum(raw, "shippingMethodState", ("DoesNotMatchCart", "MatchesCart")) or "MatchesCart"
    )
    return info


def _from_cart(draft: Mapping[str, Any], ctx: WriteContext) -> tuple[Resource, list[Change]]:
    """``POST /orders`` (``OrderFromCartDraft``): the emulator has no carts, so the cart it names does not exist."""
    cart = draft.get("cart")
    if not isinstance(cart, dict):
        raise invalid_json("cart: Missing required value")
    if isinstance(cart.get("key"), str):
        raise referenced_resource_not_found("cart", key=cart["key"])
    raise referenced_resource_not_found("cart", id=str(cart.get("id")))


# -- update actions --------------------------------------------------------------------------------------------


def _change_state(name: str, allowed: tuple[str, ...], message: str, old_name: str) -> ActionHandler:
    def handler(order: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
        value = required_enum(action, name, allowed)
        old = order.get(name)
        order[name] = value
        return [Change(message, {name: value, **({} if old is None else {old_name: old})})]

    return handler


def _add_payment(order: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    payment = reference("payment", resolve(action.get("payment"), "payment", ctx, "payment")["id"])
    payments = order.get("paymentInfo", {}).get("payments", [])
    if payment in payments:
        raise invalid_operation(f"The payment '{payment['id']}' has already been added to the order.")
    order["paymentInfo"] = {"payments": [*payments, payment]}
    return [Change("OrderPaymentAdded", {"paymentRef": payment})]


def _set_order_number(order: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    if order.get("orderNumber") is not None:
        raise invalid_operation("The orderNumber of an order can be set only once; it cannot be changed.")
    number = optional_str(action, "orderNumber")
    if number is not None:
        order["orderNumber"] = number
    return []


ACTIONS: dict[str, ActionHandler] = {
    "changeOrderState": _change_state("orderState", ORDER_STATES, "OrderStateChanged", "oldOrderState"),
    "changeShipmentState": _change_state(
        "shipmentState", SHIPMENT_STATES, "OrderShipmentStateChanged", "oldShipmentState"
    ),
    "changePaymentState": _change_state("paymentState", PAYMENT_STATES, "OrderPaymentStateChanged", "oldPaymentState"),
    "addPayment": _add_payment,
    "setOrderNumber": _set_order_number,
    **deliveries.ACTIONS,
}


def kind(collection: Collection) -> ResourceKind:
    return ResourceKind(
        type_id="order",
        collection=collection,
        create=_from_cart,
        actions=ACTIONS,
        identifiers=identifiers,
        deleted=lambda order: [Change("OrderDeleted", {"order": order})],
        keyed_by=("order-number", "orderNumber"),
    )
