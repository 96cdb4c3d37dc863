"""Deleted commercetools records: Fluent has no customer delete, so the Fluent customer is *marked* (an attribute,
marketing opt-in off), and the ledger records the deletion, after which later changes for that id are ignored.

Uses the same ledger claims as the sync engine, so a deletion and a late upsert of the same record never race.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from ctfluent_dagster.ledger.store import Claim, Ledger, LedgerKey, Outcome
from ctfluent_dagster.sync.engine import FluentIdentity, ProblemRow
from ctfluent_dagster.transport import ApiError

log = logging.getLogger(__name__)


class Deletable(Protocol):
    entity_type: str

    def mark_deleted(self, ref: str) -> FluentIdentity: ...


@dataclass
class DeletionReport:
    counts: Counter[str] = field(default_factory=Counter)  # marked, recorded (never in Fluent), already, failed
    failures: list[ProblemRow] = field(default_factory=list)


def mark_deleted(
    ledger: Ledger,
    entity: Deletable,
    source_ids: Iterable[str],
    *,
    run_id: str,
    partition_key: str | None = None,
    lease_seconds: float = 900.0,
    busy_poll_seconds: float = 0.5,
) -> DeletionReport:
    ids = sorted(set(source_ids))
    report = DeletionReport()
    if not ids:
        return report
    known = ledger.entries(entity.entity_type, source_ids=ids)
    claims = [Claim(e.key, e.source_version or 0) for e in known]
    claims += [Claim(LedgerKey(entity.entity_type, sid, ""), 0) for sid in set(ids) - {e.key.source_id for e in known}]
    while claims:
        result = ledger.claim(claims, owner=run_id, lease_seconds=lease_seconds)
        report.counts["already"] += len(result.superseded)  # deleted before (or a newer version: left alone)
        outcomes = []
        for claim, prior in result.claimed:
            code = message = None
            if prior.fluent_ref:
                try:
                    entity.mark_deleted(prior.fluent_ref)
                except ApiError as exc:
                    code = exc.code or (f"HTTP {exc.status}" if exc.status else type(exc).__name__)
                    message = f"marking deleted failed: {exc.message}"
            step = "failed" if code else "marked" if prior.fluent_ref else "recorded"
            report.counts[step] += 1
            if code and message:
                report.failures.append(
                    ProblemRow(claim.key.source_id, claim.version, claim.key.target_key, prior.label or "", code,
                               message, partition_key)
                )  # fmt: skip
            outcomes.append(
                Outcome(claim.key, "failed" if code else "deleted", claim.version, label=prior.label,
                        error_code=code, error_message=message, partition_key=partition_key)
            )  # fmt: skip
        ledger.record(outcomes, owner=run_id, run_id=run_id)
        claims = result.busy
        if claims:
            log.info("%d records are being synced by another run; waiting for their leases", len(claims))
            time.sleep(busy_poll_seconds)
    return report
