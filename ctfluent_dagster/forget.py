"""Forgetting one person (``ctfluent-forget``): what this project holds about them, found by an email or a
commercetools customer id, and erased.

A person is their emails and the commercetools customers that hold them: given an email, the customers whose Fluent
username (``<retailer>_<email>``) or attempt history (the email's digest) names it, or whose staged record has it;
given a customer id, that customer's emails (its username's, its staged record's). Their records are those customers,
the orders that name them (by customer id or email, guests' included) and the payments of those orders.

* **Staged datasets** (the biggest store: whole records): their records are taken out of every dataset, which is
  rewritten without them (everyone else's records intact, its staging time kept), and their ids out of the gone
  lists beside.
* **Ledger**: their customers' rows keep only digests (:meth:`Ledger.forget`: a later sync of a customer still in
  commercetools finds it in Fluent again by its username, as a first sync would); the attempts of those customers,
  and every attempt found by the emails' digests, are deleted.
* **Kept**: the ledger rows and history of their orders and financial transactions. They hold order numbers, ids and
  masked texts, nothing personal, and they keep an order from being created twice in Fluent and the order status
  back-sync working; orders are business records, which commercetools keeps too when it erases a customer.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ctfluent_dagster.entities import ENTITIES
from ctfluent_dagster.entities.customers.declaration import ENTITY as CUSTOMERS
from ctfluent_dagster.entities.customers.mapping import fluent_username
from ctfluent_dagster.ledger.store import Forgetting, Ledger
from ctfluent_dagster.privacy import email_digest
from ctfluent_dagster.records import LedgerEntry
from ctfluent_dagster.staging import Dataset, DatasetStore

(CUSTOMER_TARGET,) = CUSTOMERS.targets
CUSTOMER = CUSTOMER_TARGET.entity_type


@dataclass
class Person:
    emails: set[str] = field(default_factory=set)  # lower-cased
    customer_ids: set[str] = field(default_factory=set)

    @classmethod
    def named(cls, identifier: str) -> Person:
        value = identifier.strip()
        return cls(emails={value.lower()}) if "@" in value else cls(customer_ids={value})

    def known(self) -> tuple[frozenset[str], frozenset[str]]:
        return frozenset(self.emails), frozenset(self.customer_ids)


@dataclass(frozen=True)
class Findings:
    """What the project holds about a person."""

    person: Person
    staged: dict[Dataset, set[str]]  # the person's records in each dataset, by commercetools id
    gone: dict[Dataset, set[str]]  # their ids in the gone list beside each dataset
    customers: list[LedgerEntry]  # their customers' ledger rows
    kept: list[LedgerEntry]  # the ledger rows of their other records (orders, financial transactions)
    forgotten_before: list[LedgerEntry]  # rows of theirs forgotten by an earlier ctfluent-forget

    def lookups(self) -> set[str]:
        """What their attempts are found by besides their ids: the digests of their emails."""
        return {email_digest(email) for email in self.person.emails}


@dataclass(frozen=True)
class Erasure:
    """What was erased (or would be, in a dry run)."""

    records: dict[Dataset, int]  # records taken out of each dataset
    gone: dict[Dataset, int]  # ids taken out of the gone list beside each dataset
    ledger: Forgetting

    @property
    def anything(self) -> bool:
        in_ledger = bool(self.ledger.forgotten or self.ledger.held or self.ledger.attempts)
        return in_ledger or any(self.records.values()) or any(self.gone.values())


def find(identifier: str, ledger: Ledger, store: DatasetStore) -> Findings:
    """Everything of the person ``identifier`` names (an email or a commercetools customer id): the ledger and the
    staged records each tell more of who they are (a customer id its email, an email its customers), until neither
    tells more."""
    person = Person.named(identifier)
    _customer_rows(ledger, person)  # what the ledger tells of who they are, before the staged records are read
    while True:
        staged = _staged_records(store, person)
        known = person.known()
        customers = _customer_rows(ledger, person)
        if person.known() == known:
            break
    ids = person.customer_ids | {source_id for found in staged.values() for source_id in found}
    gone: dict[Dataset, set[str]] = {}
    for dataset in store.datasets():
        listed = ids.intersection(store.read_gone(dataset.entity, dataset.partition_key, dataset.name))
        if listed:
            gone[dataset] = listed
    digests = {email_digest(email) for email in person.emails}
    return Findings(person, staged, gone, customers, _kept_rows(ledger, staged),
                    ledger.forgotten(CUSTOMER, person.customer_ids, digests))  # fmt: skip


def erase(findings: Findings, ledger: Ledger, store: DatasetStore, *, dry_run: bool = False) -> Erasure:
    """Erase what ``find`` found: the staged records first, the ledger last (it is what finds the person by a
    customer id again, should this be interrupted and run once more)."""
    refs = {
        entry.key: email_digest(email) if (email := _username_email(entry)) else None for entry in findings.customers
    }
    if dry_run:
        records = {dataset: len(ids) for dataset, ids in findings.staged.items()}
        gone = {dataset: len(ids) for dataset, ids in findings.gone.items()}
    else:
        records = {dataset: store.remove_records(dataset, ids) for dataset, ids in findings.staged.items()}
        gone = {dataset: store.remove_gone_ids(dataset, ids) for dataset, ids in findings.gone.items()}
    return Erasure(records, gone, ledger.forget(refs, findings.lookups(), dry_run=dry_run))


def _username_email(entry: LedgerEntry) -> str | None:
    """The email a customer's row names in its Fluent ref, its username (lower-cased)."""
    prefix = fluent_username(entry.key.target_key, "")
    ref = entry.fluent_ref or ""
    return ref[len(prefix) :].lower() if ref.startswith(prefix) and "@" in ref else None


def _customer_rows(ledger: Ledger, person: Person) -> list[LedgerEntry]:
    """The person's customers' rows: by customer id, by username, by the history of their emails' digests; each
    tells the person's customer id and the email of its username."""
    ids = set(person.customer_ids)
    ids |= {source_id for entity_type, source_id in ledger.sources_by_lookup(
        {email_digest(email) for email in person.emails}) if entity_type == CUSTOMER}  # fmt: skip
    rows = {entry.key: entry for entry in ledger.entries(CUSTOMER, source_ids=sorted(ids))} if ids else {}
    by_username = ledger.entries_by_ref_ending(CUSTOMER, {f"_{email}" for email in person.emails})
    rows.update({entry.key: entry for entry in by_username if _username_email(entry) in person.emails})
    for entry in rows.values():
        person.customer_ids.add(entry.key.source_id)
        if email := _username_email(entry):
            person.emails.add(email)
    return sorted(rows.values(), key=lambda entry: (entry.key.source_id, entry.key.target_key))


class _Values:
    """What a person's staged records are recognised by: values (emails, ids) anywhere in a record, whole and
    whatever their case."""

    def __init__(self, person: Person) -> None:
        self.exact: set[str] = set()
        self.escaped: set[str] = set()  # as they appear in a record's JSON text, for a quick look first
        for value in (*person.emails, *person.customer_ids):
            self.add(value)

    def add(self, value: str) -> None:
        lowered = value.strip().lower()
        self.exact.add(lowered)
        self.escaped.add(json.dumps(lowered, ensure_ascii=False)[1:-1])

    def named_in(self, raw: str) -> bool:
        lowered = raw.lower()
        if not any(value in lowered for value in self.escaped):
            return False
        return any(value.strip().lower() in self.exact for value in _strings(json.loads(raw)))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _staged_records(store: DatasetStore, person: Person) -> dict[Dataset, set[str]]:
    """The person's records in every staged dataset: those that hold one of their emails or customer ids, then
    those that hold the id of one found (a payment its order's), until no more are found. A customer record found
    tells the person's email."""
    values = _Values(person)
    found: dict[Dataset, set[str]] = defaultdict(set)
    datasets = store.datasets()
    grew = True
    while grew:
        grew = False
        for dataset in datasets:
            for chunk in store.read_chunks(dataset.entity, dataset.partition_key, dataset.name):
                for source_id, raw in zip(chunk.ids, chunk.load_raw(), strict=True):
                    if source_id in found[dataset] or not values.named_in(raw):
                        continue
                    found[dataset].add(source_id)
                    values.add(source_id)
                    grew = True
                    if dataset.entity == CUSTOMERS.source.name:
                        person.customer_ids.add(source_id)
                        if email := json.loads(raw).get("email"):
                            person.emails.add(email.strip().lower())
                            values.add(email)
    return {dataset: ids for dataset, ids in found.items() if ids}


def _kept_rows(ledger: Ledger, staged: dict[Dataset, set[str]]) -> list[LedgerEntry]:
    """The ledger rows of the person's records other than customers (orders, financial transactions)."""
    ids_by_source: dict[str, set[str]] = defaultdict(set)
    for dataset, ids in staged.items():
        ids_by_source[dataset.entity] |= ids
    return [
        entry
        for entity in ENTITIES
        if entity.source.name != CUSTOMERS.source.name and entity.source.name in ids_by_source
        for target in entity.targets
        for entry in ledger.entries(target.entity_type, source_ids=sorted(ids_by_source[entity.source.name]))
    ]
