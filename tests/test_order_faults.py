"""Orders and payments under injected Fluent faults (about one request in ten: 429, 503, connections dropped before
and after the write), with a run killed mid-push and re-run at once: every order is in Fluent exactly once, with
the right customer (guests by email) and totals to the cent; every successful transaction is a financial
transaction exactly once; no other transaction is sent."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance

from tests.harness import Sandbox
from tests.support import kill_mid_push, serve_sandbox
from tests.test_catalogue_faults import FAULTS
from tests.test_order_sync import (
    CATALOGUE,
    CUSTOMERS,
    ORDER_ASSETS,
    all_days,
    assert_orders_match,
    assert_transactions_match,
    ledger,
    sync,
)


@pytest.fixture
def orders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger_url: str) -> Iterator[Sandbox]:
    monkeypatch.setenv("CTFLUENT_PRODUCTS__MISSING_GTIN", "sku")  # every product is sent: every open order can go
    with serve_sandbox(
        tmp_path, monkeypatch, ledger_url, customers=60, days=5, seed=5, products=40, orders=240
    ) as running:
        yield running


@pytest.mark.parametrize("processes", [1, 2], ids=["1-process", "2-processes"])
def test_faults_and_a_killed_run_end_with_every_order_and_transaction_exactly_once(
    orders: Sandbox, monkeypatch: pytest.MonkeyPatch, processes: int
) -> None:
    if processes > 1 and orders.ledger_url.startswith("sqlite"):
        pytest.skip("a push on a SQLite ledger runs in one process (one writer at a time); see the PostgreSQL run")
    monkeypatch.setenv("CTFLUENT_PUSH_PROCESSES", str(processes))
    assert sync(orders, [*CATALOGUE, *CUSTOMERS]).success  # what orders reference, without faults
    monkeypatch.setenv("CTFLUENT_FLUENT_BATCH_SIZE", "1")  # slow enough to be killed mid-push
    # Slow enough to be killed mid-push: with two processes, while both push (the second starts in seconds).
    orders.fluent_admin.add_fault(match="POST /graphql", latency_ms=15 * processes * processes)
    for rule in FAULTS:
        orders.fluent_admin.add_fault(**rule)
    first, last = all_days(orders)
    child_env = {**orders.env, "CTFLUENT_STAGING_DIR": os.environ["CTFLUENT_STAGING_DIR"],
                 "CTFLUENT_FLUENT_BATCH_SIZE": "1", "CTFLUENT_LEDGER_URL": orders.ledger_url,
                 "CTFLUENT_PRODUCTS__MISSING_GTIN": "sku"}  # fmt: skip
    paths = ["/".join(key.path) for a in ORDER_ASSETS for key in a.keys]
    kill_mid_push(child_env, paths, (first, last), "order", leased=10, processes=processes)  # while it pushes orders

    instance = DagsterInstance.ephemeral()
    result = sync(orders, ORDER_ASSETS, instance=instance)  # at once: the dead run's leases are taken over
    assert result.success
    messages = [e.message for e in instance.all_logs(result.run_id) if e.message]
    assert any("took over" in m and "no longer running" in m for m in messages)
    pushed = result.asset_materializations_for_node("fluent__orders")
    assert pushed and {m.metadata["push_processes"].value for m in pushed} == {processes}

    orders.fluent_admin.clear_faults()
    # What failed under the faults (retries ran out) is re-driven; then everything is in Fluent.
    store = ledger(orders)
    for entity in ("orders", "payments"):
        assert orders.run_job(f"redrive_failed_{entity}", first).success
    assert sync(orders, ORDER_ASSETS).success
    for entity_type in ("order", "financial_transaction"):
        assert store.entries(entity_type, status=["failed", "waiting", "pending"]) == []

    ct_orders = orders.ct.state()["orders"]
    skipped = store.entries("order", status="skipped")
    assert all(e.error_message and "in commercetools (orders.skip_order_states)" in e.error_message for e in skipped)
    assert assert_orders_match(orders) + len(skipped) == len(ct_orders)  # every order: in Fluent once, or finished
    assert len(orders.fluent.state()["orders"]) == len(ct_orders) - len(skipped)
    orders.fluent_by_username()  # one Fluent customer per username: none created twice
    assert assert_transactions_match(orders) > 100
