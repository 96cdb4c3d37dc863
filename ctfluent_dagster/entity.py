"""What an entity declares: the one description from which its Dagster wiring is generated.

Each synced entity lives in one folder under ``ctfluent_dagster/entities/`` (its commercetools read, pure mapping,
``EntitySync`` with its GraphQL operations, message routes) and exports one :class:`EntityDeclaration`. The
factories in ``assets/`` and ``sensors/`` build from it the commercetools and Fluent assets, the failures checks,
the sync and re-drive jobs, deletion handling, the reconciliation schedules, the message routes and handlers and
the retention-gap re-sync. Plain Python: nothing here imports Dagster.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from ctfluent_dagster.backsync import BackSync, SettingsRoot
from ctfluent_dagster.commercetools.client import MAX_PAGE_SIZE, CommercetoolsClient, Params
from ctfluent_dagster.fluent.client import FluentClient
from ctfluent_dagster.preflight import PreflightCheck
from ctfluent_dagster.records import EntitySync, GoneStatus, UpdatePolicy

SettingsT = TypeVar("SettingsT", bound=BaseModel)


PACKAGE_DIR = Path(__file__).resolve().parent
Record = Mapping[str, Any]
Pages = Iterator[list[dict[str, Any]]]


@dataclass(frozen=True)
class SyncContext:
    """What building an entity's sync needs: the Fluent client and the configuration it maps with."""

    fluent: FluentClient
    retailer_id: str | None  # FLUENT_RETAILER_ID
    catalogue_ref: str | None  # FLUENT_CATALOGUE_REF
    settings: BaseModel  # the entity's own settings section
    # The sections of other entities it declares it uses (``EntityDeclaration.uses_settings``), by entity name.
    other_settings: Mapping[str, BaseModel] = field(default_factory=dict)
    # The reading commercetools client (view scopes), for what a sync or a pre-flight check reads beside its records
    # (product types, say).
    commercetools: CommercetoolsClient | None = None

    def entity_settings(self, kind: type[SettingsT]) -> SettingsT:
        return _checked(self.settings, kind)

    def settings_of(self, entity: str, kind: type[SettingsT]) -> SettingsT:
        if entity not in self.other_settings:
            raise KeyError(f"the settings of {entity!r} are not declared in uses_settings")
        return _checked(self.other_settings[entity], kind)


def _checked(section: BaseModel, kind: type[SettingsT]) -> SettingsT:
    if not isinstance(section, kind):
        raise TypeError(f"expected {kind.__name__} settings, got {type(section).__name__}")
    return section


@dataclass(frozen=True)
class Source:
    """The commercetools side: one resource, read by day (``partition_field``) or by id, staged as Parquet."""

    name: str  # asset ``commercetools/<name>``; the staging folder
    type_id: str  # ``resource.typeId`` of its messages, e.g. "customer"
    resource: str  # the API path, e.g. "customers", "product-projections"
    scopes: tuple[str, ...]  # the view_* scopes reading it needs
    description: str
    extra: Params = ()  # the resource's own query parameters, e.g. (("staged", "false"),)
    # Records per page read (and staged, and pushed, as one chunk): smaller for large records, so that a page in
    # memory stays small.
    page_size: int = MAX_PAGE_SIZE
    # The timestamp a record's daily partition is taken from: ``lastModifiedAt`` (it is synced again when it
    # changes) or ``createdAt`` (it is created in Fluent once: an order).
    partition_field: str = "lastModifiedAt"
    # Drops what the sync never needs before anything is staged (e.g. a customer's hashed password).
    scrub: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    # Adds to a page, before it is staged, what the mapping needs from other commercetools resources (a payment's
    # order id), read with the same client: one query per page, not per record.
    enrich: Callable[[CommercetoolsClient, list[dict[str, Any]]], list[dict[str, Any]]] | None = None
    # Sources (of other entities) its records reference: upstream in the asset graph (lineage only).
    after: tuple[str, ...] = ()

    def modified_between(self, client: CommercetoolsClient, start: datetime | None, end: datetime) -> Pages:
        """The records whose ``partition_field`` lies in ``[start, end)``; ``start`` None: everything before ``end``
        (the first partition takes the history before the start date)."""
        pages = client.modified_between(self.resource, start, end, extra=self.extra, page_size=self.page_size,
                                        field=self.partition_field)  # fmt: skip
        return self._prepared(client, pages)

    def count_before(self, client: CommercetoolsClient, end: datetime) -> int:
        """How many records' ``partition_field`` lies before ``end`` (an estimate; capped, see ``count_before``)."""
        return client.count_before(self.resource, end, extra=self.extra, field=self.partition_field)

    def by_ids(self, client: CommercetoolsClient, ids: Sequence[str]) -> Pages:
        return self._prepared(client, client.by_ids(self.resource, ids, extra=self.extra, page_size=self.page_size))

    def all_ids(self, client: CommercetoolsClient) -> Iterator[str]:
        return client.all_ids(self.resource, extra=self.extra)

    def _prepared(self, client: CommercetoolsClient, pages: Pages) -> Pages:
        for page in pages:
            scrubbed = page if self.scrub is None else [self.scrub(record) for record in page]
            yield scrubbed if self.enrich is None else self.enrich(client, scrubbed)


@dataclass(frozen=True)
class Target:
    """One kind of Fluent record the source becomes (an entity may have several: standard and variant products)."""

    name: str  # asset ``fluent/<name>``
    entity_type: str  # the ledger's entity type, e.g. "customer"
    description: str
    build: Callable[[SyncContext], EntitySync[Record, Any]]
    # Targets (of any entity) whose Fluent records this one's reference: upstream in the asset graph.
    after: tuple[str, ...] = ()
    # What gone from commercetools means: "deleted" (final: later changes of the id are ignored) or "inactive".
    gone_status: GoneStatus = "deleted"
    # Deactivate a Fluent record its source no longer maps to (a removed variant).
    deactivate_dropped: bool = False
    # Whether gone from commercetools changes anything in Fluent; False: only the ledger learns it (an order deleted
    # in commercetools stays in Fluent, whose workflows own it).
    deactivate_gone: bool = True
    # The ledger's target key is a Fluent retailer id (customers: one per retailer): failure tables name it.
    target_is_retailer: bool = False
    # Other targets' runs may sync its records on demand, when a record of theirs references one that is not in
    # Fluent yet (``Dependency.on_demand``: an order's registered customer).
    on_demand: bool = False


@dataclass(frozen=True)
class EntityDeclaration:
    name: str  # the asset group, the settings section (``CTFLUENT_<NAME>__...``) and the jobs' names
    source: Source
    targets: tuple[Target, ...]
    # The entity's settings section; an ``update_policy`` field there ("upsert"/"create_only") is honoured.
    settings: type[BaseModel]
    routes: Path  # the entity's message routes (YAML, see ``messages/routing.py``)
    # Fluent records that must exist before this entity syncs (retailers, a catalogue), checked by ``preflight``.
    preflight: Callable[[SyncContext], list[PreflightCheck]] | None = None
    # Other entities whose settings sections its mapping reads (orders map their customer as customers do).
    uses_settings: tuple[str, ...] = ()
    # What Fluent changes of it that is written back to commercetools (order status), if anything.
    back_sync: BackSync | None = None

    def update_policy(self, settings: BaseModel) -> UpdatePolicy:
        policy: UpdatePolicy = getattr(settings, "update_policy", "upsert")
        return policy

    def settings_sections(self, settings: SettingsRoot) -> list[BaseModel]:
        """Its own settings section, then those of ``uses_settings``."""
        return [settings.entity(self.name), *(settings.entity(name) for name in self.uses_settings)]

    def sync_context(
        self,
        settings: SettingsRoot,
        fluent: FluentClient,
        retailer_id: str | None,
        catalogue_ref: str | None,
        commercetools: CommercetoolsClient | None = None,
    ) -> SyncContext:
        other = {name: settings.entity(name) for name in self.uses_settings}
        return SyncContext(fluent, retailer_id, catalogue_ref, settings.entity(self.name), other, commercetools)

    @property
    def sync_job(self) -> str:
        return f"{self.name}_sync"

    @property
    def redrive_job(self) -> str:
        return f"redrive_failed_{self.name}"


@cache
def code_fingerprint() -> str:
    """A hash of the project's code and operations: a new release may map differently."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*")):
        if path.suffix in (".py", ".graphql", ".yaml") and path.is_file():
            digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def mapping_fingerprint(target: str, settings: Sequence[BaseModel], *context: str | None) -> str:
    """Everything a target's mapping depends on besides the record: the code, the settings sections it reads (hooks
    included, by name) and the Fluent context (retailer, catalogue). Equal fingerprint and commercetools version
    mean an equal mapping."""
    sections = [section.model_dump(mode="json") for section in settings]
    basis = json.dumps([code_fingerprint(), target, sections, list(context)], sort_keys=True)
    return hashlib.sha256(basis.encode()).hexdigest()
