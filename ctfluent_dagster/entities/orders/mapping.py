"""A commercetools order -> a Fluent order and the customer it is created with (pure; table-tested).

* ref: the order number, else ``ref_prefix`` + the commercetools id; retailer: the order's store through the
  customers' store -> retailer map, else the default retailer;
* type ``CC`` when the shipping method is a click & collect one or the pickup custom field is set (its value,
  through ``pickup_locations``, is the ``pickupLocationRef``), else ``HD``; delivery type by shipping method key;
* the delivery address: the whole street (name, number, additional info), the name with a space, company, city,
  postcode, state, region, country; a value longer than Fluent takes is cut, with a note;
* one item per line item: ref = line item id, productRef = SKU in the catalogue, quantity; ``price`` the unit list
  price, ``paidPrice`` and ``taxPrice`` per unit after discounts (net and tax; rounded to the currency's digits,
  half even), ``totalPrice`` and ``totalTaxPrice`` the line's gross and tax totals exactly; custom line items as
  configured (items of a configured product, else a note);
* ``totalPrice``/``totalTaxPrice`` the order's gross and tax totals, ``fulfilmentPrice``/``fulfilmentTaxPrice`` the
  shipping's; money is ``Decimal`` with each currency's fraction digits;
* attributes: commercetools ids, order number, locale, store and configured custom fields.

The customer at order time: username ``<retailerId>_<email>`` exactly as the customer sync builds it, from the
order's email (registered or guest alike), named from the billing address (else the shipping address).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from ctfluent_dagster.commercetools.models import Address, Money
from ctfluent_dagster.entities.customers.mapping import fluent_username
from ctfluent_dagster.entities.customers.models import CUSTOMER_FIELD_LIMITS, FluentCustomer
from ctfluent_dagster.entities.customers.settings import CustomerMappingSettings
from ctfluent_dagster.entities.orders.models import (
    ADDRESS_FIELD_LIMITS,
    ORDER_FIELD_LIMITS,
    FluentAddress,
    FluentFulfilmentChoice,
    FluentOrder,
    FluentOrderItem,
    LineItem,
    Order,
    TaxedPrice,
)
from ctfluent_dagster.entities.orders.settings import OrderSettings
from ctfluent_dagster.fluent.models import AttributeInput, RetailerId, cut_to_limit, length_violations

HOME_DELIVERY, CLICK_AND_COLLECT = "HD", "CC"
# Failure codes of orders that cannot be created until someone fixes the order or the configuration.
NO_RETAILER, NO_CUSTOMER, NO_SKU, NO_PICKUP_LOCATION, TOO_LONG = (
    "NO_RETAILER", "NO_CUSTOMER", "NO_SKU", "NO_PICKUP_LOCATION", "TOO_LONG",
)  # fmt: skip


@dataclass(frozen=True)
class MappedOrder:
    retailer_id: str
    order: FluentOrder
    customer: FluentCustomer
    skus: tuple[str, ...]  # of the line items: variant products in the catalogue
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SkippedOrder:
    reason: str
    # None: a choice (an old or finished order), kept only when the order is not in Fluent yet; else the failure
    # code of a problem a user must fix.
    failure_code: str | None = None


def order_ref(order: Order, settings: OrderSettings) -> str:
    number = (order.order_number or "").strip()
    return number or f"{settings.ref_prefix}{order.id}"


def order_retailer(order: Order, customers: CustomerMappingSettings, default_retailer_id: str | None) -> str | None:
    if order.store is not None and order.store.key in customers.store_retailers:
        return customers.store_retailers[order.store.key]
    return customers.default_retailer_id or default_retailer_id


def created_from(settings: OrderSettings, now: datetime) -> datetime | None:
    """The cut-off: orders created before it are history, not work for Fluent's workflows."""
    if settings.created_from is not None:
        return datetime.combine(settings.created_from, time.min, tzinfo=UTC)
    return now - timedelta(days=settings.max_age_days) if settings.max_age_days else None


def _rounded(value: Decimal, digits: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN)


def _gross(money: Money, taxed: TaxedPrice | None) -> Decimal:
    return taxed.total_gross.amount if taxed is not None else money.amount


def _tax(taxed: TaxedPrice | None, digits: int) -> Decimal:
    return taxed.total_tax.amount if taxed is not None and taxed.total_tax is not None else _rounded(Decimal(0), digits)


def _net(money: Money, taxed: TaxedPrice | None) -> Decimal:
    return taxed.total_net.amount if taxed is not None else money.amount


def _item(line: LineItem, sku: str, catalogue: str, currency: str, digits: int) -> FluentOrderItem:
    quantity = max(line.quantity, 1)
    return FluentOrderItem(
        ref=line.id,
        product_ref=sku,
        product_catalogue_ref=catalogue,
        quantity=line.quantity,
        currency=currency,
        price=line.unit_price.amount,
        paid_price=_rounded(_net(line.total_price, line.taxed_price) / quantity, digits),
        tax_price=_rounded(_tax(line.taxed_price, digits) / quantity, digits),
        total_price=_gross(line.total_price, line.taxed_price),
        total_tax_price=_tax(line.taxed_price, digits),
    )


def street(address: Address) -> str | None:
    """Street name and number, then the additional info: ``Hauptstraße 5, Hinterhaus``."""
    main = " ".join(part.strip() for part in (address.street_name, address.street_number) if part and part.strip())
    extra = (address.additional_street_info or "").strip()
    return ", ".join(part for part in (main, extra) if part) or None


def full_name(address: Address) -> str | None:
    parts = (address.first_name, address.last_name)
    return " ".join(part.strip() for part in parts if part and part.strip()) or None


def delivery_address(order: Order, notes: list[str]) -> FluentAddress | None:
    address = order.shipping_address
    if address is None:
        return None
    values = {
        "ref": address.id or address.key or f"{order.id}-shipping",
        "name": full_name(address),
        "companyName": address.company,
        "street": street(address),
        "city": address.city,
        "state": address.state,
        "postcode": address.postal_code,
        "region": address.region,
        "country": address.country,
    }
    cut = {name: cut_to_limit(value, ADDRESS_FIELD_LIMITS[name], f"deliveryAddress.{name}", notes)
           for name, value in values.items()}  # fmt: skip
    return FluentAddress.model_validate(cut)


def click_and_collect_location(order: Order, settings: OrderSettings) -> tuple[bool, str | None]:
    """Whether the order is click & collect, and the Fluent pickup location ref when it names one."""
    fields = order.custom.fields if order.custom is not None else {}
    location = fields.get(settings.pickup_location_field) if settings.pickup_location_field else None
    location = location.strip() if isinstance(location, str) and location.strip() else None
    method = order.shipping_info.method_key if order.shipping_info is not None else None
    is_cc = location is not None or (method is not None and method in settings.click_and_collect_shipping_methods)
    return is_cc, settings.pickup_locations.get(location, location) if location else None


def _fulfilment_choice(
    order: Order, settings: OrderSettings, pickup: str | None, currency: str, digits: int, notes: list[str]
) -> FluentFulfilmentChoice:
    info = order.shipping_info
    method = info.method_key if info is not None else None
    return FluentFulfilmentChoice(
        delivery_type=settings.delivery_types.get(method or "", settings.default_delivery_type),
        currency=currency,
        fulfilment_price=_gross(info.price, info.taxed_price) if info is not None else None,
        fulfilment_tax_price=_tax(info.taxed_price, digits) if info is not None else None,
        pickup_location_ref=pickup,
        delivery_address=delivery_address(order, notes),
    )


def _attributes(order: Order, settings: OrderSettings, noted_lines: list[dict[str, object]]) -> list[AttributeInput]:
    attributes = [AttributeInput(name="ctOrderId", type="STRING", value=order.id)]
    for name, value in (
        ("ctOrderNumber", (order.order_number or "").strip()),
        ("ctCustomerId", order.customer_id),
        ("ctStoreKey", order.store.key if order.store else None),
        ("ctLocale", order.locale),
    ):
        if value:
            attributes.append(AttributeInput(name=name, type="STRING", value=value))
    fields = order.custom.fields if order.custom is not None else {}
    for field_name, attribute in settings.custom_field_attributes.items():
        value = fields.get(field_name)
        if value is not None:
            kind = "STRING" if isinstance(value, str) else "JSON"
            attributes.append(AttributeInput(name=attribute, type=kind, value=value))
    if noted_lines:
        attributes.append(AttributeInput(name="ctCustomLineItems", type="JSON", value=noted_lines))
    return attributes


def order_customer(
    order: Order, retailer_id: str, customers: CustomerMappingSettings, notes: list[str]
) -> FluentCustomer | SkippedOrder:
    """The Fluent customer the order is created with (found by username, else created as this). Names longer than
    Fluent takes are cut and a phone that does not fit is left out (with a note): an order is not held back for
    them."""
    contact = order.billing_address or order.shipping_address
    email = (order.customer_email or (contact.email if contact else None) or "").strip()
    if not email:
        return SkippedOrder("the order has no email, so no Fluent customer can be found or created for it",
                            NO_CUSTOMER)  # fmt: skip
    names = [a for a in (order.billing_address, order.shipping_address) if a is not None]
    first = next((a.first_name.strip() for a in names if a.first_name and a.first_name.strip()), None)
    last = next((a.last_name.strip() for a in names if a.last_name and a.last_name.strip()), None)
    phones = [p.strip() for a in names for p in (a.phone, a.mobile) if p and p.strip()]
    phone = next((p for p in phones if len(p) <= CUSTOMER_FIELD_LIMITS["primaryPhone"]), None)
    if phones and phone is None:
        notes.append(f"customer primaryPhone left out ({len(phones[0])} characters, max "
                     f"{CUSTOMER_FIELD_LIMITS['primaryPhone']})")  # fmt: skip
    country = contact.country if contact else order.country
    registered = order.customer_id
    customer = FluentCustomer(
        username=fluent_username(retailer_id, email, customers.keep_email_case),
        first_name=cut_to_limit(first, CUSTOMER_FIELD_LIMITS["firstName"], "customer firstName", notes)
        or customers.first_name_fallback,
        last_name=cut_to_limit(last, CUSTOMER_FIELD_LIMITS["lastName"], "customer lastName", notes),
        primary_email=email,
        primary_phone=phone,
        country=cut_to_limit(country, CUSTOMER_FIELD_LIMITS["country"], "customer country", notes),
        timezone=customers.timezone_by_country.get(country or "", customers.default_timezone),
        promotion_opt_in=False,  # an order carries no marketing consent
        retailer=RetailerId(id=retailer_id),
        attributes=[AttributeInput(name="ctCustomerId", type="STRING", value=registered)] if registered else [],
    )
    problems = length_violations(customer.create_input(), CUSTOMER_FIELD_LIMITS)
    if problems:
        return SkippedOrder("its customer is too long for Fluent: " + "; ".join(problems), NO_CUSTOMER)
    return customer


def map_order(
    order: Order,
    settings: OrderSettings,
    customers: CustomerMappingSettings,
    default_retailer_id: str | None,
    catalogue: str,
    now: datetime,
) -> MappedOrder | SkippedOrder:
    """The Fluent order this commercetools order becomes, or why it is not sent."""
    cutoff = created_from(settings, now)
    if cutoff is not None and order.created_at < cutoff:
        return SkippedOrder(f"created {order.created_at:%Y-%m-%d}, before {cutoff:%Y-%m-%d} (orders.created_from / "
                            "orders.max_age_days): history is not sent, so as not to start its fulfilment")  # fmt: skip
    if order.order_state in settings.skip_order_states:
        return SkippedOrder(f"the order is {order.order_state} in commercetools (orders.skip_order_states)")
    retailer_id = order_retailer(order, customers, default_retailer_id)
    if retailer_id is None:
        store = order.store.key if order.store else "none"
        return SkippedOrder(f"no Fluent retailer: store {store} is unmapped and no default is set", NO_RETAILER)
    notes: list[str] = []
    customer = order_customer(order, retailer_id, customers, notes)
    if isinstance(customer, SkippedOrder):
        return customer
    unsold = [line.id for line in order.line_items if not (line.variant.sku or "").strip()]
    if unsold:
        return SkippedOrder(f"line item(s) {', '.join(unsold)} have no SKU, which Fluent needs (productRef)", NO_SKU)
    currency, digits = order.total_price.currency_code, order.total_price.fraction_digits
    items = [_item(line, (line.variant.sku or "").strip(), catalogue, currency, digits) for line in order.line_items]
    noted: list[dict[str, object]] = []
    for custom in order.custom_line_items:
        product = settings.custom_line_item_products.get(custom.slug) if settings.custom_line_items == "item" else None
        if product is None:
            total = _gross(custom.total_price, custom.taxed_price)
            noted.append({"slug": custom.slug, "quantity": custom.quantity, "totalPrice": str(total)})
            notes.append(f"custom line item {custom.slug} ({total} {currency}) recorded as an attribute, not an item")
            continue
        items.append(FluentOrderItem(
            ref=custom.id, product_ref=product, product_catalogue_ref=catalogue, quantity=custom.quantity,
            currency=currency, price=custom.money.amount,
            paid_price=_rounded(_net(custom.total_price, custom.taxed_price) / max(custom.quantity, 1), digits),
            tax_price=_rounded(_tax(custom.taxed_price, digits) / max(custom.quantity, 1), digits),
            total_price=_gross(custom.total_price, custom.taxed_price),
            total_tax_price=_tax(custom.taxed_price, digits),
        ))  # fmt: skip
    if not items:
        return SkippedOrder("the order has no line items to fulfil")

    is_cc, pickup = click_and_collect_location(order, settings)
    if is_cc and pickup is None:
        return SkippedOrder(f"a click & collect order without a pickup location (custom field "
                            f"{settings.pickup_location_field})", NO_PICKUP_LOCATION)  # fmt: skip
    fluent = FluentOrder(
        ref=order_ref(order, settings),
        type=CLICK_AND_COLLECT if is_cc else HOME_DELIVERY,
        retailer=RetailerId(id=retailer_id),
        items=items,
        total_price=_gross(order.total_price, order.taxed_price),
        total_tax_price=_tax(order.taxed_price, digits),
        fulfilment_choice=_fulfilment_choice(order, settings, pickup, currency, digits, notes),
        attributes=_attributes(order, settings, noted),
    )
    problems = length_violations(fluent.create_input(), ORDER_FIELD_LIMITS)
    if problems:
        return SkippedOrder("too long for Fluent: " + "; ".join(problems), TOO_LONG)
    skus = tuple(dict.fromkeys(line.variant.sku.strip() for line in order.line_items if line.variant.sku))
    return MappedOrder(retailer_id, fluent, customer, skus, tuple(notes))
