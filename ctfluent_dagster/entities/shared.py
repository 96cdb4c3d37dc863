"""What several entities share, in one place rather than in one entity's folder:

* the deployment's context values: the default Fluent retailer and the product catalogue (environment variables);
* the catalogue: its keys, its pre-flight check, and the base of the entities kept in it (categories, standard and
  variant products);
* the username rule: ``<retailerId>_<email>``, by which customers and the customers of orders find one Fluent
  customer;
* the retailer selection: a commercetools store's Fluent retailer, else the default (customers and orders alike);
* the commercetools order of a Fluent order (the order status and the fulfilments write to it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any, TypeVar

from ctfluent_dagster.commercetools.client import IDS_PER_QUERY, CommercetoolsClient
from ctfluent_dagster.entities.orders import ENTITY_TYPE as ORDER
from ctfluent_dagster.entity import ContextValue, SettingsRoot, SyncContext
from ctfluent_dagster.fluent.operations import CORE_OPERATIONS, Operation
from ctfluent_dagster.preflight import PreflightCheck, attempt
from ctfluent_dagster.records import FluentIdentity, PlannedPush
from ctfluent_dagster.sync.graphql_entity import GraphQLEntitySync

PushT = TypeVar("PushT")

RETAILER = ContextValue("retailer_id", "FLUENT_RETAILER_ID", "the default Fluent retailer", required=True)
CATALOGUE = ContextValue(
    "catalogue_ref", "FLUENT_CATALOGUE_REF", "the Fluent product catalogue categories and products sync into"
)


def default_retailer(context: SyncContext) -> str | None:
    return context.value(RETAILER.name)


# -- the catalogue -------------------------------------------------------------------------------------------------


def catalogue_ref(context: SyncContext) -> str:
    ref = context.value(CATALOGUE.name)
    if not ref:
        raise ValueError("set FLUENT_CATALOGUE_REF to the Fluent product catalogue to sync into, e.g. PC:MASTER:1")
    return ref


def catalogue_key(ref: str) -> dict[str, str]:
    """``ProductCatalogueKey``."""
    return {"ref": ref}


def catalogue_entity_key(ref: str, catalogue: str) -> dict[str, Any]:
    """``CategoryKey``, ``ProductKey``, ``VariantProductKey``...: a catalogue entity by its ref in the catalogue."""
    return {"ref": ref, "catalogue": catalogue_key(catalogue)}


def catalogue_checks(context: SyncContext) -> list[PreflightCheck]:
    """The catalogue exists and the login may read it."""
    lookup = CORE_OPERATIONS["ProductCatalogueByRef"]

    def probe() -> tuple[bool, str]:
        try:
            ref = catalogue_ref(context)
        except ValueError as exc:
            return False, str(exc)
        found = context.fluent.execute(lookup, {"ref": ref})[lookup.root_field]
        if not found:
            return False, f"product catalogue {ref} does not exist or is not visible to this login"
        return True, f"product catalogue {ref}: {found.get('name')} ({found.get('type')}, {found.get('status')})"

    return [attempt("Fluent product catalogue", probe)]


ACTIVATION = "activation"  # the suffix of the status updates' aliases and variables in a create request


@cache
def created_then_activated(create: Operation, update: Operation, count: int) -> Operation:
    """``count`` creates (aliases ``item0..``), then as many status updates (``activation0..``), as one mutation."""
    return create.batched(count).then(update.batched(count, alias=ACTIVATION, suffix=ACTIVATION))


class CatalogueEntitySync(GraphQLEntitySync[PushT]):
    """A catalogue entity (category, standard or variant product): keyed by ref in the catalogue, deactivated with a
    status, and, since Fluent's create inputs carry no status, activated after its create when ``active_status`` is
    set: the status updates follow the creates in the same request."""

    catalogue: str
    active_status: str | None  # None: a new record keeps the status Fluent gives it (CREATED) for its workflow

    def status_input(self, ref: str, status: str) -> dict[str, Any]:
        """The update mutation's ``input`` that only sets ``ref``'s status."""
        return {**catalogue_entity_key(ref, self.catalogue), "status": status}

    def find_variables(self, ref: str) -> dict[str, Any]:
        return {"ref": ref, "catalogue": self.catalogue}

    def create(self, push: PlannedPush[PushT]) -> FluentIdentity:
        return super().create(push) if self.active_status is None else self.create_many([push])[0]

    def create_many(self, pushes: Sequence[PlannedPush[PushT]]) -> list[FluentIdentity]:
        """With ``active_status``: the creates and then their status updates in one request (twice fewer requests
        than a create request and an update request); refused, nothing of it applies and the batch goes one by
        one, as any refused batch."""
        if self.active_status is None:
            return super().create_many(pushes)
        operation = created_then_activated(self._create, self._update_operation(), len(pushes))
        variables = {f"{name}{index}": value for index, push in enumerate(pushes)
                     for name, value in self._variables(self.create_input(push), push).items()}  # fmt: skip
        variables |= {f"input{ACTIVATION}{index}": self.status_input(push.ref, self.active_status)
                      for index, push in enumerate(pushes)}  # fmt: skip
        if self._check_before_send:  # a hook changed a document
            self.fluent.check(operation, variables)
        data = self.fluent.execute(operation, variables)
        return [self._identity(data[f"item{index}"], push.ref) for index, push in enumerate(pushes)]


# -- customers and retailers ---------------------------------------------------------------------------------------


def fluent_username(retailer_id: str, email: str, keep_case: bool = False) -> str:
    """A Fluent customer's username: ``<retailerId>_<email>``, the email trimmed and lower-cased unless ``keep_case``
    (Fluent's convention: one customer per email and retailer)."""
    email = email.strip()
    return f"{retailer_id}_{email if keep_case else email.lower()}"


def retailers_of_stores(
    store_keys: Iterable[str], store_retailers: Mapping[str, str], *defaults: str | None
) -> list[str]:
    """The Fluent retailers of these commercetools stores (``store_retailers``), else the first default set."""
    mapped = [store_retailers[key] for key in store_keys if key in store_retailers]
    if mapped:
        return list(dict.fromkeys(mapped))  # several stores may map to one retailer
    default = next((d for d in defaults if d), None)
    return [default] if default else []


def configured_retailers(store_retailers: Mapping[str, str], *defaults: str | None) -> list[str]:
    """Every Fluent retailer the store map and the defaults can send records to."""
    return list(dict.fromkeys(r for r in (*defaults, *store_retailers.values()) if r))


def retailers_served(settings: SettingsRoot, values: Mapping[str, str | None]) -> list[str]:
    """The retailers the sync serves: those customers and orders go to (the customers' store map and defaults).
    The webhook receiver takes only their events, for every entity read from Fluent."""
    customers = settings.entity("customers")
    store_retailers: Mapping[str, str] = getattr(customers, "store_retailers", {})
    return configured_retailers(store_retailers, values.get(RETAILER.name), getattr(customers, "default_retailer_id",
                                                                                    None))  # fmt: skip


# -- the commercetools order of a Fluent order -------------------------------------------------------------------


def commercetools_orders(context: SyncContext, fluent_refs: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The commercetools order of each Fluent order ref that has one: the order the ledger holds for it (the orders
    this project created), else the one whose order number is the ref; two queries per call, not one per order."""
    if context.commercetools is None or context.sources_by_fluent_ref is None:
        raise ValueError("finding the commercetools orders needs the commercetools client and the ledger's lookup")
    known = context.sources_by_fluent_ref(ORDER, list(fluent_refs))
    by_id = _orders(context.commercetools, "id in :values", sorted(set(known.values())))
    unknown = sorted(set(fluent_refs) - set(known))
    by_number = {str(o.get("orderNumber")): o for o in _orders(context.commercetools, "orderNumber in :values",
                                                               unknown).values()}  # fmt: skip
    found = {ref: by_id.get(known[ref]) if ref in known else by_number.get(ref) for ref in fluent_refs}
    return {ref: order for ref, order in found.items() if order is not None}


def _orders(client: CommercetoolsClient, where: str, values: list[str]) -> dict[str, dict[str, Any]]:
    """The orders matching ``where`` (over ``:values``), by id."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(values), IDS_PER_QUERY):  # more commercetools ids would make the URL too long
        chunk = values[start : start + IDS_PER_QUERY]
        for page in client.iterate_by_id("orders", where=where, variables={"values": chunk}):
            found.update((order["id"], order) for order in page)
    return found
