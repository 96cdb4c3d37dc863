"""commercetools customer -> Fluent customers: pure functions, no I/O.

One commercetools customer yields one Fluent customer per Fluent retailer it belongs to:

* retailers: the Fluent retailers its commercetools stores map to (``store_retailers``), else the default retailer;
* identity: ``username = <retailerId>_<email>``, the email trimmed and lower-cased unless ``keep_email_case``;
  the same email in two retailers is two Fluent customers (Fluent's own convention);
* required Fluent fields: ``firstName`` (the customer's, else the contact address's, else
  ``first_name_fallback``), ``primaryEmail``, ``timezone`` (by the contact address's country, else
  ``default_timezone``), ``promotionOptIn`` (true only when the configured boolean custom field is true);
* the contact address is the default shipping address, else the default billing address, else the first one;
  it gives ``primaryPhone`` (phone, else mobile), ``country`` and ``department``;
* attributes keep the commercetools identity: id, version, key, customerNumber, externalId.

A value longer than Fluent accepts makes that Fluent customer a skip with the reason, never a silent cut.
"""

from __future__ import annotations

from dataclasses import dataclass

from ctfluent_dagster.commercetools.models import Address
from ctfluent_dagster.entities.customers.models import CUSTOMER_FIELD_LIMITS, Customer, FluentCustomer
from ctfluent_dagster.entities.customers.settings import CustomerMappingSettings
from ctfluent_dagster.entities.shared import configured_retailers, fluent_username, retailers_of_stores
from ctfluent_dagster.fluent.models import AttributeInput, RetailerId, length_violations

# Attributes that change with every commercetools write; excluded from change detection so that a change Fluent
# does not receive (a middle name, a locale) costs no update. They are refreshed with the next real change.
VOLATILE_ATTRIBUTES = frozenset({"ctVersion"})


@dataclass(frozen=True)
class MappedCustomer:
    retailer_id: str
    payload: FluentCustomer


@dataclass(frozen=True)
class SkippedCustomer:
    retailer_id: str | None
    reason: str


def contact_address(customer: Customer) -> Address | None:
    by_id = {address.id: address for address in customer.addresses if address.id}
    for address_id in (customer.default_shipping_address_id, customer.default_billing_address_id):
        if address_id and address_id in by_id:
            return by_id[address_id]
    return customer.addresses[0] if customer.addresses else None


def customer_retailers(settings: CustomerMappingSettings, default_retailer_id: str | None) -> list[str]:
    """Every Fluent retailer the store map and the defaults can send customers (and orders) to."""
    return configured_retailers(settings.store_retailers, default_retailer_id, settings.default_retailer_id)


def promotion_opt_in(customer: Customer, field_name: str | None) -> bool:
    if not field_name or customer.custom is None:
        return False
    return customer.custom.fields.get(field_name) is True


def _attributes(customer: Customer) -> list[AttributeInput]:
    attributes = [
        AttributeInput(name="ctCustomerId", type="STRING", value=customer.id),
        AttributeInput(name="ctVersion", type="INTEGER", value=customer.version),
    ]
    for name, value in (
        ("ctKey", customer.key),
        ("ctCustomerNumber", customer.customer_number),
        ("ctExternalId", customer.external_id),
    ):
        if value:
            attributes.append(AttributeInput(name=name, type="STRING", value=value))
    return attributes


def _blank_to_none(value: str | None) -> str | None:
    value = value.strip() if value else None
    return value or None


def map_customer(
    customer: Customer, settings: CustomerMappingSettings, default_retailer_id: str | None
) -> list[MappedCustomer | SkippedCustomer]:
    """The Fluent customers this commercetools customer becomes, or why it cannot."""
    email = customer.email.strip()
    if not email:
        return [SkippedCustomer(None, "the customer has no email, which Fluent requires (primaryEmail)")]
    stores = [store.key for store in customer.stores]
    retailers = retailers_of_stores(stores, settings.store_retailers, settings.default_retailer_id, default_retailer_id)
    if not retailers:
        named = ", ".join(stores) or "none"
        return [SkippedCustomer(None, f"no Fluent retailer: stores ({named}) are unmapped and no default is set")]

    address = contact_address(customer)
    country = address.country if address else None
    results: list[MappedCustomer | SkippedCustomer] = []
    for retailer_id in retailers:
        payload = FluentCustomer(
            username=fluent_username(retailer_id, email, settings.keep_email_case),
            first_name=_blank_to_none(customer.first_name)
            or _blank_to_none(address.first_name if address else None)
            or settings.first_name_fallback,
            last_name=_blank_to_none(customer.last_name) or _blank_to_none(address.last_name if address else None),
            primary_email=email,
            primary_phone=_blank_to_none(address.phone or address.mobile) if address else None,
            title=_blank_to_none(customer.title),
            department=_blank_to_none(address.department) if address else None,
            country=country,
            timezone=settings.timezone_by_country.get(country or "", settings.default_timezone),
            promotion_opt_in=promotion_opt_in(customer, settings.promotion_opt_in_field),
            retailer=RetailerId(id=retailer_id),
            attributes=_attributes(customer),
        )
        problems = length_violations(payload.create_input(), CUSTOMER_FIELD_LIMITS)
        if problems:
            results.append(SkippedCustomer(retailer_id, "too long for Fluent: " + "; ".join(problems)))
        else:
            results.append(MappedCustomer(retailer_id, payload))
    return results
