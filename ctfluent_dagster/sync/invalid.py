"""A record the sync cannot read: a skip with the reasons, never the values (personal data)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ctfluent_dagster.fluent.changes import updated_on_version
from ctfluent_dagster.records import LedgerKey, PlannedSkip


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                     for e in exc.errors(include_input=False, include_url=False))  # fmt: skip


def invalid_record_skip(entity_type: str, record: Mapping[str, Any], exc: ValidationError) -> PlannedSkip:
    reason = f"invalid commercetools {entity_type}: " + _problems(exc)
    key = LedgerKey(entity_type, str(record.get("id", "")), "")
    return PlannedSkip(key, int(record.get("version") or 0), reason, label="")


def invalid_fluent_record_skip(entity_type: str, record: Mapping[str, Any], exc: ValidationError) -> PlannedSkip:
    """The same for a record read from Fluent: keyed by its ref, versioned by its ``updatedOn`` when readable."""
    try:
        version = updated_on_version(record)
    except (KeyError, TypeError, ValueError):
        version = 0
    key = LedgerKey(entity_type, str(record.get("ref", "")), "")
    return PlannedSkip(key, version, f"invalid Fluent {entity_type}: " + _problems(exc), label=key.source_id)
