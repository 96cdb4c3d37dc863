"""Products: ``ProductDraft`` -> ``Product`` with ``masterData {current, staged, published, hasStagedChanges}``, the
update actions with their ``staged`` flag, and the messages each write produces.

* Creation makes the draft both the current and the staged data; ``publish: true`` only sets ``published``, so a
  product created published has one ``ProductCreated`` (its staged projection) and no ``ProductPublished``.
* An action with a ``staged`` flag (default true) changes the staged data only and sets ``hasStagedChanges``; with
  ``staged: false`` it changes both. ``publish`` makes the staged data current (``scope: "Prices"``: only the prices),
  ``revertStagedChanges`` makes the current data staged again; both clear ``hasStagedChanges``. ``unpublish`` only
  clears ``published``: the current data stays, but no longer shows in current projections.
* Messages are the types the spec defines, with their payloads; actions it has no type for (``changeName``,
  ``setDescription``, ``setKey``, ``setSku``, ``setAttribute``, ``setAttributeInAllVariants``) produce none, staged
  or not, and so do not show on the Messages API until (and unless) the product is published.
* Variants: the master variant has id 1, a new variant the highest id so far + 1. SKUs are unique in the project and
  slugs per locale (over current and staged data), variant SKUs and keys within the product.
* Attribute values are checked against the product type (:mod:`product_types`). Prices become ``CentPrecisionMoney``
  (:mod:`money`) with an id; two prices of a variant may not share a scope (currency, country, customer group,
  channel, validity): 400 ``DuplicatePriceScope``. There are no Channel, Customer Group, Tax Category or State APIs in
  the emulator: a price's ``channel``/``customerGroup`` is taken by id unchecked (by key it cannot be found), and a
  draft naming a tax category or state is refused as referencing a missing resource.
* ``setPriceMode`` sets (or, without ``priceMode``, removes) the product's price mode, which says whether price
  selection takes the variants' embedded prices or their SKUs' Standalone Prices (:mod:`.standalone_prices`); the
  message ``ProductPriceModeSet`` names the mode now in force (``Embedded`` when none is set).
* Not emulated: assets, price tiers and discounts, product-level attribute actions, the other update actions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ctfluent_sandbox.commercetools import product_types
from ctfluent_sandbox.commercetools.errors import (
    CtError,
    duplicate_field,
    invalid_field,
    invalid_input,
    invalid_json,
    invalid_operation,
    referenced_resource_not_found,
    required_field,
)
from ctfluent_sandbox.commercetools.messages import Change
from ctfluent_sandbox.commercetools.money import cent_precision
from ctfluent_sandbox.commercetools.projections import ProductCollection, projection, variants
from ctfluent_sandbox.commercetools.resources import (
    ActionHandler,
    ResourceKind,
    WriteContext,
    custom_fields,
    localized,
    new_resource_fields,
    optional_bool,
    optional_enum,
    optional_key,
    optional_list,
    optional_str,
    reference,
    required_localized,
    required_str,
    resolve,
    slug,
)
from ctfluent_sandbox.commercetools.store import Resource, clone

MAX_VARIANTS = 100  # variants besides the master variant (ProductDraft.variants maxItems)
PRICE_MODES = ("Embedded", "Standalone")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_META_FIELDS = ("metaTitle", "metaDescription", "metaKeywords")
_UNCHECKED_PRICE_REFERENCES = (("customerGroup", "customer-group"), ("channel", "channel"))
_MISSING_PRODUCT_REFERENCES = (("taxCategory", "tax-category"), ("state", "state"))


def identifiers(product: Resource) -> dict[str, Any]:
    found: dict[str, Any] = {"key": product["key"]} if "key" in product else {}
    found["slug"] = product["masterData"]["staged"]["slug"]
    return found


def _unresolvable(type_id: str, identifier: Any) -> CtError:
    """A reference to a resource type the emulator has no API for: whatever it names cannot be found."""
    given = identifier if isinstance(identifier, dict) else {}
    if isinstance(given.get("key"), str):
        return referenced_resource_not_found(type_id, key=given["key"])
    return referenced_resource_not_found(type_id, id=str(given.get("id")))


def _message(message_type: str, **fields: Any) -> Change:
    """A message whose payload is a snapshot: later actions of the same request change the product in place."""
    return Change(message_type, clone(fields))


def _pending(product: Resource, ctx: WriteContext) -> Resource:
    """``product`` with the version and time the running update will give it (one version per request)."""
    return {**product, "version": product["version"] + 1, "lastModifiedAt": ctx.now}


# -- creation ------------------------------------------------------------------------------------------------


def create(draft: Mapping[str, Any], ctx: WriteContext) -> tuple[Resource, list[Change]]:
    product_type = resolve(draft.get("productType"), "product-type", ctx, "productType")
    for name, type_id in _MISSING_PRODUCT_REFERENCES:
        if draft.get(name) is not None:
            raise _unresolvable(type_id, draft[name])
    product: Resource = {**new_resource_fields(ctx)}
    key = optional_key(draft)
    if key is not None:
        product["key"] = key
    product["productType"] = reference("product-type", product_type["id"])
    data = _product_data(draft, product_type, ctx)
    product["masterData"] = {
        "published": optional_bool(draft, "publish", False),
        "current": data,
        "staged": data,
        "hasStagedChanges": False,
    }
    price_mode = _price_mode(draft)
    if price_mode is not None:
        product["priceMode"] = price_mode
    # Nothing follows a creation in its request, so the payload needs no snapshot (seeding creates many products).
    return product, [Change("ProductCreated", {"productProjection": projection(product, "staged")})]


def _price_mode(source: Mapping[str, Any]) -> str | None:
    return optional_enum(source, "priceMode", PRICE_MODES)


def _product_data(draft: Mapping[str, Any], product_type: Resource, ctx: WriteContext) -> Resource:
    data: Resource = {"name": required_localized(draft, "name")}
    data["categories"] = []
    for identifier in optional_list(draft, "categories"):
        category = reference("category", resolve(identifier, "category", ctx, "categories")["id"])
        if category not in data["categories"]:
            data["categories"].append(category)
    data["categoryOrderHints"] = _order_hints(draft.get("categoryOrderHints"), data["categories"])
    description = localized(draft, "description")
    if description is not None:
        data["description"] = description
    data["slug"] = slug(draft)
    for name in _META_FIELDS:
        value = localized(draft, name)
        if value is not None:
            data[name] = value
    variant_drafts = optional_list(draft, "variants")
    if len(variant_drafts) > MAX_VARIANTS:
        raise invalid_json(f"variants: at most {MAX_VARIANTS} variants besides the master variant")
    if draft.get("masterVariant") is None and variant_drafts:
        raise required_field("masterVariant")
    built = [
        _new_variant(raw, variant_id, product_type, ctx)
        for variant_id, raw in enumerate([draft.get("masterVariant") or {}, *variant_drafts], start=1)
    ]
    data["masterVariant"], data["variants"] = built[0], built[1:]
    _check_variant_identifiers(data)
    keywords = draft.get("searchKeywords") or {}
    if not isinstance(keywords, dict):
        raise invalid_json("searchKeywords: expected SearchKeywords")
    data["searchKeywords"] = keywords
    data["attributes"] = product_types.attributes(product_type, optional_list(draft, "attributes"), "Product")
    return data


def _order_hints(raw: Any, categories: list[dict[str, str]]) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise invalid_json("categoryOrderHints: expected CategoryOrderHints")
    assigned = {c["id"] for c in categories}
    stray = next((category_id for category_id in raw if category_id not in assigned), None)
    if stray is not None:
        raise invalid_operation(f"The category '{stray}' has an order hint but is not one of the product's categories.")
    return dict(raw)


def _new_variant(draft: Any, variant_id: int, product_type: Resource, ctx: WriteContext) -> Resource:
    if not isinstance(draft, dict):
        raise invalid_json("variant: expected a ProductVariantDraft")
    variant: Resource = {"id": variant_id}
    for name, value in (("sku", optional_str(draft, "sku")), ("key", optional_key(draft))):
        if value is not None:
            variant[name] = value
    variant["prices"] = new_prices(optional_list(draft, "prices"), ctx)
    variant["images"] = [parse_image(raw) for raw in optional_list(draft, "images")]
    variant["attributes"] = product_types.attributes(product_type, optional_list(draft, "attributes"), "Variant")
    if optional_list(draft, "assets"):
        raise invalid_json("assets: assets are not emulated")
    variant["assets"] = []
    return variant


def _check_variant_identifiers(data: Resource) -> None:
    """SKUs and variant keys are unique within a product (SKUs also across products: the collection checks that)."""
    for name in ("sku", "key"):
        seen: set[str] = set()
        for variant in variants(data):
            value = variant.get(name)
            if value in seen:
                raise duplicate_field(name, value)
            if value is not None:
                seen.add(value)


def parse_image(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise invalid_json("image: expected an Image")
    dimensions = raw.get("dimensions")
    width, height = (dimensions.get("w"), dimensions.get("h")) if isinstance(dimensions, dict) else (None, None)
    if type(width) is not int or type(height) is not int:  # not bool either
        raise invalid_json("image -> dimensions: expected {w, h} in pixels")
    image: dict[str, Any] = {"url": required_str(raw, "url"), "dimensions": {"w": width, "h": height}}
    label = optional_str(raw, "label")
    if label is not None:
        image["label"] = label
    return image


# -- prices ----------------------------------------------------------------------------------------------------


def new_prices(drafts: Iterable[Any], ctx: WriteContext) -> list[dict[str, Any]]:
    prices = [new_price(draft, ctx) for draft in drafts]
    _check_price_scopes(prices)
    return prices


def new_price(draft: Any, ctx: WriteContext, price_id: str | None = None) -> dict[str, Any]:
    """A ``PriceDraft`` as an embedded ``Price`` with a new id (or ``price_id``: a changed price keeps its id)."""
    if not isinstance(draft, dict):
        raise invalid_json("price: expected a PriceDraft")
    price: dict[str, Any] = {"id": price_id or ctx.ids.uuid(), "value": cent_precision(draft.get("value"), "value")}
    if len(draft) > 1:  # more than the value: seeding makes many prices, most of them plain
        _price_options(price, draft, ctx)
    return price


def _price_options(price: dict[str, Any], draft: Mapping[str, Any], ctx: WriteContext) -> None:
    key = optional_key(draft)
    if key is not None:
        price["key"] = key
    country = optional_str(draft, "country")
    if country is not None:
        if not _COUNTRY.match(country):
            raise invalid_field("country", country, f"'{country}' is not a valid country code (ISO 3166-1 alpha-2).")
        price["country"] = country
    for name, type_id in _UNCHECKED_PRICE_REFERENCES:
        identifier = draft.get(name)
        if identifier is None:
            continue
        if not isinstance(identifier, dict) or not isinstance(identifier.get("id"), str):
            raise _unresolvable(type_id, identifier)  # by key: no such resource to look it up in
        price[name] = reference(type_id, identifier["id"])
    for name in ("validFrom", "validUntil"):
        value = optional_str(draft, name)
        if value is not None:
            price[name] = value
    if draft.get("custom") is not None:
        price["custom"] = custom_fields(draft["custom"], ctx)
    for name in ("tiers", "discounted", "recurrencePolicy"):
        if draft.get(name):
            raise invalid_json(f"{name}: not emulated")


def _price_scope(price: Mapping[str, Any]) -> tuple[str | None, ...]:
    return (
        price["value"]["currencyCode"],
        price.get("country"),
        price.get("customerGroup", {}).get("id"),
        price.get("channel", {}).get("id"),
        price.get("validFrom"),
        price.get("validUntil"),
    )


def _check_price_scopes(prices: list[dict[str, Any]]) -> None:
    seen: dict[tuple[str | None, ...], dict[str, Any]] = {}
    for price in prices:
        scope = _price_scope(price)
        if scope in seen:
            raise CtError(
                400,
                "DuplicatePriceScope",
                f"Duplicate price scope: {price['value']['currencyCode']} "
                f"(country {price.get('country', '-')}, channel {price.get('channel', {}).get('id', '-')}, "
                f"customer group {price.get('customerGroup', {}).get('id', '-')}). "
                "The combination of values must be unique for each price.",
                conflictingPrice=seen[scope],
            )
        seen[scope] = price


# -- what an action changes ------------------------------------------------------------------------------------


def _targets(product: Resource, action: Mapping[str, Any]) -> list[Resource]:
    """The data an action with a ``staged`` flag changes: the staged data (default), or staged and current."""
    master = product["masterData"]
    if optional_bool(action, "staged", True):
        master["hasStagedChanges"] = True
        return [master["staged"]]
    return [master["staged"], master["current"]]


def _find_variant(data: Resource, action: Mapping[str, Any], id_field: str = "variantId") -> Resource:
    variant_id, sku = action.get(id_field), optional_str(action, "sku")
    if variant_id is None and sku is None:
        raise invalid_json(f"Either '{id_field}' or 'sku' is required")
    for variant in variants(data):
        if (variant["id"] == variant_id) if variant_id is not None else (variant.get("sku") == sku):
            return variant
    wanted = f"id {variant_id}" if variant_id is not None else f"SKU '{sku}'"
    raise invalid_input(f"The product does not have a variant with the {wanted}.")


def _find_price(data: Resource, price_id: str) -> tuple[Resource, int]:
    """The variant holding the price ``price_id`` and the price's position in it."""
    for variant in variants(data):
        for position, price in enumerate(variant["prices"]):
            if price["id"] == price_id:
                return variant, position
    raise invalid_input(f"The product does not have a price with the id '{price_id}'.")


def _image_urls(master: Resource) -> list[str]:
    """Every image URL of the product, current and staged, in order and once each."""
    urls = (image["url"] for side in ("current", "staged") for v in variants(master[side]) for image in v["images"])
    return list(dict.fromkeys(urls))


def _removed_images(before: list[str], master: Resource) -> list[str]:
    still = set(_image_urls(master))
    return [url for url in before if url not in still]


def _own_current(handler: ActionHandler) -> ActionHandler:
    """A stored product may share data between its current and staged side (publishing shares it; a request's copy
    of the product keeps the sharing), so each action first gives the current side its own copy: changing one side
    must never change the other through it."""

    def run(product: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
        master = product["masterData"]
        master["current"] = clone(master["current"])
        return handler(product, action, ctx)

    return run


# -- update actions: publication -------------------------------------------------------------------------------


def _publish(product: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    scope = optional_str(action, "scope") or "All"
    if scope not in ("All", "Prices"):
        raise invalid_json(f"scope: {scope!r} is not All or Prices")
    master = product["masterData"]
    before = _image_urls(master)
    if scope == "All":
        master["current"] = master["staged"]
    else:
        staged_prices = {v["id"]: v["prices"] for v in variants(master["staged"])}
        for variant in variants(master["current"]):
            variant["prices"] = staged_prices.get(variant["id"], variant["prices"])
    master["published"] = True
    master["hasStagedChanges"] = master["current"] != master["staged"]
    return [
        _message(
            "ProductPublished",
            removedImageUrls=_removed_images(before, master),
            productProjection=projection(_pending(product, ctx), "current"),
            scope=scope,
        )
    ]


def _unpublish(product: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    product["masterData"]["published"] = False
    return [Change("ProductUnpublished")]


def _revert_staged_changes(product: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    master = product["masterData"]
    before = _image_urls(master)
    master["staged"] = master["current"]
    master["hasStagedChanges"] = False
    return [_message("ProductRevertedStagedChanges", removedImageUrls=_removed_images(before, master))]


# -- update actions: product fields ----------------------------------------------------------------------------


def _change_name(product: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    name = required_localized(action, "name")
    for data in _targets(product, action):
        data["name"] = name
    return []


def _set_description(product: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    description = localized(action, "description")
    for data in _targets(product, action):
        if description is None:
            data.pop("description", None)
        else:
            data["description"] = description
    return []


def _change_slug(product: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    new = slug(action)
    old = product["masterData"]["staged"]["slug"]
    for data in _targets(product, action):
        data["slug"] = new
    return [_message("ProductSlugChanged", slug=new, oldSlug=old)]


def _set_key(product: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    key = optional_key(action)
    if key is None:
        product.pop("key", None)
    else:
        product["key"] = key
    return []


def _add_to_category(product: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    category = reference("category", resolve(action.get("category"), "category", ctx, "category")["id"])
    order_hint = optional_str(action, "orderHint")
    targets = _targets(product, action)
    if all(category in data["categories"] for data in targets):
        raise invalid_operation(f"The product is already in the category '{category['id']}'.")
    for data in targets:
        if category not in data["categories"]:
            data["categories"].append(category)
        if order_hint is not None:
            data["categoryOrderHints"][category["id"]] = order_hint
    return [_message("ProductAddedToCategory", category=category, staged=len(targets) == 1)]


def _remove_from_category(product: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    category = reference("category", resolve(action.get("category"), "category", ctx, "category")["id"])
    targets = _targets(product, action)
    if not any(category in data["categories"] for data in targets):
        raise invalid_operation(f"The product is not in the category '{category['id']}'.")
    for data in targets:
        data["categories"] = [c for c in data["categories"] if c != category]
        data["categoryOrderHints"].pop(category["id"], None)
    return [_message("ProductRemovedFromCategory", category=category, staged=len(targets) == 1)]


# -- update actions: variants ----------------------------------------------------------------------------------


def _product_type(product: Resource, ctx: WriteContext) -> Resource:
    found = ctx.collections["product-type"].get(product["productType"]["id"])
    assert found is not None, "a product type in use cannot be deleted"
    return found


def _add_variant(product: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    master = product["masterData"]
    variant_id = max(v["id"] for side in ("current", "staged") for v in variants(master[side])) + 1
    variant = _new_variant(
        {name: action[name] for name in ("sku", "key", "prices", "images", "attributes", "assets") if name in action},
        variant_id,
        _product_type(product, ctx),
        ctx,
    )
    targets = _targets(product, action)
    for data in targets:
        if len(data["variants"]) >= MAX_VARIANTS:
            raise invalid_operation(f"A product can have at most {MAX_VARIANTS} variants besides the master variant.")
        data["variants"].append(variant)
        _check_variant_identifiers(data)
    return [_message("ProductVariantAdded", variant=variant, staged=len(targets) == 1)]


def _remove_variant(product: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    master = product["masterData"]
    before = _image_urls(master)
    targets = _targets(product, action)
    removed = [_find_variant(data, action, id_field="id") for data in targets]
    if removed[0]["id"] == 1:
        raise invalid_operation("The master variant cannot be removed; make another variant the master first.")
    for data, variant in zip(targets, removed, strict=True):
        data["variants"] = [v for v in data["variants"] if v["id"] != variant["id"]]
    return [
        _message(
            "ProductVariantDeleted",
            variant=removed[0],
            removedImageUrls=_removed_images(before, master),
            staged=len(targets) == 1,
        )
    ]


def _set_sku(product: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    if action.get("variantId") is None:
        raise invalid_json("variantId: Missing required value")
    sku = optional_str(action, "sku")
    for data in _targets(product, action):
        variant = _find_variant(data, {"variantId": action["variantId"]})
        if sku is None:
            variant.pop("sku", None)
        else:
            variant["sku"] = sku
        _check_variant_identifiers(data)
    return []


def _set_attribute_on(variant: Resource, product_type: Resource, name: str, value: Any) -> None:
    """Set (or, ``value`` None, remove) one attribute of a variant."""
    others = [a for a in variant["attributes"] if a["name"] != name]
    if value is None:
        product_types.check_required(product_type, others, "Variant")
        variant["attributes"] = others
        return
    attribute = {"name": name, "value": product_types.attribute_value(product_type, name, value, "Variant")}
    if len(others) == len(variant["attributes"]):
        variant["attributes"] = [*others, attribute]
    else:
        variant["attributes"] = [attribute if a["name"] == name else a for a in variant["attributes"]]


def _set_attribute(product: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    name, product_type = required_str(action, "name"), _product_type(product, ctx)
    for data in _targets(product, action):
        _set_attribute_on(_find_variant(data, action), product_type, name, action.get("value"))
    return []


def _set_attribute_in_all_variants(product: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    name, product_type = required_str(action, "name"), _product_type(product, ctx)
    for data in _targets(product, action):
        for variant in variants(data):
            _set_attribute_on(variant, product_type, name, action.get("value"))
    return []


def _add_external_image(product: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    image = parse_image(action.get("image"))
    targets = _targets(product, action)
    found = [_find_variant(data, action) for data in targets]
    for variant in found:
        variant["images"] = [*variant["images"], image]
    return [_message("ProductImageAdded", variantId=found[0]["id"], image=image, staged=len(targets) == 1)]


# -- update actions: prices ------------------------------------------------------------------------------------


def _add_price(product: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    price = new_price(action.get("price"), ctx)
    targets = _targets(product, action)
    found = [_find_variant(data, action) for data in targets]
    for variant in found:
        variant["prices"] = [*variant["prices"], price]
        _check_price_scopes(variant["prices"])
    return [_message("ProductPriceAdded", variantId=found[0]["id"], price=price, staged=len(targets) == 1)]


def _change_price(product: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    price_id = required_str(action, "priceId")
    new = new_price(action.get("price"), ctx, price_id=price_id)
    targets = _targets(product, action)
    old: list[dict[str, Any]] = []  # per target: staged first, then current
    for data in targets:
        variant, position = _find_price(data, price_id)
        old.append(variant["prices"][position])
        variant["prices"] = [new if p["id"] == price_id else p for p in variant["prices"]]
        _check_price_scopes(variant["prices"])
    fields: dict[str, Any] = {"variantId": _find_price(targets[0], price_id)[0]["id"], "newPrice": new}
    if len(targets) == 1:
        fields.update(oldPrice=old[0], staged=True)
    else:
        fields.update(oldPrice=old[1], staged=False, oldStagedPrice=old[0])
    return [_message("ProductPriceChanged", **fields)]


def _remove_price(product: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    price_id = required_str(action, "priceId")
    targets = _targets(product, action)
    removed: list[tuple[Resource, dict[str, Any]]] = []
    for data in targets:
        variant, position = _find_price(data, price_id)
        removed.append((variant, variant["prices"][position]))
        variant["prices"] = [p for p in variant["prices"] if p["id"] != price_id]
    variant, price = removed[0]
    return [_message("ProductPriceRemoved", variantId=variant["id"], price=price, staged=len(targets) == 1)]


def _set_prices(product: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    if not isinstance(action.get("prices"), list):
        raise invalid_json("prices: Missing required value")
    prices = new_prices(action["prices"], ctx)
    targets = _targets(product, action)
    found = [_find_variant(data, action) for data in targets]
    for variant in found:
        variant["prices"] = prices
    return [_message("ProductPricesSet", variantId=found[0]["id"], prices=prices, staged=len(targets) == 1)]


def _set_price_mode(product: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    price_mode = _price_mode(action)
    if price_mode is None:
        product.pop("priceMode", None)
    else:
        product["priceMode"] = price_mode
    return [Change("ProductPriceModeSet", {"to": price_mode or "Embedded"})]


_HANDLERS: dict[str, ActionHandler] = {
    "publish": _publish,
    "unpublish": _unpublish,
    "revertStagedChanges": _revert_staged_changes,
    "changeName": _change_name,
    "setDescription": _set_description,
    "changeSlug": _change_slug,
    "setKey": _set_key,
    "addToCategory": _add_to_category,
    "removeFromCategory": _remove_from_category,
    "addVariant": _add_variant,
    "removeVariant": _remove_variant,
    "setSku": _set_sku,
    "setAttribute": _set_attribute,
    "setAttributeInAllVariants": _set_attribute_in_all_variants,
    "addExternalImage": _add_external_image,
    "addPrice": _add_price,
    "changePrice": _change_price,
    "removePrice": _remove_price,
    "setPrices": _set_prices,
    "setPriceMode": _set_price_mode,
}
ACTIONS: dict[str, ActionHandler] = {name: _own_current(handler) for name, handler in _HANDLERS.items()}


# -- deletion and categories going away -------------------------------------------------------------------------


def _deleted(product: Resource) -> list[Change]:
    return [
        _message(
            "ProductDeleted",
            removedImageUrls=_image_urls(product["masterData"]),
            currentProjection=projection(product, "current"),
        )
    ]


def leave_categories(category_ids: set[str], ctx: WriteContext) -> None:
    """Deleted categories leave every product that had them, current and staged: a new product version each."""
    products = ctx.collections["product"]

    def keeps(category: Mapping[str, str]) -> bool:
        return category["id"] not in category_ids

    for product in list(products):
        master = product["masterData"]
        if all(keeps(c) for side in ("current", "staged") for c in master[side]["categories"]):
            continue
        updated = clone(product)
        for side in ("current", "staged"):
            data = updated["masterData"][side]
            data["categories"] = [c for c in data["categories"] if keeps(c)]
            data["categoryOrderHints"] = {k: v for k, v in data["categoryOrderHints"].items() if k not in category_ids}
        updated.update(version=product["version"] + 1, lastModifiedAt=ctx.now, lastModifiedBy=ctx.modified_by)
        products.put(updated)


def kind(collection: ProductCollection) -> ResourceKind:
    return ResourceKind(
        type_id="product",
        collection=collection,
        create=create,
        actions=ACTIONS,
        identifiers=identifiers,
        deleted=_deleted,
    )
