"""A commercetools record the sync cannot read: a skip with the reasons, never the values (personal data)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ctfluent_dagster.records import LedgerKey, PlannedSkip


def invalid_record_skip(entity_type: str, record: Mapping[str, Any], exc: ValidationError) -> PlannedSkip:
    problems = [
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_input=False, include_url=False)
    ]
    reason = f"invalid commercetools {entity_type}: " + "; ".join(problems)
    key = LedgerKey(entity_type, str(record.get("id", "")), "")
    return PlannedSkip(key, int(record.get("version") or 0), reason, label="")
