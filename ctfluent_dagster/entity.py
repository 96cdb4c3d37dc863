"""What an entity declares: the one description from which its Dagster wiring is generated.

Each synced entity lives in one folder under ``ctfluent_dagster/entities/`` and exports one
:class:`EntityDeclaration`, which says which way it syncs by its source:

* **commercetools -> Fluent** (:class:`CommercetoolsSource`): a commercetools resource read by day or by id and
  staged as Parquet (asset ``commercetools/<source>``), its message routes (``routes.yaml``), and Fluent targets
  written through GraphQL (assets ``fluent/<target>``);
* **Fluent -> commercetools** (:class:`FluentSource`): Fluent records read through GraphQL, by windows on
  ``updatedOn`` or by ref, found changed by Fluent's webhook events (its ``event_types``) and by polling; staged
  as Parquet per day (asset ``fluent/<source>``, partitioned) or, unstaged, read by the target asset itself (an
  unpartitioned asset such as ``commercetools/order_status``); commercetools targets written with the write client
  (assets ``commercetools/<target>``).

Either way the same engine, ledger, waiting, failure checks, automatic retry, re-drive, journeys and dry run apply.
The factories in ``assets/`` and ``sensors/`` build the Dagster wiring from the declarations. Plain Python: nothing
here imports Dagster.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, TypeVar

from pydantic import BaseModel

from ctfluent_dagster.commercetools.client import MAX_COUNTED, MAX_PAGE_SIZE, CommercetoolsClient, Params
from ctfluent_dagster.fluent.changes import updated_on_version
from ctfluent_dagster.fluent.client import FluentClient
from ctfluent_dagster.preflight import PreflightCheck
from ctfluent_dagster.records import EntitySync, GoneStatus, UpdatePolicy

SettingsT = TypeVar("SettingsT", bound=BaseModel)
PACKAGE_DIR = Path(__file__).resolve().parent
Record = Mapping[str, Any]
Pages = Iterator[list[dict[str, Any]]]
System = Literal["commercetools", "fluent"]


class SettingsRoot(Protocol):
    """The settings of the sync (``settings.SyncSettings``), as far as an entity needs them: its sections."""

    def entity(self, name: str) -> BaseModel: ...


@dataclass(frozen=True)
class ContextValue:
    """A value of the deployment an entity's mapping needs besides its settings section (the Fluent retailer, the
    product catalogue), from an environment variable; the glue reads the ones the entities declare."""

    name: str  # how the entity asks for it: ``context.value(name)``
    variable: str  # the environment variable, e.g. ``FLUENT_CATALOGUE_REF``
    description: str
    # The code location does not load without it (else the entity checks it where it needs it, as pre-flight does).
    required: bool = False


@dataclass(frozen=True)
class SyncContext:
    """What building an entity's reader, sync or pre-flight checks needs: the clients and the configuration."""

    fluent: FluentClient
    settings: BaseModel  # the entity's own settings section
    # The sections of other entities it declares it uses (``EntityDeclaration.uses_settings``), by entity name.
    other_settings: Mapping[str, BaseModel] = field(default_factory=dict)
    # The context values the entity declares, by name (None when unset).
    values: Mapping[str, str | None] = field(default_factory=dict)
    # The reading commercetools client (view scopes), for what is read beside the records (product types, say).
    commercetools: CommercetoolsClient | None = None
    # The commercetools client that writes (the manage scopes a Fluent -> commercetools target needs); None when the
    # write client is not configured.
    writer: CommercetoolsClient | None = None
    # The commercetools ids of these Fluent refs, for an entity type, as the ledger knows them (records this project
    # created): how a record read from Fluent finds its commercetools counterpart.
    sources_by_fluent_ref: Callable[[str, Sequence[str]], dict[str, str]] | None = None

    def value(self, name: str) -> str | None:
        if name not in self.values:
            raise KeyError(f"the context value {name!r} is not declared in the entity's context")
        return self.values[name]

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
class CommercetoolsSource:
    """The commercetools side: one resource, read by day (``partition_field``) or by id, staged as Parquet."""

    system: ClassVar[System] = "commercetools"
    name: str  # asset ``commercetools/<name>``; the staging folder
    type_id: str  # ``resource.typeId`` of its messages, e.g. "customer"
    resource: str  # the API path, e.g. "customers", "product-projections"
    scopes: tuple[str, ...]  # the view_* scopes reading it needs
    description: str
    routes: Path  # its message routes (YAML, see ``messages/routing.py``)
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

    def key_of(self, record: Record) -> str:
        return str(record["id"])

    def version_of(self, record: Record) -> int:
        return int(record.get("version", 0))

    def _prepared(self, client: CommercetoolsClient, pages: Pages) -> Pages:
        for page in pages:
            scrubbed = page if self.scrub is None else [self.scrub(record) for record in page]
            yield scrubbed if self.enrich is None else self.enrich(client, scrubbed)


class FluentReader(Protocol):
    """How an entity reads its records from Fluent (GraphQL, paged by cursor): as plain JSON records, each with
    ``updatedOn`` (its version) and the key :meth:`FluentSource.key_of` takes (its ``ref``)."""

    def updated_between(self, start: datetime | None, end: datetime | None) -> Pages:
        """The records whose ``updatedOn`` lies in ``[start, end)`` (a bound None: open on that side; both: every
        record, for deletion reconciliation)."""
        ...

    def by_refs(self, refs: Sequence[str]) -> Pages:
        """These records as Fluent has them now (missing ones are simply absent)."""
        ...


@dataclass(frozen=True)
class FluentSource:
    """The Fluent side: records read through GraphQL, found changed by webhook events and by polling ``updatedOn``."""

    system: ClassVar[System] = "fluent"
    # The timestamp a record's daily partition is taken from (staged sources).
    partition_field: ClassVar[str] = "updatedOn"
    name: str  # asset ``fluent/<name>`` when staged; the staging folder
    description: str
    reader: Callable[[SyncContext], FluentReader]
    # Fluent webhook ``entityType`` values whose events name its records (``entityRef``): its routes. The receiver
    # records only events of the types some entity declares, for the retailers those entities serve.
    event_types: tuple[str, ...] = ()
    # The retailers whose records it takes (the receiver ignores other retailers' events), from the settings and the
    # context values (by name); None: every retailer.
    served_retailers: Callable[[SettingsRoot, Mapping[str, str | None]], Sequence[str]] | None = None
    # Staged as Parquet per day of ``updatedOn`` (partitioned, backfilled like the commercetools sources); False:
    # read by its target asset itself, unpartitioned (it writes what its sensor finds).
    staged: bool = True
    # Fluent assets (``fluent/<name>``: targets of other entities, or Fluent sources) upstream of it (lineage only).
    after: tuple[str, ...] = ()
    key_field: str = "ref"
    # Adds to a page, when it is read to be written (not when the sensor polls), what the mapping needs from
    # elsewhere (a Fluent order's commercetools order): one lookup per page, not per record.
    enrich: Callable[[SyncContext, list[dict[str, Any]]], list[dict[str, Any]]] | None = None
    # The keys of its records that webhook events of one of its types name by their ``entityRef`` (default: the refs
    # themselves; a fulfilment's consignment names its fulfilments).
    keys_of_events: Callable[[SyncContext, str, Sequence[str]], set[str]] | None = None

    def event_keys(self, context: SyncContext, refs_by_type: Mapping[str, Sequence[str]]) -> set[str]:
        """The keys of the records these events (entity refs by entity type) name."""
        keys: set[str] = set()
        for entity_type, refs in refs_by_type.items():
            keys |= self.keys_of_events(context, entity_type, refs) if self.keys_of_events else set(refs)
        return keys

    def key_of(self, record: Record) -> str:
        return str(record[self.key_field])

    def version_of(self, record: Record) -> int:
        """Its ``updatedOn`` in epoch milliseconds (the ledger's guard: an older change never overwrites a newer)."""
        return updated_on_version(record)


Source = CommercetoolsSource | FluentSource


class SourceReading(Protocol):
    """One run's reading of an entity's source, whichever system it is in (:meth:`EntityDeclaration.reading`)."""

    def between(self, start: datetime | None, end: datetime) -> Pages:
        """The records whose partition field lies in ``[start, end)``; ``start`` None: everything before ``end``."""
        ...

    def by_keys(self, keys: Sequence[str]) -> Pages:
        """These records as the source has them now (the missing ones are absent: gone)."""
        ...

    def all_keys(self) -> Iterator[str]:
        """Every record's key (deletion reconciliation)."""
        ...

    def count_before(self, end: datetime) -> int:
        """How many records lie before ``end`` (pre-flight's history check; may be capped)."""
        ...


@dataclass(frozen=True)
class CommercetoolsReading:
    source: CommercetoolsSource
    client: CommercetoolsClient

    def between(self, start: datetime | None, end: datetime) -> Pages:
        return self.source.modified_between(self.client, start, end)

    def by_keys(self, keys: Sequence[str]) -> Pages:
        return self.source.by_ids(self.client, keys) if keys else iter(())

    def all_keys(self) -> Iterator[str]:
        return self.source.all_ids(self.client)

    def count_before(self, end: datetime) -> int:
        return self.source.count_before(self.client, end)


@dataclass(frozen=True)
class FluentReading:
    source: FluentSource
    reader: FluentReader
    context: SyncContext

    def between(self, start: datetime | None, end: datetime) -> Pages:
        return self._enriched(self.reader.updated_between(start, end))

    def by_keys(self, keys: Sequence[str]) -> Pages:
        # No keys, no records: a Fluent list query without its filter would read every record.
        return self._enriched(self.reader.by_refs(keys)) if keys else iter(())

    def all_keys(self) -> Iterator[str]:
        for page in self.reader.updated_between(None, None):
            yield from (self.source.key_of(record) for record in page)

    def count_before(self, end: datetime) -> int:
        counted = 0
        for page in self.reader.updated_between(None, end):
            counted += len(page)
            if counted >= MAX_COUNTED:  # Fluent's queries have no total: paged, up to pre-flight's cap
                break
        return counted

    def _enriched(self, pages: Pages) -> Pages:
        enrich = self.source.enrich
        for page in pages:
            yield page if enrich is None else enrich(self.context, page)


@dataclass(frozen=True)
class Target:
    """One kind of record the source becomes on the other side (an entity may have several: standard and variant
    products), written through its :class:`~ctfluent_dagster.records.EntitySync`."""

    name: str  # asset ``<the other system>/<name>``: ``fluent/customers``, ``commercetools/order_status``
    entity_type: str  # the ledger's entity type, e.g. "customer"
    description: str
    build: Callable[[SyncContext], EntitySync[Record, Any]]
    # Targets (of any entity) whose records this one's reference: upstream in the asset graph.
    after: tuple[str, ...] = ()
    # What gone from the source means: "deleted" (final: later changes of the id are ignored) or "inactive".
    gone_status: GoneStatus = "deleted"
    # Deactivate a record its source no longer maps to (a removed variant).
    deactivate_dropped: bool = False
    # Whether gone from the source changes anything on the other side; False: only the ledger learns it (an order
    # deleted in commercetools stays in Fluent, whose workflows own it).
    deactivate_gone: bool = True
    # The ledger's target key is a Fluent retailer id (customers: one per retailer): failure tables name it.
    target_is_retailer: bool = False
    # Other targets' runs may sync its records on demand, when a record of theirs references one that is not there
    # yet (``Dependency.on_demand``: an order's registered customer).
    on_demand: bool = False
    # A commercetools target: the manage scopes its writes need (the write client's).
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class EntityDeclaration:
    name: str  # the asset group, the settings section (``CTFLUENT_<NAME>__...``) and the jobs' names
    source: Source
    targets: tuple[Target, ...]
    # The entity's settings section; an ``update_policy`` field there ("upsert"/"create_only") is honoured; an entity
    # read from Fluent's extends ``fluent.changes.FluentChangesSettings``.
    settings: type[BaseModel]
    # Records that must exist before this entity syncs (retailers, a catalogue), checked by ``preflight``.
    preflight: Callable[[SyncContext], list[PreflightCheck]] | None = None
    # Other entities whose settings sections its mapping reads (orders map their customer as customers do).
    uses_settings: tuple[str, ...] = ()
    # The context values its reader, mapping and checks read (``SyncContext.value``).
    context: tuple[ContextValue, ...] = ()

    @property
    def from_fluent(self) -> bool:
        """Its records come from Fluent and go to commercetools."""
        return self.source.system == "fluent"

    @property
    def partitioned(self) -> bool:
        return not isinstance(self.source, FluentSource) or self.source.staged

    @property
    def target_system(self) -> System:
        return "commercetools" if self.from_fluent else "fluent"

    def update_policy(self, settings: BaseModel) -> UpdatePolicy:
        policy: UpdatePolicy = getattr(settings, "update_policy", "upsert")
        return policy

    def settings_sections(self, settings: SettingsRoot) -> list[BaseModel]:
        """Its own settings section, then those of ``uses_settings``."""
        return [settings.entity(self.name), *(settings.entity(name) for name in self.uses_settings)]

    def reading(self, context: SyncContext) -> SourceReading:
        """How a run reads the entity's source, with the context's clients."""
        if isinstance(self.source, FluentSource):
            return FluentReading(self.source, self.source.reader(context), context)
        if context.commercetools is None:
            raise ValueError(f"reading {self.name} needs the commercetools client")
        return CommercetoolsReading(self.source, context.commercetools)

    def sync_context(
        self,
        settings: SettingsRoot,
        fluent: FluentClient,
        values: Mapping[str, str | None],
        *,
        commercetools: CommercetoolsClient | None = None,
        writer: CommercetoolsClient | None = None,
        sources_by_fluent_ref: Callable[[str, Sequence[str]], dict[str, str]] | None = None,
    ) -> SyncContext:
        """``values``: every context value there is, by name; the context gets the ones the entity declares."""
        other = {name: settings.entity(name) for name in self.uses_settings}
        declared = {value.name: values.get(value.name) for value in self.context}
        return SyncContext(fluent, settings.entity(self.name), other, declared, commercetools, writer,
                           sources_by_fluent_ref)  # fmt: skip

    @property
    def sync_job(self) -> str:
        """Its runs: ``<name>_sync`` (partitioned); an unstaged entity read from Fluent writes back what its sensor
        finds: ``<name>_back_sync``."""
        return f"{self.name}_sync" if self.partitioned else f"{self.name}_back_sync"

    @property
    def redrive_job(self) -> str:
        return f"redrive_failed_{self.name}"

    @property
    def webhook_job(self) -> str:
        """An entity read from Fluent: the job ``ctfluent-webhooks`` may launch when an event arrives (it takes the
        recorded events of the entity's types)."""
        return f"{self.name}_from_webhooks"

    @property
    def changes_sensor(self) -> str:
        """An entity read from Fluent: the sensor that finds its changes (webhook events, polling)."""
        return f"fluent_{self.name}_sensor"


@cache
def code_fingerprint() -> str:
    """A hash of the project's code and operations: a new release may map differently."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*")):
        if path.suffix in (".py", ".graphql", ".yaml") and path.is_file():
            digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def mapping_fingerprint(target: str, settings: Sequence[BaseModel], values: Mapping[str, str | None]) -> str:
    """Everything a target's mapping depends on besides the record: the code, the settings sections it reads (hooks
    included, by name) and the context values it declares (retailer, catalogue). Equal fingerprint and version mean
    an equal mapping."""
    sections = [section.model_dump(mode="json") for section in settings]
    basis = json.dumps([code_fingerprint(), target, sections, dict(sorted(values.items()))], sort_keys=True)
    return hashlib.sha256(basis.encode()).hexdigest()
