"""Product types: ``ProductTypeDraft`` -> ``ProductType``, and the attribute definitions products are checked against.

Attribute types emulated: ``text``, ``ltext``, ``enum``, ``lenum``, ``number``, ``boolean`` and ``set`` of any of
them. A value is stored as the API returns it: an enum value given by key (or as the whole ``{key, label}``) becomes
the definition's ``{key, label}``, a set has no duplicates. Not emulated: the other attribute types, attribute
constraints (``Unique``, ``SameForAll``, ``CombinationUnique`` are stored but not enforced) and update actions.

The API has no message type for product types, so their writes produce none. Deleting a product type that products
still use is refused (400 ``ReferenceExists``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ctfluent_sandbox.commercetools.errors import CtError, invalid_field, invalid_json, required_field
from ctfluent_sandbox.commercetools.messages import Change
from ctfluent_sandbox.commercetools.predicates import ANY_SCHEMA, Schema
from ctfluent_sandbox.commercetools.resources import (
    BASE_RESOURCE_FIELDS,
    ResourceKind,
    WriteContext,
    localized,
    new_resource_fields,
    optional_bool,
    optional_key,
    optional_list,
    optional_str,
    required_localized,
    required_str,
)
from ctfluent_sandbox.commercetools.store import Collection, Resource

LEVELS = ("Product", "Variant")
_CONSTRAINTS = ("None", "Unique", "CombinationUnique", "SameForAll")
_INPUT_HINTS = ("SingleLine", "MultiLine")
_SCALAR_TYPES = ("text", "ltext", "number", "boolean")
_ENUM_TYPES = ("enum", "lenum")
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")

PRODUCT_TYPE_SCHEMA = Schema(
    {
        **BASE_RESOURCE_FIELDS,
        "key": "string",
        "name": "string",
        "description": "string",
        "attributes": Schema(
            {
                "name": "string",
                "type": ANY_SCHEMA,
                "label": ANY_SCHEMA,
                "isRequired": "boolean",
                "level": "string",
                "attributeConstraint": "string",
                "inputTip": ANY_SCHEMA,
                "inputHint": "string",
                "isSearchable": "boolean",
            }
        ),
    }
)


def new_collection() -> Collection:
    return Collection(
        PRODUCT_TYPE_SCHEMA, indexed=("lastModifiedAt", "createdAt"), unique={"key": lambda t: t.get("key")}
    )


# -- creation ------------------------------------------------------------------------------------------------


def create(draft: Mapping[str, Any], ctx: WriteContext) -> tuple[Resource, list[Change]]:
    product_type: Resource = {**new_resource_fields(ctx)}
    key = optional_key(draft)
    if key is not None:
        product_type["key"] = key
    product_type["name"] = required_str(draft, "name")
    product_type["description"] = required_str(draft, "description")
    definitions = [_definition(raw) for raw in optional_list(draft, "attributes")]
    names = [d["name"] for d in definitions]
    duplicate = next((name for name in names if names.count(name) > 1), None)
    if duplicate is not None:
        raise CtError(
            400,
            "AttributeDefinitionAlreadyExists",
            f"An attribute definition with name '{duplicate}' already exists on the product type.",
            conflictingProductTypeId=product_type["id"],
            conflictingProductTypeName=product_type["name"],
            conflictingAttributeName=duplicate,
        )
    product_type["attributes"] = definitions
    return product_type, []


def _definition(raw: Any) -> dict[str, Any]:
    """An ``AttributeDefinitionDraft`` with the API's defaults filled in."""
    if not isinstance(raw, dict):
        raise invalid_json("attributes: expected an AttributeDefinitionDraft")
    name = required_str(raw, "name")
    if not _ATTRIBUTE_NAME.match(name):
        raise invalid_field("name", name, f"The attribute name '{name}' must match [A-Za-z0-9_-]+.")
    if not isinstance(raw.get("isRequired"), bool):
        raise invalid_json("isRequired: Missing required value")
    definition: dict[str, Any] = {
        "type": _attribute_type(raw.get("type")),
        "name": name,
        "label": required_localized(raw, "label"),
        "isRequired": raw["isRequired"],
        "level": _one_of(raw, "level", LEVELS, "Variant"),
        "attributeConstraint": _one_of(raw, "attributeConstraint", _CONSTRAINTS, "None"),
    }
    tip = localized(raw, "inputTip")
    if tip is not None:
        definition["inputTip"] = tip
    definition["inputHint"] = _one_of(raw, "inputHint", _INPUT_HINTS, "SingleLine")
    definition["isSearchable"] = optional_bool(raw, "isSearchable", True)
    return definition


def _one_of(raw: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = optional_str(raw, name)
    if value is None:
        return default
    if value not in allowed:
        raise invalid_json(f"{name}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _attribute_type(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise invalid_json("type: expected an AttributeType")
    name = raw["name"]
    if name in _SCALAR_TYPES:
        return {"name": name}
    if name == "set":
        return {"name": "set", "elementType": _attribute_type(raw.get("elementType"))}
    if name in _ENUM_TYPES:
        values = optional_list(raw, "values")
        reader = required_str if name == "enum" else required_localized
        if not all(isinstance(v, dict) for v in values):
            raise invalid_json("values: expected enum values")
        return {"name": name, "values": [{"key": required_str(v, "key"), "label": reader(v, "label")} for v in values]}
    raise invalid_json(f"type: the attribute type {name!r} is not emulated")


# -- attribute values ------------------------------------------------------------------------------------------


def attributes(product_type: Resource, drafts: list[Any], level: str) -> list[dict[str, Any]]:
    """Attribute drafts (``[{name, value}]``) of one variant (level ``Variant``) or of the product (``Product``),
    checked and stored as the API returns them; required attributes of that level must be there."""
    definitions = _definitions(product_type, level)
    result: list[dict[str, Any]] = []
    for draft in drafts:
        if not isinstance(draft, dict) or draft.get("value") is None:
            raise invalid_json("attributes: expected an Attribute with a name and a value")
        name = required_str(draft, "name")
        result.append({"name": name, "value": _value_of(product_type, definitions, name, draft["value"])})
    names = [a["name"] for a in result]
    if len(set(names)) != len(names):
        raise invalid_json("attributes: an attribute is given twice")
    check_required(product_type, result, level)
    return result


def check_required(product_type: Resource, given: list[dict[str, Any]], level: str) -> None:
    present = {a["name"] for a in given}
    for definition in product_type["attributes"]:
        if definition["level"] == level and definition["isRequired"] and definition["name"] not in present:
            raise required_field(definition["name"])


def attribute_value(product_type: Resource, name: str, value: Any, level: str) -> Any:
    """``value`` for the attribute ``name`` of ``product_type`` at ``level``, as stored."""
    return _value_of(product_type, _definitions(product_type, level), name, value)


def _definitions(product_type: Resource, level: str) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in product_type["attributes"] if d["level"] == level}


def _value_of(product_type: Resource, definitions: Mapping[str, dict[str, Any]], name: str, value: Any) -> Any:
    definition = definitions.get(name)
    if definition is None:
        raise CtError(
            400,
            "AttributeNameDoesNotExist",
            f"Attribute '{name}' does not exist on product type '{product_type['name']}'.",
            invalidAttributeName=name,
        )
    return _value(definition["type"], value, name)


def _value(attribute_type: Mapping[str, Any], value: Any, name: str) -> Any:
    kind = attribute_type["name"]
    if kind in _ENUM_TYPES:
        key = value.get("key") if isinstance(value, dict) else value
        for enum_value in attribute_type["values"]:
            if enum_value["key"] == key:
                return enum_value
    elif kind == "set":
        if isinstance(value, list):
            elements: list[Any] = []
            for element in value:
                normalised = _value(attribute_type["elementType"], element, name)
                if normalised not in elements:
                    elements.append(normalised)
            return elements
    elif (
        (kind == "text" and isinstance(value, str))
        or (kind == "number" and isinstance(value, int | float) and not isinstance(value, bool))
        or (kind == "boolean" and isinstance(value, bool))
        or (kind == "ltext" and isinstance(value, dict) and all(isinstance(v, str) for v in value.values()))
    ):
        return value
    raise _invalid_value(name, value)


def _invalid_value(name: str, value: Any) -> CtError:
    shown = json.dumps(value, ensure_ascii=False)
    return invalid_field(name, value, f"The value '{shown}' is not valid for field '{name}'.")


# -- deletion --------------------------------------------------------------------------------------------------


def _refuse_while_used(product_type: Resource, ctx: WriteContext) -> None:
    if any(p["productType"]["id"] == product_type["id"] for p in ctx.collections["product"]):
        raise CtError(
            400,
            "ReferenceExists",
            "Can not delete a product-type while it is referenced by at least one product.",
            referencedBy="product",
        )


def kind(collection: Collection) -> ResourceKind:
    return ResourceKind(
        type_id="product-type",
        collection=collection,
        create=create,
        actions={},  # no product type update action is emulated: every action is answered as unknown
        identifiers=lambda product_type: {"key": product_type["key"]} if "key" in product_type else {},
        deleted=lambda product_type: [],
        on_delete=_refuse_while_used,
    )
