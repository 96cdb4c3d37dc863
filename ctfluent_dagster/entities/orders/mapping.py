"""A commercetools order -> a Fluent order and the customer it is created with (pure; table-tested).

* ref: the order number, else ``ref_prefix`` + the commercetools id; retailer: the order's store through the
  customers' store -> retailer map, else the default retailer;
* type ``CC`` when the shipping method is a click & collect one or the pickup custom field is set (its value,
  through ``pickup_locations``, is the ``pickupLocationRef``), else ``HD``; delivery type by shipping method key;
  fulfilment type by shipping method key, else by order type; the delivery instruction from a configured custom
  field, else the shipping address's ``additionalAddressInfo`` (cut to 250, with a note);
* the delivery address: the whole street (name, number, additional info), the name with a space, company, city,
  postcode, state, region, country; a value longer than Fluent takes is cut, with a note;
* one item per line item: ref = line item id, productRef = SKU in the catalogue, quantity; ``price`` the unit list
  price and ``paidPrice`` the unit price after discounts, both **net** (Fluent: paidPrice "Excludes tax"), and
  ``taxPrice`` the unit's tax, rounded to the currency's digits, half even; ``totalPrice`` and ``totalTaxPrice`` the
  line's gross and tax totals exactly; ``taxType`` by the tax rate's country, else by whether the tax is included
  in the price; its name in the configured locales as an attribute; custom line items as configured (items of a
  configured product, else a note);
* ``totalPrice``/``totalTaxPrice`` the order's gross and tax totals, ``fulfilmentPrice``/``fulfilmentTaxPrice`` the
  shipping's; money is ``Decimal`` with each currency's fraction digits;
* attributes: commercetools ids, order number, locale, store, the billing address (JSON) and configured custom
  fields.

The customer at order time: username ``<retailerId>_<email>`` exactly as the customer sync builds it, from the
order's email (registered or guest alike), named from the billing address (else the shipping address).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from ctfluent_dagster.commercetools.models import Address, Money, localized
from ctfluent_dagster.entities.customers import CUSTOMER_FIELD_LIMITS, CustomerMappingSettings, FluentCustomer
from ctfluent_dagster.entities.orders.models import (
    ADDRESS_FIELD_LIMITS,
    DELIVERY_INSTRUCTION_LIMIT,
    ORDER_FIELD_LIMITS,
    CustomLineItem,
    FluentAddress,
    FluentFulfilmentChoice,
    FluentOrder,
    FluentOrderItem,
    LineItem,
    Order,
    TaxedPrice,
    TaxType,
)
from ctfluent_dagster.entities.orders.settings import OrderSettings
from ctfluent_dagster.entities.shared import fluent_username, retailers_of_stores
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
    """The retailer of the order's store, else the default: the customers' rule."""
    stores = [order.store.key] if order.store is not None else []
    retailers = retailers_of_stores(stores, customers.store_retailers, customers.default_retailer_id,
                                    default_retailer_id)  # fmt: skip
    return retailers[0] if retailers else None


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


def included_tax_share(line: LineItem | CustomLineItem) -> Decimal | None:
    """When the line's list price includes its tax, the share of a gross price that is net; None when the tax comes
    on top (US sales tax) or the line has none. The rate's ``includedInPrice`` says which; a line read without its
    rate (staged before the rate was kept) tells by its total, which commercetools gives with the tax exactly when
    the rate includes it. The share is the line's own ``totalNet / totalGross``, so that an undiscounted line's
    ``price`` equals its ``paidPrice``; for a free line, ``1 / (1 + rate)``."""
    rate, taxed = line.tax_rate, line.taxed_price
    if rate is not None and not rate.included_in_price:
        return None
    if taxed is not None and taxed.total_gross.amount:
        if rate is None and taxed.total_gross.amount != line.total_price.amount:
            return None
        return taxed.total_net.amount / taxed.total_gross.amount
    return None if rate is None else 1 / (1 + rate.amount)


def net_unit_price(line: LineItem | CustomLineItem, digits: int) -> Decimal:
    """``price``: the unit list price without tax, like ``paidPrice`` beside it: a gross list price times the net
    share, rounded half even to the currency's digits; a list price the tax comes on top of is net already."""
    share = included_tax_share(line)
    return line.unit_price.amount if share is None else _rounded(line.unit_price.amount * share, digits)


def tax_type(line: LineItem | CustomLineItem, order: Order, settings: OrderSettings) -> TaxType:
    """``taxType`` by the country of the line's tax rate (else the order's) through ``tax_types_by_country``, else
    by whether the list price includes the tax."""
    country = (line.tax_rate.country if line.tax_rate else None) or order.country
    by_country = settings.tax_types_by_country.get(country or "")
    if by_country is not None:
        return by_country
    return settings.excluded_tax_type if included_tax_share(line) is None else settings.included_tax_type


def _item(
    line: LineItem | CustomLineItem, product_ref: str, order: Order, settings: OrderSettings, catalogue: str
) -> FluentOrderItem:
    currency, digits = order.total_price.currency_code, order.total_price.fraction_digits
    quantity = max(line.quantity, 1)
    name = localized(line.name, settings.locales, settings.any_locale)
    attribute = settings.line_item_name_attribute
    return FluentOrderItem(
        ref=line.id,
        product_ref=product_ref,
        product_catalogue_ref=catalogue,
        quantity=line.quantity,
        currency=currency,
        price=net_unit_price(line, digits),
        paid_price=_rounded(_net(line.total_price, line.taxed_price) / quantity, digits),
        tax_price=_rounded(_tax(line.taxed_price, digits) / quantity, digits),
        tax_type=tax_type(line, order, settings),
        total_price=_gross(line.total_price, line.taxed_price),
        total_tax_price=_tax(line.taxed_price, digits),
        attributes=[AttributeInput(name=attribute, type="STRING", value=name)] if attribute and name else [],
    )


def street(address: Address) -> str | None:
    """Street name and number, then the additional info: ``Hauptstraße 5, Hinterhaus``."""
    main = " ".join(part.strip() for part in (address.street_name, address.street_number) if part and part.strip())
    extra = (address.additional_street_info or "").strip()
    return ", ".join(part for part in (main, extra) if part) or None


def full_name(address: Address) -> str | None:
    parts = (address.first_name, address.last_name)
    return " ".join(part.strip() for part in parts if part and part.strip()) or None


def _address_values(address: Address, ref: str) -> dict[str, str | None]:
    """An address as Fluent's ``CreateCustomerAddressInput`` names its fields."""
    return {
        "ref": address.id or address.key or ref,
        "name": full_name(address),
        "companyName": address.company,
        "street": street(address),
        "city": address.city,
        "state": address.state,
        "postcode": address.postal_code,
        "region": address.region,
        "country": address.country,
    }


def delivery_address(order: Order, notes: list[str]) -> FluentAddress | None:
    address = order.shipping_address
    if address is None:
        return None
    values = _address_values(address, f"{order.id}-shipping")
    cut = {name: cut_to_limit(value, ADDRESS_FIELD_LIMITS[name], f"deliveryAddress.{name}", notes)
           for name, value in values.items()}  # fmt: skip
    return FluentAddress.model_validate(cut)


def billing_address(order: Order) -> dict[str, str] | None:
    """The billing address as an order attribute's JSON value: the delivery address's fields (uncut: an attribute
    has no such limits), with email and phone (else mobile)."""
    address = order.billing_address
    if address is None:
        return None
    values = _address_values(address, f"{order.id}-billing") | {"email": address.email,
                                                                 "phone": address.phone or address.mobile}  # fmt: skip
    return {name: value.strip() for name, value in values.items() if value and value.strip()}


def delivery_instruction(order: Order, settings: OrderSettings, notes: list[str]) -> str | None:
    """The configured custom field's text, else the shipping address's ``additionalAddressInfo``; cut to Fluent's
    250 characters, with a note."""
    fields = order.custom.fields if order.custom is not None else {}
    candidates = [fields.get(settings.delivery_instruction_field) if settings.delivery_instruction_field else None]
    if settings.delivery_instruction_from_address and order.shipping_address is not None:
        candidates.append(order.shipping_address.additional_address_info)
    text = next((value.strip() for value in candidates if isinstance(value, str) and value.strip()), None)
    return cut_to_limit(text, DELIVERY_INSTRUCTION_LIMIT, "fulfilmentChoice.deliveryInstruction", notes)


def click_and_collect_location(order: Order, settings: OrderSettings) -> tuple[bool, str | None]:
    """Whether the order is click & collect, and the Fluent pickup location ref when it names one."""
    fields = order.custom.fields if order.custom is not None else {}
    location = fields.get(settings.pickup_location_field) if settings.pickup_location_field else None
    location = location.strip() if isinstance(location, str) and location.strip() else None
    method = order.shipping_info.method_key if order.shipping_info is not None else None
    is_cc = location is not None or (method is not None and method in settings.click_and_collect_shipping_methods)
    return is_cc, settings.pickup_locations.get(location, location) if location else None


def fulfilment_type(order: Order, order_type: str, settings: OrderSettings) -> str | None:
    method = order.shipping_info.method_key if order.shipping_info is not None else None
    return settings.fulfilment_types.get(method or "") or settings.default_fulfilment_types.get(order_type)


def _fulfilment_choice(
    order: Order, settings: OrderSettings, order_type: str, pickup: str | None, notes: list[str]
) -> FluentFulfilmentChoice:
    info = order.shipping_info
    method = info.method_key if info is not None else None
    digits = order.total_price.fraction_digits
    return FluentFulfilmentChoice(
        delivery_type=settings.delivery_types.get(method or "", settings.default_delivery_type),
        fulfilment_type=fulfilment_type(order, order_type, settings),
        currency=order.total_price.currency_code,
        fulfilment_price=_gross(info.price, info.taxed_price) if info is not None else None,
        fulfilment_tax_price=_tax(info.taxed_price, digits) if info is not None else None,
        pickup_location_ref=pickup,
        delivery_instruction=delivery_instruction(order, settings, notes),
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
    billing = settings.billing_address_attribute
    address = billing_address(order) if billing else None
    if billing and address:
        attributes.append(AttributeInput(name=billing, type="JSON", value=address))
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
    items = [_item(line, (line.variant.sku or "").strip(), order, settings, catalogue) for line in order.line_items]
    noted: list[dict[str, object]] = []
    for custom in order.custom_line_items:
        product = settings.custom_line_item_products.get(custom.slug) if settings.custom_line_items == "item" else None
        if product is None:
            total = _gross(custom.total_price, custom.taxed_price)
            noted.append({"slug": custom.slug, "quantity": custom.quantity, "totalPrice": str(total)})
            notes.append(f"custom line item {custom.slug} ({total} {order.total_price.currency_code}) recorded as an "
                         "attribute, not an item")  # fmt: skip
            continue
        items.append(_item(custom, product, order, settings, catalogue))
    if not items:
        return SkippedOrder("the order has no line items to fulfil")

    is_cc, pickup = click_and_collect_location(order, settings)
    if is_cc and pickup is None:
        return SkippedOrder(f"a click & collect order without a pickup location (custom field "
                            f"{settings.pickup_location_field})", NO_PICKUP_LOCATION)  # fmt: skip
    order_type = CLICK_AND_COLLECT if is_cc else HOME_DELIVERY
    fluent = FluentOrder(
        ref=order_ref(order, settings),
        type=order_type,
        retailer=RetailerId(id=retailer_id),
        items=items,
        total_price=_gross(order.total_price, order.taxed_price),
        total_tax_price=_tax(order.taxed_price, order.total_price.fraction_digits),
        fulfilment_choice=_fulfilment_choice(order, settings, order_type, pickup, notes),
        attributes=_attributes(order, settings, noted),
    )
    problems = length_violations(fluent.create_input(), ORDER_FIELD_LIMITS)
    if problems:
        return SkippedOrder("too long for Fluent: " + "; ".join(problems), TOO_LONG)
    skus = tuple(dict.fromkeys(line.variant.sku.strip() for line in order.line_items if line.variant.sku))
    return MappedOrder(retailer_id, fluent, customer, skus, tuple(notes))
