"""The Fluent product catalogue the catalogue entities (categories, products) sync into: ``FLUENT_CATALOGUE_REF``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ctfluent_dagster.entity import SyncContext
from ctfluent_dagster.fluent.operations import OperationSet
from ctfluent_dagster.preflight import PreflightCheck, attempt

OPERATIONS = OperationSet(Path(__file__).with_name("operations"))


def catalogue_ref(context: SyncContext) -> str:
    if not context.catalogue_ref:
        raise ValueError("set FLUENT_CATALOGUE_REF to the Fluent product catalogue to sync into, e.g. PC:MASTER:1")
    return context.catalogue_ref


def catalogue_key(ref: str) -> dict[str, str]:
    """``ProductCatalogueKey``."""
    return {"ref": ref}


def catalogue_entity_key(ref: str, catalogue: str) -> dict[str, Any]:
    """``CategoryKey``, ``ProductKey``, ``VariantProductKey``...: a catalogue entity by its ref in the catalogue."""
    return {"ref": ref, "catalogue": catalogue_key(catalogue)}


def catalogue_checks(context: SyncContext) -> list[PreflightCheck]:
    """The catalogue exists and the login may read it."""
    lookup = OPERATIONS["ProductCatalogueByRef"]

    def probe() -> tuple[bool, str]:
        ref = catalogue_ref(context)
        found = context.fluent.execute(lookup, {"ref": ref})[lookup.root_field]
        if not found:
            return False, f"product catalogue {ref} does not exist or is not visible to this login"
        return True, f"product catalogue {ref}: {found.get('name')} ({found.get('type')}, {found.get('status')})"

    def configured() -> tuple[bool, str]:
        try:
            return probe()
        except ValueError as exc:
            return False, str(exc)

    return [attempt("Fluent product catalogue", configured)]
