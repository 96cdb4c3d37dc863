"""What the synced assets of every entity share: run scope config, report metadata, the failures check."""

import hashlib
from collections.abc import Sequence
from typing import Any

from dagster import (
    AssetCheckSeverity,
    Config,
    MetadataValue,
    TableColumn,
    TableRecord,
    TableSchema,
)
from pydantic import Field

from ctfluent_dagster.ledger.store import Ledger, LedgerEntry
from ctfluent_dagster.staging import FULL
from ctfluent_dagster.sync.engine import ProblemRow, SyncReport

FAILURE_TABLE_ROWS = 200  # the ledger keeps them all; the UI shows the most recent


class SyncScope(Config):
    """Which records of the partition a run covers.

    Empty ``ids``: every record whose current ``lastModifiedAt`` falls in the partition (a backfill or a full
    re-sync). With ``ids``: only those records, re-read from commercetools by id (a delta run from the messages
    sensor, or a targeted re-sync); then exactly one partition may be selected.
    """

    ids: list[str] = Field(default_factory=list, description="commercetools ids to re-read; empty = whole partition")
    trigger: str = Field(default="", description="why the run was requested (set by sensors and schedules)")

    @property
    def mode(self) -> str:
        return "delta" if self.ids else "full"

    def dataset_name(self) -> str:
        """Named by the ids (not the run) so that re-executing a failed step finds what its upstream staged."""
        if not self.ids:
            return FULL
        return "delta-" + hashlib.sha256("\n".join(sorted(set(self.ids))).encode()).hexdigest()[:16]

    def check_partitions(self, partition_keys: Sequence[str]) -> None:
        if self.ids and len(partition_keys) != 1:
            raise ValueError(f"a run with ids covers one partition, not {len(partition_keys)}")


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


def report_metadata(report: SyncReport, *, mode: str, run_id: str, partitions: Sequence[str]) -> dict[str, Any]:
    """Materialization metadata of a Fluent asset: counts, failures and skips, throughput."""
    counts = report.counts
    return {
        "mode": mode,
        "partitions": MetadataValue.text(", ".join(partitions) if len(partitions) <= 3 else
                                         f"{partitions[0]} .. {partitions[-1]} ({len(partitions)})"),
        "records_read": report.records_read,
        **{name: counts.get(name, 0) for name in
           ("created", "updated", "unchanged", "linked", "superseded", "skipped", "failed")},
        "records_per_second": MetadataValue.float(round(report.records_per_second, 1)),
        "seconds": MetadataValue.float(round(report.seconds, 2)),
        "failures": problem_table(report.failures, run_id),
        "skips": problem_table(report.skips, run_id),
    }  # fmt: skip


def outstanding_failures(
    ledger: Ledger, entity_type: str, redrive_job: str
) -> tuple[bool, AssetCheckSeverity, dict[str, Any]]:
    """The failures check, from the ledger: red while any record is failed, whichever partition it came from."""
    failed = ledger.entries(entity_type, status="failed", limit=FAILURE_TABLE_ROWS)
    counts = ledger.status_counts(entity_type)
    metadata: dict[str, Any] = {
        "failed": counts.get("failed", 0),
        "synced": counts.get("synced", 0),
        "skipped": counts.get("skipped", 0),
        "outstanding_failures": _table([_ledger_row(entry) for entry in failed]),
        "redrive": MetadataValue.md(f"Re-drive from **Jobs > {redrive_job}** (empty `ids` = every failed record)."),
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
