"""Standard and variant products: how the sync engine maps, creates, updates, finds and deactivates them in Fluent.

Both kinds come from the same commercetools product projection. Updates upsert attributes and prices and add
category links; a link to a category the product has left is removed afterwards with
``removeCategoriesFrom*Product`` (Fluent's update inputs cannot remove one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ctfluent_dagster.entities.categories import ENTITY_TYPE as CATEGORY
from ctfluent_dagster.entities.products import STANDARD_PRODUCT, VARIANT_PRODUCT
from ctfluent_dagster.entities.products.mapping import (
    MappedProduct,
    PriceScope,
    SkippedProduct,
    map_standard,
    map_variants,
)
from ctfluent_dagster.entities.products.models import ProductProjection
from ctfluent_dagster.entities.products.settings import ProductSettings
from ctfluent_dagster.entities.shared import CatalogueEntitySync, catalogue_entity_key
from ctfluent_dagster.fluent.client import FluentClient
from ctfluent_dagster.fluent.operations import OperationSet
from ctfluent_dagster.hooks import LoadedHooks
from ctfluent_dagster.records import (
    Dependency,
    FluentIdentity,
    LedgerKey,
    PlannedPush,
    PlannedSkip,
    payload_fingerprint,
)
from ctfluent_dagster.sync.graphql_entity import batched_operation
from ctfluent_dagster.sync.invalid import invalid_record_skip

OPERATIONS = OperationSet(Path(__file__).with_name("operations"))
Plan = PlannedPush["ProductPush"] | PlannedSkip


@dataclass(frozen=True)
class ProductPush:
    fields: dict[str, Any]  # the create input without catalogue, categories and standard-product link
    product: ProductProjection | None  # kept only for hooks (it is the largest part of a chunk in flight)
    categories: tuple[Dependency, ...]
    standard: Dependency | None = None  # variants: their standard product


class CatalogueProductSync(CatalogueEntitySync[ProductPush]):
    """What standard and variant products share; ``kind`` is "Standard" or "Variant" (the operations' names)."""

    kind: str
    product_key_field: str  # the remove-categories input's key of the product

    def __init__(
        self, fluent: FluentClient, settings: ProductSettings, catalogue: str, hooks: LoadedHooks | None = None
    ) -> None:
        super().__init__(
            fluent,
            create=OPERATIONS[f"Create{self.kind}Product"],
            update=OPERATIONS[f"Update{self.kind}Product"],
            find=OPERATIONS[f"{self.kind}ProductByRef"],
            hooks=hooks or LoadedHooks.load(settings.hooks),
        )
        self.settings = settings
        self.catalogue = catalogue
        self.active_status = settings.active_status if settings.activate_after_create else None
        self._remove = OPERATIONS[f"RemoveCategoriesFrom{self.kind}Product"]

    def _product(self, record: Mapping[str, Any]) -> ProductProjection | PlannedSkip:
        try:
            return ProductProjection.model_validate(record)
        except ValidationError as exc:
            return invalid_record_skip(self.entity_type, record, exc)

    def _category_dependencies(self, mapped: MappedProduct) -> tuple[Dependency, ...]:
        return tuple(
            Dependency(CATEGORY, source_id=category_id, target_key=self.catalogue, label=f"{category_id}")
            for category_id in mapped.category_ids
        )

    def _push(
        self, key: LedgerKey, product: ProductProjection, mapped: MappedProduct, label: str,
        standard: Dependency | None = None,
    ) -> Plan:  # fmt: skip
        fields = mapped.fields
        if self.hooks.payload:
            fields = self.hooks.apply_payload(fields, product)
        categories = self._category_dependencies(mapped)
        return PlannedPush(
            key=key,
            version=product.version,
            ref=mapped.ref,
            payload_hash=payload_fingerprint({"fields": fields, "categories": mapped.category_ids}),
            payload=ProductPush(fields, product if self.hooks.any else None, categories, standard),
            label=label,
            lookup=mapped.ref,  # the SKU (or the product key): found in the history also before it is in Fluent
            requires=(*((standard,) if standard else ()), *categories),
            notes=mapped.notes,
        )

    # -- inputs ----------------------------------------------------------------------------------------

    def _category_keys(self, push: PlannedPush[ProductPush]) -> list[dict[str, Any]]:
        return [catalogue_entity_key(push.resolved[d].ref, self.catalogue) for d in push.payload.categories]

    def _input(self, push: PlannedPush[ProductPush], ref: str) -> dict[str, Any]:
        value = {**push.payload.fields, **catalogue_entity_key(ref, self.catalogue)}
        value["categories"] = self._category_keys(push)
        standard = push.payload.standard
        if standard is not None:
            value["product"] = catalogue_entity_key(push.resolved[standard].ref, self.catalogue)
        return value

    def create_input(self, push: PlannedPush[ProductPush]) -> dict[str, Any]:
        return self._input(push, push.ref)

    def update_input(self, push: PlannedPush[ProductPush], ref: str) -> dict[str, Any]:
        # Only published products are read: an update makes the product active again (after an unpublish).
        return {**self._input(push, ref), "status": self.settings.active_status}

    def deactivate_input(self, ref: str) -> dict[str, Any]:
        return self.status_input(ref, self.settings.inactive_status)

    def hook_subject(self, push: PlannedPush[ProductPush]) -> ProductProjection | None:
        return push.payload.product

    # -- updates also unlink categories the product left -----------------------------------------------

    def update(self, push: PlannedPush[ProductPush], ref: str) -> FluentIdentity:
        identity = super().update(push, ref)
        self._unlink_left_categories([(push, ref)])
        return identity

    def update_many(self, pushes: Sequence[tuple[PlannedPush[ProductPush], str]]) -> list[FluentIdentity]:
        identities = super().update_many(pushes)
        self._unlink_left_categories(pushes)
        return identities

    def _unlink_left_categories(self, pushes: Sequence[tuple[PlannedPush[ProductPush], str]]) -> None:
        query = batched_operation(self._find, len(pushes))
        variables = {f"{name}{index}": value for index, (_, ref) in enumerate(pushes)
                     for name, value in self.find_variables(ref).items()}  # fmt: skip
        data = self.fluent.execute(query, variables)
        for index, (push, ref) in enumerate(pushes):
            found = data.get(f"item{index}") or {}
            linked = {edge["node"]["ref"] for edge in ((found.get("categories") or {}).get("edges") or [])}
            left = sorted(linked - {key["ref"] for key in self._category_keys(push)})
            if left:
                product_key = catalogue_entity_key(ref, self.catalogue)
                categories = [catalogue_entity_key(category, self.catalogue) for category in left]
                unlink = {self.product_key_field: product_key, "categories": categories}
                self.fluent.execute(self._remove, {"input": unlink})


class StandardProductSync(CatalogueProductSync):
    entity_type = STANDARD_PRODUCT
    kind = "Standard"
    product_key_field = "standardProduct"

    def plan(self, record: Mapping[str, Any]) -> list[Plan]:
        product = self._product(record)
        if isinstance(product, PlannedSkip):
            return [product]
        key = LedgerKey(STANDARD_PRODUCT, product.id, self.catalogue)
        label = product.key or product.id
        mapped = map_standard(product, self.settings)
        if isinstance(mapped, SkippedProduct):
            return [PlannedSkip(key, product.version, mapped.reason, label)]
        return [self._push(key, product, mapped, label)]


class VariantProductSync(CatalogueProductSync):
    entity_type = VARIANT_PRODUCT
    kind = "Variant"
    product_key_field = "variantProduct"

    def __init__(
        self,
        fluent: FluentClient,
        settings: ProductSettings,
        catalogue: str,
        hooks: LoadedHooks | None = None,
        *,
        channel_id: str | None = None,
        customer_group_id: str | None = None,
    ) -> None:
        """``channel_id``, ``customer_group_id``: the price selection's, by id (``settings.prices`` may name them
        by key; see ``pricing.resolved_ids``)."""
        super().__init__(fluent, settings, catalogue, hooks)
        self.channel_id = channel_id
        self.customer_group_id = customer_group_id

    def plan(self, record: Mapping[str, Any]) -> list[Plan]:
        product = self._product(record)
        if isinstance(product, PlannedSkip):
            return [product]
        standard = Dependency(STANDARD_PRODUCT, source_id=product.id, target_key=self.catalogue,
                              label=f"of product {product.key or product.id}")  # fmt: skip
        standard_plan = map_standard(product, self.settings)
        scope = PriceScope(datetime.now(UTC), self.channel_id, self.customer_group_id)  # the prices valid now
        plans: list[Plan] = []
        for variant in map_variants(product, self.settings, scope):
            mapped = variant
            if isinstance(standard_plan, SkippedProduct):  # nothing to link the variants to: skipped with it
                reason = f"its standard product is skipped: {standard_plan.reason}"
                if isinstance(variant, SkippedProduct):
                    mapped = SkippedProduct(reason, variant.variant_id, variant.sku)
                else:
                    mapped = SkippedProduct(reason, sku=variant.ref)
            if isinstance(mapped, SkippedProduct):
                # Keyed by SKU when it has one, so that an order naming the SKU learns why it is not in Fluent.
                name = mapped.sku or f"#{mapped.variant_id}"
                key = LedgerKey(VARIANT_PRODUCT, product.id, f"{self.catalogue}:{name}")
                label = mapped.sku or f"variant {mapped.variant_id}"
                plans.append(PlannedSkip(key, product.version, mapped.reason, label, lookup=mapped.sku))
            else:
                key = LedgerKey(VARIANT_PRODUCT, product.id, f"{self.catalogue}:{mapped.ref}")
                plans.append(self._push(key, product, mapped, mapped.ref, standard))
        return plans
