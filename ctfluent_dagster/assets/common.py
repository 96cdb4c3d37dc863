"""What the synced assets of every entity share: run scope config, report metadata, the failures check."""

import hashlib
import os
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from dagster import (
    AssetCheckSeverity,
    Config,
    MetadataValue,
    RunConfig,
    TableColumn,
    TableRecord,
    TableSchema,
)
from pydantic import Field

from ctfluent_dagster.ledger.store import Ledger
from ctfluent_dagster.privacy import redact
from ctfluent_dagster.records import LedgerEntry, RunScope
from ctfluent_dagster.staging import FULL
from ctfluent_dagster.sync.engine import ProblemRow, SyncReport

FAILURE_TABLE_ROWS = 200  # the ledger keeps them all; the UI shows the most recent


class AssetJob(Protocol):
    """A job of assets, as ``define_asset_job`` returns it: its class is not public Dagster API, so the glue types
    it by what it uses of it (``Definitions`` and ``@sensor`` take it as it is)."""

    @property
    def name(self) -> str: ...


def as_dagster_jobs(jobs: Sequence[AssetJob]) -> Any:
    """``jobs`` for a Dagster parameter typed with that class (``Definitions(jobs=)``, ``@sensor(jobs=)``)."""
    return list(jobs)


class SyncScope(Config):
    """Which records a run covers (every asset of the run gets the same scope).

    Default: every record whose current partition field (``lastModifiedAt``; orders ``createdAt``; a Fluent record's
    ``updatedOn``) falls in the partition (a backfill or a full re-sync); an unpartitioned entity read from Fluent
    then writes nothing but its due retries.
    The other scopes re-read records by key (commercetools id, Fluent ref), in one partition:

    * ``ids``: those records (a delta run from a sensor, or a targeted re-sync);
    * ``redrive``: the entity's failed records (or, with ``ids``, those) from any partition;
    * ``deleted_ids``: records deleted in commercetools, deactivated in Fluent without a re-read;
    * ``reconcile_deletions``: every record the ledger knows and commercetools no longer has, deactivated;
    * ``webhook_events``: the records the Fluent webhook events recorded and not handled yet name (read from Fluent,
      never taken from the event).

    Records asked for by key that the source no longer returns (deleted, unpublished) are deactivated too.
    """

    ids: list[str] = Field(default_factory=list, description="the source's keys to re-read (commercetools ids, "
                           "Fluent refs); empty = whole partition")  # fmt: skip
    redrive: bool = Field(default=False, description="re-read and push the entity's failed records (or `ids`)")
    deleted_ids: list[str] = Field(default_factory=list, description="commercetools ids deleted there")
    reconcile_deletions: bool = Field(default=False, description="deactivate what commercetools no longer has")
    webhook_events: bool = Field(default=False, description="take the Fluent webhook events recorded and not "
                                 "handled yet")  # fmt: skip
    trigger: str = Field(default="", description="why the run was requested (set by sensors and schedules)")
    dry_run: bool = Field(default=False, description="map and compare with the ledger and Fluent, write nothing, "
                          "and report what would be created, updated, skipped or left waiting")  # fmt: skip

    @classmethod
    def of(cls, scope: RunScope) -> "SyncScope":
        return cls(ids=list(scope.ids), deleted_ids=list(scope.deleted_ids), redrive=scope.redrive,
                   reconcile_deletions=scope.reconcile_deletions, webhook_events=scope.webhook_events,
                   trigger=scope.trigger)  # fmt: skip

    @property
    def mode(self) -> str:
        if self.redrive:
            return "redrive"
        if self.deleted_ids:
            return "delete"
        if self.reconcile_deletions:
            return "reconcile-deletions"
        if self.webhook_events:
            return "webhook"
        return "delta" if self.ids else "full"

    def dataset_name(self, root_run_id: str) -> str:
        """Named by the ids (or, when the run finds them itself, by the root run) and not by the run, so that
        re-executing a failed step finds what its upstream staged."""
        if self.mode == "full":
            return FULL
        chosen = self.ids or self.deleted_ids
        basis = "\n".join(sorted(set(chosen))) if chosen else root_run_id
        return f"delta-{self.mode}-" + hashlib.sha256(basis.encode()).hexdigest()[:16]

    def check_partitions(self, partition_keys: Sequence[str]) -> None:
        if self.mode != "full" and len(partition_keys) != 1:
            raise ValueError(f"a {self.mode} run covers one partition, not {len(partition_keys)}")


def run_config(op_names: Sequence[str], scope: RunScope) -> RunConfig:
    """The config of a run of an entity's job: the same scope for each of its assets' ops."""
    config = SyncScope.of(scope)
    return RunConfig(ops=dict.fromkeys(op_names, config))


_PROBLEM_SCHEMA = TableSchema(
    columns=[
        TableColumn("commercetools_id", "string"),
        TableColumn("version", "int"),
        TableColumn("target", "string", description="Fluent retailer (or catalogue)"),
        TableColumn("record", "string", description="masked pointer to the record, e.g. its masked email"),
        TableColumn("code", "string", description="Fluent/commercetools error code, or SKIPPED"),
        TableColumn("message", "string"),
        TableColumn("partition", "string"),
        TableColumn("run_id", "string"),
    ]
)


def _table(rows: Sequence[dict[str, Any]]) -> MetadataValue:
    return MetadataValue.table(records=[TableRecord(row) for row in rows], schema=_PROBLEM_SCHEMA)


def problem_table(rows: Sequence[ProblemRow], run_id: str) -> MetadataValue:
    return _table(
        [
            {
                "commercetools_id": r.source_id,
                "version": r.version,
                "target": r.target_key,
                "record": r.label,
                "code": r.code,
                "message": r.message,
                "partition": r.partition_key or "",
                "run_id": run_id,
            }
            for r in rows
        ]
    )


COUNTED = ("created", "updated", "unchanged", "linked", "superseded", "skipped", "waiting", "failed", "deactivated",
           "gone")  # fmt: skip
_PER_PARTITION_SCHEMA = TableSchema(
    columns=[TableColumn("partition", "string"), *(TableColumn(name, "int") for name in COUNTED)]
)


def report_metadata(report: SyncReport, *, mode: str, run_id: str, partitions: Sequence[str]) -> dict[str, Any]:
    """Materialization metadata of a Fluent asset: counts, failures and skips, throughput. Dagster attaches one
    metadata set to every partition of a run: over several partitions the counts are the run's, said so, and each
    partition's own counts are in ``per_partition``."""
    counts = report.counts
    scope: dict[str, Any] = {}
    if len(partitions) > 1:
        scope = {
            "figures": MetadataValue.text(
                f"the counts are this run's, over {len(partitions)} partitions; each "
                "partition's own are in per_partition"
            ),
            "per_partition": MetadataValue.table(
                records=[
                    TableRecord({"partition": key, **{n: report.by_partition[key].get(n, 0) for n in COUNTED}})
                    for key in partitions
                ],
                schema=_PER_PARTITION_SCHEMA,
            ),
        }
    return {
        "mode": mode,
        "partitions": MetadataValue.text(", ".join(partitions) if len(partitions) <= 3 else
                                         f"{partitions[0]} .. {partitions[-1]} ({len(partitions)})"),
        **scope,
        "records_read": report.records_read,
        **{name: counts.get(name, 0) for name in (*COUNTED, "noted", "retried")},
        **{name: counts[name] for name in ("would_create", "would_update", "would_deactivate") if name in counts},
        # Referenced records synced on demand in this run (an order's registered customer), by entity type.
        **{name: counts[name] for name in sorted(counts) if name.endswith("_on_demand")},
        "records_per_second": MetadataValue.float(round(report.records_per_second, 1)),
        "seconds": MetadataValue.float(round(report.seconds, 2)),
        "failures": problem_table(report.failures, run_id),
        "skips": problem_table(report.skips, run_id),
        "waiting_records": problem_table(report.waiting, run_id),
        "notes": problem_table(report.notes, run_id),
        **({"planned": problem_table(report.planned, run_id)} if report.planned else {}),
    }  # fmt: skip


def run_url(run_id: str) -> str:
    """A link to a run in the Dagster UI (``DAGSTER_WEBSERVER_URL`` when set, else relative to the UI)."""
    return f"{os.environ.get('DAGSTER_WEBSERVER_URL', '').rstrip('/')}/runs/{run_id}"


_FAILURE_SCHEMA = TableSchema(
    columns=[
        *_PROBLEM_SCHEMA.columns,
        TableColumn("target_name", "string", description="the retailer's name, when the target is a retailer"),
        TableColumn("fluent_ref", "string", description="the Fluent record, when it has one (emails masked)"),
        TableColumn("attempts", "int", description="failed attempts in a row"),
        TableColumn("first_failed", "string", description="earliest failed attempt in the history (UTC)"),
        TableColumn("last_failed", "string", description="UTC"),
        TableColumn("run", "string", description="link to the run of the last failure"),
    ]
)


def outstanding_failures(
    ledger: Ledger,
    entity_type: str,
    redrive_job: str,
    target_names: Callable[[list[str]], dict[str, str]] | None = None,
) -> tuple[bool, AssetCheckSeverity, dict[str, Any]]:
    """The failures check, from the ledger: red while any record is failed, whichever partition it came from.
    Waiting records are listed beside the failures: they are pushed on their own once what they wait for has
    synced, so they do not fail the check."""
    failed = ledger.entries(entity_type, status="failed", limit=FAILURE_TABLE_ROWS)
    waiting = ledger.entries(entity_type, status="waiting", limit=FAILURE_TABLE_ROWS)
    counts = ledger.status_counts(entity_type)
    history = ledger.failure_history(entity_type, [entry.key for entry in failed])
    names = target_names(sorted({entry.key.target_key for entry in failed})) if target_names and failed else {}
    rows = [
        {**_ledger_row(entry), "attempts": entry.attempts, "target_name": names.get(entry.key.target_key, ""),
         # the ref in Fluent, else the one its failed pushes were writing
         "fluent_ref": redact(entry.fluent_ref) if entry.fluent_ref else (past.fluent_ref if past else "") or "",
         "first_failed": f"{past.first_failed:%Y-%m-%d %H:%M:%S}" if past else "",
         "last_failed": f"{entry.updated_at:%Y-%m-%d %H:%M:%S}", "run": run_url(entry.run_id) if entry.run_id else ""}
        for entry in failed
        for past in [history.get(entry.key)]
    ]  # fmt: skip
    oldest = min((history[e.key].first_failed for e in failed if e.key in history), default=None)
    latest = max(failed, key=lambda e: e.updated_at, default=None)
    metadata: dict[str, Any] = {
        **{name: counts.get(name, 0) for name in ("failed", "waiting", "synced", "skipped", "deleted", "inactive")},
        "outstanding_failures": MetadataValue.table(records=[TableRecord(row) for row in rows], schema=_FAILURE_SCHEMA),
        "oldest_unresolved_failure": MetadataValue.text(f"{oldest:%Y-%m-%d %H:%M:%S} UTC" if oldest else "none"),
        **({"latest_failed_run": MetadataValue.url(run_url(latest.run_id))} if latest and latest.run_id else {}),
        "waiting_records": _table([_ledger_row(entry) for entry in waiting]),
        "redrive": MetadataValue.md(
            f"Re-drive from **Jobs > {redrive_job} > Launchpad**: pick any partition (e.g. today's); empty `ids` "
            "re-drives every failed record, whichever partition it came from."
        ),
    }
    return counts.get("failed", 0) == 0, AssetCheckSeverity.ERROR, metadata


def _ledger_row(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "commercetools_id": entry.key.source_id,
        "version": entry.source_version or 0,
        "target": entry.key.target_key,
        "record": entry.label or "",
        "code": entry.error_code or "",
        "message": entry.error_message or "",
        "partition": entry.partition_key or "",
        "run_id": entry.run_id or "",
    }
