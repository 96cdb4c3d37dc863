"""The Fluent product catalogue the catalogue entities (categories, products) sync into: ``FLUENT_CATALOGUE_REF``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from ctfluent_dagster.entity import SyncContext
from ctfluent_dagster.fluent.operations import OperationSet
from ctfluent_dagster.preflight import PreflightCheck, attempt
from ctfluent_dagster.records import FluentIdentity, PlannedPush
from ctfluent_dagster.sync.graphql_entity import GraphQLEntitySync, batched_operation

OPERATIONS = OperationSet(Path(__file__).with_name("operations"))
PushT = TypeVar("PushT")


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


class CatalogueEntitySync(GraphQLEntitySync[PushT]):
    """A catalogue entity (category, standard or variant product): keyed by ref in the catalogue, deactivated with a
    status, and, since Fluent's create inputs carry no status, activated after its create when ``active_status`` is
    set: one batched update per create request, with the records that request created."""

    catalogue: str
    active_status: str | None  # None: a new record keeps the status Fluent gives it (CREATED) for its workflow

    def status_input(self, ref: str, status: str) -> dict[str, Any]:
        """The update mutation's ``input`` that only sets ``ref``'s status."""
        return {**catalogue_entity_key(ref, self.catalogue), "status": status}

    def find_variables(self, ref: str) -> dict[str, Any]:
        return {"ref": ref, "catalogue": self.catalogue}

    def create(self, push: PlannedPush[PushT]) -> FluentIdentity:
        identity = super().create(push)
        self._activate([identity])
        return identity

    def create_many(self, pushes: Sequence[PlannedPush[PushT]]) -> list[FluentIdentity]:
        identities = super().create_many(pushes)
        self._activate(identities)
        return identities

    def _activate(self, created: Sequence[FluentIdentity]) -> None:
        """Set the active status of records just created. If this fails, the create fails with it: a retry finds
        the record already there and updates it, and updates carry the active status."""
        if self.active_status is None:
            return
        update = batched_operation(self._update_operation(), len(created))
        variables = {f"input{index}": self.status_input(identity.ref, self.active_status)
                     for index, identity in enumerate(created)}  # fmt: skip
        if self._check_before_send:  # a hook changed the update's document
            self.fluent.check(update, variables)
        self.fluent.execute(update, variables)
