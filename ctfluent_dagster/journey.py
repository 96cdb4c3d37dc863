"""A record's journey: everything the project knows about one record, found by a commercetools id, a Fluent ref,
an email, an order number or a SKU.

The ledger names the records: its attempt history (:meth:`Ledger.attempts`: ids, refs, email digests, order
numbers) and its current state (``Ledger.records_named``: ids, refs and labels, for a record that never reached
Fluent or whose history was pruned). Their current state comes from the ledger too (status, Fluent ref and id, what
they wait for), and the commercetools messages of their resources from an injected reader
(:func:`commercetools_messages`). The report (:func:`render_markdown` for Dagster metadata,
:func:`render_text` for ``ctfluent-journey``) holds no personal data in clear: emails and usernames are masked
(:mod:`ctfluent_dagster.privacy`), error texts redacted, and a message shows its type, time and sequence number,
never its payload (a token message only its type).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from ctfluent_dagster.commercetools.client import CommercetoolsClient
from ctfluent_dagster.commercetools.predicates import quote
from ctfluent_dagster.ledger.store import Attempt, Ledger
from ctfluent_dagster.messages.routing import NEVER_ROUTED
from ctfluent_dagster.privacy import mask_text_value, redact
from ctfluent_dagster.records import LedgerEntry

# Reads the commercetools messages of one resource (by its id), newest first, as the API returns them.
MessagesReader = Callable[[str], list[dict[str, Any]]]
RunUrl = Callable[[str], str]

DEFAULT_MESSAGES_LIMIT = 20
# Entity types whose ledger records are not keyed by a commercetools id: the order status back-sync keys its
# records by the Fluent order ref (the order's own messages are shown with the order).
NOT_COMMERCETOOLS_IDS = frozenset({"order_status"})
SEARCHED_AS = "commercetools id, Fluent ref, order number, SKU or email (by its digest)"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SHORT_RUN_ID = 8


def mask(value: str | None) -> str:
    """A value fit to show: emails (also inside a username such as ``1_jane@example.com``) masked."""
    if not value:
        return ""
    masked = redact(value)
    if "@" in value and masked == value and "***" not in value:  # an address the pattern does not take: hide it
        return mask_text_value(value)
    return masked


def _optional_mask(value: str | None) -> str | None:
    return mask(value) if value else value


def is_token_message(message_type: str) -> bool:
    """Messages that carry a password-reset or email-verification token: shown by their type only."""
    return message_type in NEVER_ROUTED or "Token" in message_type


@dataclass(frozen=True)
class SeenMessage:
    """A commercetools message of a record's resource: what it was and when, never its payload."""

    type: str
    created_at: datetime | None = None
    sequence_number: int | None = None
    resource_version: int | None = None

    @classmethod
    def from_api(cls, message: dict[str, Any]) -> SeenMessage:
        message_type = str(message.get("type") or "?")
        if is_token_message(message_type):
            return cls(message_type)
        created = message.get("createdAt")
        try:
            created_at = datetime.fromisoformat(str(created)) if created else None
        except ValueError:
            created_at = None
        sequence, version = message.get("sequenceNumber"), message.get("resourceVersion")
        return cls(message_type, created_at, sequence if isinstance(sequence, int) else None,
                   version if isinstance(version, int) else None)  # fmt: skip


@dataclass(frozen=True)
class TargetState:
    """One Fluent record of a commercetools record, as the ledger holds it now."""

    target_key: str
    status: str
    fluent_ref: str | None  # masked
    fluent_id: str | None
    waiting_for: tuple[str, ...]
    error_code: str | None
    error_message: str | None  # redacted
    failed_attempts: int  # failures in a row
    run_id: str | None
    updated_at: datetime
    attempted_ref: str | None = None  # masked: the ref its pushes were writing, while Fluent has none

    @classmethod
    def from_entry(cls, entry: LedgerEntry, attempts: Sequence[Attempt] = ()) -> TargetState:
        """``attempts``: the record's, newest first (the ref a failed create was writing comes from them)."""
        attempted = next((a.fluent_ref for a in attempts if a.target_key == entry.key.target_key and a.fluent_ref),
                         None)  # fmt: skip
        return cls(entry.key.target_key, entry.status, _optional_mask(entry.fluent_ref), entry.fluent_id,
                   tuple(mask(d.describe()) for d in entry.waiting_for), entry.error_code,
                   _optional_mask(entry.error_message), entry.attempts, entry.run_id, entry.updated_at,
                   None if entry.fluent_ref else _optional_mask(attempted))  # fmt: skip


def masked_attempt(attempt: Attempt) -> Attempt:
    """An attempt as a journey shows it: its ref and message masked once more (the history keeps them masked)."""
    return replace(attempt, fluent_ref=_optional_mask(attempt.fluent_ref),
                   error_message=_optional_mask(attempt.error_message))  # fmt: skip


@dataclass(frozen=True)
class RunVisit:
    """A run that touched a record (or the journey's records): when, how often, with what outcomes."""

    run_id: str | None
    first_at: datetime
    last_at: datetime
    attempts: int
    outcomes: tuple[tuple[str, int], ...]  # outcome, count; most frequent first
    partitions: tuple[str, ...]

    def describe_outcomes(self) -> str:
        return ", ".join(f"{outcome} ({count})" if count > 1 else outcome for outcome, count in self.outcomes)


def runs_of(attempts: Sequence[Attempt]) -> tuple[RunVisit, ...]:
    """The distinct runs of these attempts, the latest first."""
    by_run: dict[str | None, list[Attempt]] = defaultdict(list)
    for attempt in attempts:
        by_run[attempt.run_id].append(attempt)
    visits = [
        RunVisit(run_id, min(a.at for a in seen), max(a.at for a in seen), len(seen),
                 tuple(Counter(a.outcome for a in seen).most_common()),
                 tuple(sorted({a.partition_key for a in seen if a.partition_key})))
        for run_id, seen in by_run.items()
    ]  # fmt: skip
    return tuple(sorted(visits, key=lambda v: v.last_at, reverse=True))


@dataclass(frozen=True)
class RecordJourney:
    """One commercetools record (an entity type and a commercetools id) and its Fluent records."""

    entity_type: str
    source_id: str
    label: str | None  # masked
    targets: tuple[TargetState, ...]  # now; empty when the ledger no longer holds the record
    attempts: tuple[Attempt, ...]  # newest first
    messages: tuple[SeenMessage, ...] | None = None  # newest first; None: not read
    runs: tuple[RunVisit, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "runs", runs_of(self.attempts))

    @property
    def status(self) -> str:
        statuses = sorted({t.status for t in self.targets})
        return ", ".join(statuses) if statuses else "no longer in the ledger"

    @property
    def title(self) -> str:
        return f"{self.entity_type} {self.label or self.source_id}"


@dataclass(frozen=True)
class Journey:
    """What :func:`find_journey` found: the records, oldest first, with no personal data in clear."""

    identifier: str  # as searched, masked
    records: tuple[RecordJourney, ...]
    messages_note: str | None = None  # why messages are missing (not read, or could not be read)
    truncated: bool = False  # the attempt limit was reached: older attempts are not shown
    limit: int = 500
    # commercetools messages of the identifier itself, when the ledger holds nothing for it (a commercetools id of
    # a record never synced)
    unsynced_messages: tuple[SeenMessage, ...] = ()
    messages_read: bool = False  # commercetools messages were read (for every record)
    found_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def found(self) -> bool:
        return bool(self.records or self.unsynced_messages)

    @property
    def attempts(self) -> tuple[Attempt, ...]:
        return tuple(sorted((a for r in self.records for a in r.attempts), key=lambda a: a.at, reverse=True))

    @property
    def runs(self) -> tuple[RunVisit, ...]:
        return runs_of(self.attempts)

    def summary(self) -> str:
        """One line, no personal data."""
        if not self.found:
            return f"nothing found for {self.identifier}"
        kinds = Counter(r.entity_type for r in self.records)
        described = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
        return (f"{self.identifier}: {len(self.records)} record(s) ({described or 'none in the ledger'}), "
                f"{len(self.attempts)} attempt(s), {len(self.runs)} run(s)")  # fmt: skip


def commercetools_messages(client: CommercetoolsClient, limit: int = DEFAULT_MESSAGES_LIMIT) -> MessagesReader:
    """A reader of the newest ``limit`` messages of a resource (needs the ``view_messages`` scope)."""

    def read(resource_id: str) -> list[dict[str, Any]]:
        page = client.query("messages", where=f"resource(id = {quote(resource_id)})",
                            sort=["createdAt desc", "id desc"], limit=limit)  # fmt: skip
        return list(page.results)

    return read


def find_journey(
    ledger: Ledger,
    identifier: str,
    messages: MessagesReader | None = None,
    *,
    limit: int = 500,
    messages_note: str | None = None,
) -> Journey:
    """Everything the ledger (and, with ``messages``, commercetools) knows of the records ``identifier`` names.

    ``messages_note`` says why messages are not read when ``messages`` is None. A failing reader does not fail the
    journey: the report says messages could not be read, and why.
    """
    wanted = identifier.strip()
    attempts = ledger.attempts(wanted, limit=limit) if wanted else []
    truncated = len(attempts) >= limit
    grouped: dict[tuple[str, str], list[Attempt]] = defaultdict(list)
    for attempt in attempts:
        grouped[(attempt.entity_type, attempt.source_id)].append(attempt)
    # Records the history alone does not name: one that never reached Fluent has no Fluent ref in its attempts
    # (a failed order is found by its number, a waiting variant by its SKU, through the label), and one whose
    # attempts were pruned still has its current state.
    for entity_type, source_id in ledger.records_named(wanted) - grouped.keys():
        more = [a for a in ledger.attempts(source_id, limit=limit) if a.entity_type == entity_type]
        truncated = truncated or len(more) >= limit
        grouped[(entity_type, source_id)] = [a for a in more if a.source_id == source_id]
    ids_by_type: dict[str, list[str]] = defaultdict(list)
    for entity_type, source_id in grouped:
        ids_by_type[entity_type].append(source_id)
    entries: dict[tuple[str, str], list[LedgerEntry]] = defaultdict(list)
    for entity_type, source_ids in ids_by_type.items():
        for entry in ledger.entries(entity_type, source_ids=source_ids):
            entries[(entity_type, entry.key.source_id)].append(entry)

    def since(key: tuple[str, str]) -> datetime:
        moments = [a.at for a in grouped[key]] + [e.updated_at for e in entries.get(key, [])]
        return min(moments, default=datetime.now(UTC))

    note = messages_note if messages is None else None
    cache: dict[str, tuple[SeenMessage, ...] | None] = {}

    def read(resource_id: str) -> tuple[SeenMessage, ...] | None:
        nonlocal note
        if messages is None or note is not None:
            return None
        if resource_id not in cache:
            try:
                cache[resource_id] = tuple(SeenMessage.from_api(m) for m in messages(resource_id))
            except Exception as exc:  # the journey still reports what the ledger knows
                note = f"commercetools messages could not be read: {type(exc).__name__}: {mask(str(exc))}"
                return None
        return cache[resource_id]

    records = []
    # Oldest first: a customer before its orders, an order before its transactions.
    for (entity_type, source_id), seen in sorted(grouped.items(), key=lambda item: since(item[0])):
        targets = sorted(entries.get((entity_type, source_id), []), key=lambda e: e.key.target_key)
        labels = [e.label for e in targets if e.label] + [a.label for a in seen if a.label]
        # The Fluent record searched for first (a variant product has a label, its SKU, per variant).
        labels.sort(key=lambda label: label.strip().lower() not in {wanted.lower(), mask(wanted).lower()})
        records.append(
            RecordJourney(
                entity_type=entity_type,
                source_id=source_id,
                label=mask(labels[0]) if labels else None,
                targets=tuple(TargetState.from_entry(e, seen) for e in targets),
                attempts=tuple(masked_attempt(a) for a in seen),
                messages=None if entity_type in NOT_COMMERCETOOLS_IDS else read(source_id),
            )
        )
    unsynced: tuple[SeenMessage, ...] = ()
    if not records and _UUID.match(wanted):
        unsynced = read(wanted) or ()
    return Journey(mask(wanted), tuple(records), note, truncated, limit, unsynced,
                   messages_read=messages is not None and note is None)  # fmt: skip


# -- rendering -------------------------------------------------------------------------------------------------------

Row = tuple[str, ...]
RunCell = Callable[[str | None], str]  # how a run id is shown in a table: a Markdown link, a short id


def _time(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def short_run_id(run_id: str | None) -> str:
    return run_id[:_SHORT_RUN_ID] if run_id else "-"


def _text(value: object) -> str:
    return "" if value is None else " ".join(str(value).split())


def _nothing_found(journey: Journey) -> str:
    text = (
        f"Nothing found for {journey.identifier}: the ledger holds no attempt of a record with this {SEARCHED_AS} "
        "(attempts older than the history retention are pruned)"
    )
    if journey.messages_read and _UUID.match(journey.identifier):
        text += ", and commercetools has no message of a resource with this id"
    return text + "."


def _headline(journey: Journey) -> str:
    return (
        f"Searched the records with this {SEARCHED_AS} at {_time(journey.found_at)} UTC: "
        f"{len(journey.records)} record(s), "
        f"{len(journey.attempts)} attempt(s), {len(journey.runs)} run(s)."
    )


def _notes(journey: Journey) -> list[str]:
    notes = [f"Only the newest {journey.limit} attempts are shown."] if journey.truncated else []
    return notes + ([journey.messages_note] if journey.messages_note else [])


def _problem(target: TargetState) -> str:
    """The code and the message, the code once (a Fluent message often starts with it)."""
    code, message = target.error_code or "", _text(target.error_message)
    return message if code and message.startswith(code) else _text(f"{code} {message}")


def _target_lines(target: TargetState, several: bool, run_cell: RunCell, code: Callable[[str], str]) -> list[str]:
    """What the ledger holds now for one Fluent record: the line, then its details (error, waits)."""
    where = f" ({code(target.target_key)})" if target.target_key and several else ""
    fluent = (f"ref {code(target.fluent_ref)}" if target.fluent_ref
              else f"not in Fluent yet (its pushes wrote ref {code(target.attempted_ref)})" if target.attempted_ref
              else "no Fluent ref yet")  # fmt: skip
    if target.fluent_id:
        fluent += f", id {code(target.fluent_id)}"
    line = f"Fluent{where}: {fluent}; {target.status} since {_time(target.updated_at)} UTC"
    if target.run_id:
        line += f" (run {run_cell(target.run_id)})"
    details = []
    if (target.error_code or target.error_message) and not (target.status == "waiting" and target.waiting_for):
        failures = f" after {target.failed_attempts} failed attempt(s)" if target.failed_attempts else ""
        details.append(f"{'error' if target.status == 'failed' else 'reason'}{failures}: {_problem(target)}")
    if target.waiting_for:
        details.append(f"waits for: {_text(', '.join(target.waiting_for))}")
    return [line, *details]


def _run_rows(record: RecordJourney, run_cell: RunCell) -> list[Row]:
    rows: list[Row] = [("Run", "First (UTC)", "Last (UTC)", "Attempts", "Outcomes", "Partitions")]
    rows += [
        (run_cell(v.run_id), _time(v.first_at), _time(v.last_at), str(v.attempts), v.describe_outcomes(),
         ", ".join(v.partitions))
        for v in record.runs
    ]  # fmt: skip
    return rows


def _attempt_rows(record: RecordJourney, run_cell: RunCell) -> list[Row]:
    several = len({a.target_key for a in record.attempts}) > 1  # the Fluent record of each attempt, when it varies
    rows: list[Row] = [("Time (UTC)", "Run", *(("Target",) if several else ()), "Partition", "Version", "Operation",
                        "Outcome", "Code", "Message")]  # fmt: skip
    rows += [
        (_time(a.at), run_cell(a.run_id), *((a.target_key,) if several else ()), a.partition_key or "",
         _text(a.source_version), a.operation, a.outcome, a.error_code or "", _text(a.error_message))
        for a in record.attempts
    ]  # fmt: skip
    return rows


def _message_rows(messages: Sequence[SeenMessage]) -> list[Row]:
    rows: list[Row] = [("Created (UTC)", "Type", "Sequence", "Resource version")]
    rows += [(_time(m.created_at), m.type, _text(m.sequence_number), _text(m.resource_version)) for m in messages]
    return rows


MESSAGES_HEADING = "commercetools messages (newest first; never their content)"
NO_MESSAGES = "none (none recorded, or older than the project's message retention)"


def _markdown_table(rows: Sequence[Row]) -> list[str]:
    def cell(value: str) -> str:
        return _text(value).replace("|", "\\|")

    header, *body = rows
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in body]


def _code(value: str) -> str:
    return "`" + _text(value).replace("`", "'") + "`"


def render_markdown(journey: Journey, run_url: RunUrl) -> str:
    """The report as Markdown (Dagster metadata): a section per record; run ids link to ``run_url(run_id)``."""

    def run_cell(run_id: str | None) -> str:
        return f"[{short_run_id(run_id)}]({run_url(run_id)})" if run_id else "-"

    lines = [f"# Journey of {_code(journey.identifier)}", ""]
    if not journey.found:
        lines.append(_nothing_found(journey))
        lines += [line for note in _notes(journey) for line in ("", f"_{note}_")]
        return "\n".join(lines) + "\n"
    lines.append(_headline(journey))
    lines += [line for note in _notes(journey) for line in ("", f"_{note}_")]
    if journey.unsynced_messages:
        lines += ["", f"The ledger holds nothing for {_code(journey.identifier)}: it was never synced.", ""]
        lines += [f"### {MESSAGES_HEADING}", "", *_markdown_table(_message_rows(journey.unsynced_messages))]
    for record in journey.records:
        lines += ["", f"## {_text(record.title)}: {record.status}", ""]
        lines.append(f"- commercetools id: {_code(record.source_id)}")
        for target in record.targets:
            first, *details = _target_lines(target, len(record.targets) > 1, run_cell, _code)
            lines += [f"- {first}", *(f"  - {detail}" for detail in details)]
        lines += ["", "### Runs", "", *_markdown_table(_run_rows(record, run_cell))]
        lines += ["", "### Attempts (newest first)", "", *_markdown_table(_attempt_rows(record, run_cell))]
        if record.messages is not None:
            lines += ["", f"### {MESSAGES_HEADING}", ""]
            lines += _markdown_table(_message_rows(record.messages)) if record.messages else [NO_MESSAGES.capitalize()]
    return "\n".join(lines) + "\n"


def _columns(rows: Sequence[Row], indent: str = "    ") -> list[str]:
    """Rows as aligned plain-text columns (the first row is the header)."""
    cells = [[_text(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return [indent + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]


def render_text(journey: Journey, run_url: RunUrl | None = None) -> str:
    """The report for a terminal (``ctfluent-journey``): with ``run_url``, each record's runs with their links."""
    lines = [f"Journey of {journey.identifier}"]
    if not journey.found:
        return "\n".join([*lines, _nothing_found(journey), *_notes(journey)]) + "\n"
    lines += [_headline(journey), *_notes(journey)]
    if journey.unsynced_messages:
        lines += [
            "",
            f"The ledger holds nothing for {journey.identifier}: it was never synced.",
            f"  {MESSAGES_HEADING}:",
        ]
        lines += _columns(_message_rows(journey.unsynced_messages))
    for record in journey.records:
        lines += ["", f"== {record.title}: {record.status}", f"  commercetools id: {record.source_id}"]
        for target in record.targets:
            first, *details = _target_lines(target, len(record.targets) > 1, short_run_id, str)
            lines += [f"  {first}", *(f"    {detail}" for detail in details)]
        runs = _run_rows(record, lambda run_id: run_id or "-")
        if run_url is not None:
            runs = [(*runs[0], "Link"), *((*row, run_url(v.run_id) if v.run_id else "") for row, v in
                                         zip(runs[1:], record.runs, strict=True))]  # fmt: skip
        lines += ["  runs:", *_columns(runs)]
        lines += ["  attempts (newest first):", *_columns(_attempt_rows(record, short_run_id))]
        if record.messages is not None:
            lines.append(f"  {MESSAGES_HEADING}:")
            lines += _columns(_message_rows(record.messages)) if record.messages else [f"    {NO_MESSAGES}"]
    return "\n".join(lines) + "\n"
