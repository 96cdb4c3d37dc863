"""What ``scripts/demo --fail-share`` shows: a share of the records fail permanently in Fluent (C0160E), the same
ones alone and in a batch, while the rest of their batches still arrive; the failures check lists them; once the
fault is cleared, the re-drive heals them all."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctfluent_sandbox.faults import key_in_share
from tests.support import check_passed, materialization_metadata, run_redrive, serve_sandbox, today

SHARE = 0.1


def test_failing_share_is_listed_then_healed_by_the_redrive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger_url: str
) -> None:
    with serve_sandbox(tmp_path, monkeypatch, ledger_url, customers=150, days=2, seed=5) as sandbox:
        sandbox.fluent_admin.add_fault(match="POST /graphql", error_code="C0160E", share=SHARE)
        first = min(sandbox.days_with_customers())
        result = sandbox.sync((first, today(sandbox)))
        metadata = materialization_metadata(result)
        created = set(sandbox.fluent_by_username())
        assert metadata["failed"] > 0 and not check_passed(result)
        assert not any(key_in_share(username, SHARE) for username in created)

        sandbox.fluent_admin.clear_faults()
        healed = run_redrive(sandbox)
        assert check_passed(healed)
        everyone = set(sandbox.fluent_by_username())
        # Exactly the picked records had failed; the others of their batches had arrived.
        assert everyone - created == {u for u in everyone if key_in_share(u, SHARE)}
        assert len(everyone - created) == metadata["failed"]
        assert len(created) > 0.8 * len(everyone)  # about 1 - SHARE, though most batches of 10 held a picked one
