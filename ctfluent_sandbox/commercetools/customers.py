"""Customers: the queryable fields, ``CustomerDraft`` -> ``Customer``, the update actions, and the messages each
write produces.

Message types are the ones the OpenAPI spec defines (``components/schemas/<Type>Message``). Actions the spec has
no message for produce none: ``setMiddleName``, ``setSalutation``, ``setLocale``, ``setVatId``, ``setKey``,
``setCustomerNumber``, ``addStore``, ``removeStore`` (only ``setStores`` has ``CustomerStoresSet``).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from ctfluent_sandbox.commercetools.errors import invalid_input, invalid_json, invalid_operation
from ctfluent_sandbox.commercetools.messages import Change
from ctfluent_sandbox.commercetools.predicates import Schema
from ctfluent_sandbox.commercetools.resources import (
    BASE_RESOURCE_FIELDS,
    CUSTOM_FIELDS_SCHEMA,
    REFERENCE_SCHEMA,
    ActionHandler,
    ResourceKind,
    WriteContext,
    custom_fields,
    new_resource_fields,
    no_custom_type,
    optional_key,
    optional_list,
    optional_str,
    required_str,
    store_reference,
)
from ctfluent_sandbox.commercetools.store import Collection, Resource

ADDRESS_FIELDS = (
    "key",
    "country",
    "title",
    "salutation",
    "firstName",
    "lastName",
    "streetName",
    "streetNumber",
    "additionalStreetInfo",
    "postalCode",
    "city",
    "region",
    "state",
    "company",
    "department",
    "building",
    "apartment",
    "pOBox",
    "phone",
    "mobile",
    "email",
    "fax",
    "additionalAddressInfo",
    "externalId",
)
_TEXT_FIELDS = (
    "key",
    "customerNumber",
    "externalId",
    "firstName",
    "lastName",
    "middleName",
    "title",
    "salutation",
    "companyName",
    "vatId",
    "locale",
)
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

ADDRESS_SCHEMA = Schema({"id": "string", **dict.fromkeys(ADDRESS_FIELDS, "string"), "custom": CUSTOM_FIELDS_SCHEMA})
CUSTOMER_SCHEMA = Schema(
    {
        **BASE_RESOURCE_FIELDS,
        "email": "string",
        "lowerCaseEmail": "string",
        "dateOfBirth": "string",
        **dict.fromkeys(_TEXT_FIELDS, "string"),
        "addresses": ADDRESS_SCHEMA,
        "defaultShippingAddressId": "string",
        "defaultBillingAddressId": "string",
        "shippingAddressIds": "string",
        "billingAddressIds": "string",
        "isEmailVerified": "boolean",
        "customerGroup": REFERENCE_SCHEMA,
        "customerGroupAssignments": Schema({"customerGroup": REFERENCE_SCHEMA}),
        "custom": CUSTOM_FIELDS_SCHEMA,
        "stores": Schema({"typeId": "string", "key": "string"}),
        "authenticationMode": "string",
    }
)


def new_collection() -> Collection:
    return Collection(
        CUSTOMER_SCHEMA,
        indexed=("lastModifiedAt", "createdAt"),
        # email is unique case-insensitively; the index holds the lower-cased value
        unique={
            "key": lambda c: c.get("key"),
            "email": lambda c: c["email"].lower(),
            "customerNumber": lambda c: c.get("customerNumber"),
        },
        virtual={"lowerCaseEmail": lambda c: c["email"].lower()},
    )


def masked_password(password: str) -> str:
    """Customers carry a masked password hash, never the password."""
    return "****" + base64.b64encode(hashlib.sha256(password.encode()).digest()).decode()[:4]


def identifiers(customer: Resource) -> dict[str, str]:
    return {name: customer[name] for name in ("key", "customerNumber", "externalId") if customer.get(name) is not None}


# -- creation ------------------------------------------------------------------------------------------------


def create(draft: Mapping[str, Any], ctx: WriteContext) -> tuple[Resource, list[Change]]:
    email = required_str(draft, "email")
    mode = draft.get("authenticationMode", "Password")
    if mode not in ("Password", "ExternalAuth"):
        raise invalid_json(f"authenticationMode: unknown value {mode!r}")
    password = optional_str(draft, "password")
    if mode == "Password" and not password:
        raise invalid_operation("A password is required for a customer with authenticationMode 'Password'.")
    customer: Resource = {**new_resource_fields(ctx), "email": email}
    if password and mode == "Password":
        customer["password"] = masked_password(password)
    for name in _TEXT_FIELDS:
        value = optional_key(draft) if name == "key" else optional_str(draft, name)
        if value is not None:
            customer[name] = value
    date_of_birth = _date_of_birth(draft)
    if date_of_birth is not None:
        customer["dateOfBirth"] = date_of_birth
    customer["addresses"] = []
    for raw in optional_list(draft, "addresses"):
        _add_address(customer, raw, ctx)
    ids = [a["id"] for a in customer["addresses"]]
    customer["shippingAddressIds"] = _addresses_at(ids, draft, "shippingAddresses")
    customer["billingAddressIds"] = _addresses_at(ids, draft, "billingAddresses")
    for role, index_field in (("Shipping", "defaultShippingAddress"), ("Billing", "defaultBillingAddress")):
        if draft.get(index_field) is not None:
            _set_default(customer, role, _address_at(ids, draft[index_field], index_field))
    customer["isEmailVerified"] = bool(draft.get("isEmailVerified", False))
    customer["customerGroupAssignments"] = []
    customer["stores"] = _unique_stores(draft, ctx)
    if draft.get("custom") is not None:
        customer["custom"] = custom_fields(draft["custom"], ctx)
    customer["authenticationMode"] = mode
    return customer, [Change("CustomerCreated", {"customer": customer})]


def _date_of_birth(source: Mapping[str, Any]) -> str | None:
    value = optional_str(source, "dateOfBirth")
    if value is not None:
        try:
            valid = bool(_DATE.match(value)) and bool(date.fromisoformat(value))
        except ValueError:
            valid = False
        if not valid:
            raise invalid_json(f"dateOfBirth: {value!r} is not a date (YYYY-MM-DD)")
    return value


def _addresses_at(ids: list[str], draft: Mapping[str, Any], field: str) -> list[str]:
    return [_address_at(ids, index, field) for index in optional_list(draft, field)]


def _address_at(ids: list[str], index: Any, field: str) -> str:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(ids):
        raise invalid_input(f"{field}: {index!r} is not the index of an address in 'addresses'")
    return ids[index]


def _unique_stores(source: Mapping[str, Any], ctx: WriteContext) -> list[dict[str, str]]:
    stores: list[dict[str, str]] = []
    for identifier in optional_list(source, "stores"):
        reference = store_reference(identifier, ctx)
        if reference not in stores:
            stores.append(reference)
    return stores


# -- addresses -------------------------------------------------------------------------------------------------


def parse_address(raw: Any, ctx: WriteContext, address_id: str | None = None, field: str = "address") -> dict[str, Any]:
    """A ``BaseAddress`` draft as stored: known fields only, with ``address_id`` (a customer's address gets a new
    one) or else the id the draft gives (an order's address copied from the customer's), if any."""
    if not isinstance(raw, dict):
        raise invalid_json(f"{field}: expected an object")
    country = raw.get("country")
    if not isinstance(country, str) or not _COUNTRY.match(country):
        raise invalid_json(
            f"{field} -> country: Missing required value" if country is None else f"country: {country!r}"
        )
    address: dict[str, Any] = {}
    given_id = address_id if address_id is not None else optional_str(raw, "id")
    if given_id is not None:
        address["id"] = given_id
    for name in ADDRESS_FIELDS:
        if raw.get(name) is not None:  # most fields are absent: skip them cheaply (seeding makes many addresses)
            address[name] = optional_key(raw) if name == "key" else optional_str(raw, name)
    if raw.get("custom") is not None:
        address["custom"] = custom_fields(raw["custom"], ctx)
    return address


def _add_address(customer: Resource, raw: Any, ctx: WriteContext) -> dict[str, Any]:
    added = parse_address(raw, ctx, ctx.ids.address_id())
    _check_address_key(customer, added)
    customer["addresses"].append(added)
    return added


def _check_address_key(customer: Resource, address: dict[str, Any]) -> None:
    key = address.get("key")
    if key is not None and any(a.get("key") == key and a["id"] != address["id"] for a in customer["addresses"]):
        raise invalid_input(f"The customer already has an address with the key '{key}'.")


def _find_address(customer: Resource, action: Mapping[str, Any]) -> dict[str, Any]:
    address_id, address_key = optional_str(action, "addressId"), optional_str(action, "addressKey")
    for address in customer["addresses"]:
        if (address_id is not None and address["id"] == address_id) or (
            address_id is None and address_key is not None and address.get("key") == address_key
        ):
            return address
    wanted = f"id '{address_id}'" if address_id is not None else f"key '{address_key}'"
    raise invalid_input(f"The customer does not contain an address with the {wanted}.")


def _roles(customer: Resource, address_id: str) -> list[str]:
    return [
        role
        for role, ids in (("Shipping", customer["shippingAddressIds"]), ("Billing", customer["billingAddressIds"]))
        if address_id in ids
    ]


def _set_default(customer: Resource, role: str, address_id: str | None) -> None:
    """Set or unset the default address of a role; the default is always one of the role's addresses."""
    field = f"default{role}AddressId"
    if address_id is None:
        customer.pop(field, None)
        return
    customer[field] = address_id
    ids = customer[f"{role.lower()}AddressIds"]
    if address_id not in ids:
        ids.append(address_id)


def _add_address_action(customer: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    return [Change("CustomerAddressAdded", {"address": _add_address(customer, action.get("address"), ctx)})]


def _change_address(customer: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    old = _find_address(customer, action)
    new = parse_address(action.get("address"), ctx, old["id"])
    _check_address_key(customer, new)
    customer["addresses"] = [new if a["id"] == old["id"] else a for a in customer["addresses"]]
    return [Change("CustomerAddressChanged", {"address": new, "addressRoles": _roles(customer, old["id"])})]


def _remove_address(customer: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    address = _find_address(customer, action)
    roles = _roles(customer, address["id"])
    customer["addresses"] = [a for a in customer["addresses"] if a["id"] != address["id"]]
    for role in ("Shipping", "Billing"):
        ids_field = f"{role.lower()}AddressIds"
        customer[ids_field] = [i for i in customer[ids_field] if i != address["id"]]
        if customer.get(f"default{role}AddressId") == address["id"]:
            _set_default(customer, role, None)
    return [Change("CustomerAddressRemoved", {"address": address, "addressRoles": roles})]


def _default_address(role: str) -> ActionHandler:
    def handler(customer: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
        wants_address = action.get("addressId") is not None or action.get("addressKey") is not None
        address = _find_address(customer, action) if wants_address else None
        _set_default(customer, role, None if address is None else address["id"])
        return [Change(f"CustomerDefault{role}AddressSet", {} if address is None else {"address": address})]

    return handler


def _address_role_add(role: str) -> ActionHandler:
    def handler(customer: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
        address = _find_address(customer, action)
        ids = customer[f"{role.lower()}AddressIds"]
        if address["id"] not in ids:
            ids.append(address["id"])
        return [Change(f"Customer{role}AddressAdded", {"address": address})]

    return handler


def _address_role_remove(role: str) -> ActionHandler:
    def handler(customer: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
        address = _find_address(customer, action)
        ids_field = f"{role.lower()}AddressIds"
        if address["id"] not in customer[ids_field]:
            raise invalid_input(f"The address '{address['id']}' is not a {role.lower()} address of the customer.")
        customer[ids_field] = [i for i in customer[ids_field] if i != address["id"]]
        if customer.get(f"default{role}AddressId") == address["id"]:
            _set_default(customer, role, None)
        return [Change(f"Customer{role}AddressRemoved", {"address": address})]

    return handler


# -- simple fields ---------------------------------------------------------------------------------------------


def _setter(name: str, message: str | None = None) -> ActionHandler:
    """``set<Name>``: set or (value absent) unset a text field, with the field's message if it has one."""

    def handler(customer: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
        if name == "key":
            value = optional_key(action)
        elif name == "dateOfBirth":
            value = _date_of_birth(action)
        else:
            value = optional_str(action, name)
        if value is None:
            customer.pop(name, None)
        else:
            customer[name] = value
        if message is None:
            return []
        return [Change(message, {} if value is None else {name: value})]

    return handler


def _change_email(customer: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    old = customer["email"]
    customer["email"] = required_str(action, "email")
    customer["isEmailVerified"] = False  # a new address is unverified
    return [Change("CustomerEmailChanged", {"email": customer["email"], "oldEmail": old})]


def _set_customer_number(customer: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    if customer.get("customerNumber") is not None:
        raise invalid_operation("The customerNumber of a customer can be set only once; it cannot be changed.")
    return _setter("customerNumber")(customer, action, ctx)


# -- custom fields ---------------------------------------------------------------------------------------------


def _set_custom_type(customer: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    previous = customer.get("custom", {}).get("type", {}).get("id")
    before = {} if previous is None else {"previousTypeId": previous}
    if action.get("type") is None:
        customer.pop("custom", None)
        return [Change("CustomerCustomTypeRemoved", before)]
    customer["custom"] = custom_fields({"type": action["type"], "fields": action.get("fields")}, ctx)
    return [Change("CustomerCustomTypeSet", {"customFields": customer["custom"], **before})]


def _set_custom_field(customer: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    if "custom" not in customer:
        raise no_custom_type()
    name = required_str(action, "name")
    fields = customer["custom"]["fields"]
    value = action.get("value")
    if value is None:
        if name not in fields:
            return []
        del fields[name]
        return [Change("CustomerCustomFieldRemoved", {"name": name})]
    if name in fields:
        previous = fields[name]
        fields[name] = value
        return [Change("CustomerCustomFieldChanged", {"name": name, "value": value, "previousValue": previous})]
    fields[name] = value
    return [Change("CustomerCustomFieldAdded", {"name": name, "value": value})]


# -- stores ----------------------------------------------------------------------------------------------------


def _set_stores(customer: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    old = customer["stores"]
    customer["stores"] = _unique_stores(action, ctx)
    return [Change("CustomerStoresSet", {"stores": customer["stores"], "oldStores": old})]


def _add_store(customer: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    reference = store_reference(action.get("store"), ctx)
    if reference not in customer["stores"]:
        customer["stores"].append(reference)
    return []


def _remove_store(customer: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    reference = store_reference(action.get("store"), ctx)
    customer["stores"] = [s for s in customer["stores"] if s != reference]
    return []


ACTIONS: dict[str, ActionHandler] = {
    "changeEmail": _change_email,
    "setFirstName": _setter("firstName", "CustomerFirstNameSet"),
    "setLastName": _setter("lastName", "CustomerLastNameSet"),
    "setMiddleName": _setter("middleName"),
    "setTitle": _setter("title", "CustomerTitleSet"),
    "setSalutation": _setter("salutation"),
    "setCompanyName": _setter("companyName", "CustomerCompanyNameSet"),
    "setDateOfBirth": _setter("dateOfBirth", "CustomerDateOfBirthSet"),
    "setExternalId": _setter("externalId", "CustomerExternalIdSet"),
    "setVatId": _setter("vatId"),
    "setKey": _setter("key"),
    "setCustomerNumber": _set_customer_number,
    "setLocale": _setter("locale"),
    "addAddress": _add_address_action,
    "changeAddress": _change_address,
    "removeAddress": _remove_address,
    "setDefaultShippingAddress": _default_address("Shipping"),
    "setDefaultBillingAddress": _default_address("Billing"),
    "addShippingAddressId": _address_role_add("Shipping"),
    "removeShippingAddressId": _address_role_remove("Shipping"),
    "addBillingAddressId": _address_role_add("Billing"),
    "removeBillingAddressId": _address_role_remove("Billing"),
    "setCustomType": _set_custom_type,
    "setCustomField": _set_custom_field,
    "setStores": _set_stores,
    "addStore": _add_store,
    "removeStore": _remove_store,
}


def kind(collection: Collection) -> ResourceKind:
    return ResourceKind(
        type_id="customer",
        collection=collection,
        create=create,
        actions=ACTIONS,
        identifiers=identifiers,
        deleted=lambda customer: [Change("CustomerDeleted", {"email": customer["email"]})],
        created_as="customer",
    )
