"""Orders and payments under injected Fluent faults (about one request in ten: 429, 503, connections dropped before
and after the write), with a run killed mid-push and re-run at once: every order is in Fluent exactly once, with
the right customer (guests by email) and totals to the cent; every successful transaction is a financial
transaction exactly once; no other transaction is sent."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance

from tests.harness import Sandbox
from tests.support import leased_records, materialize_in_this_process, serve_sandbox
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


def test_faults_and_a_killed_run_end_with_every_order_and_transaction_exactly_once(
    orders: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sync(orders, [*CATALOGUE, *CUSTOMERS]).success  # what orders reference, without faults
    monkeypatch.setenv("CTFLUENT_FLUENT_BATCH_SIZE", "1")  # slow enough to be killed mid-push
    orders.fluent_admin.add_fault(match="POST /graphql", latency_ms=15)
    for rule in FAULTS:
        orders.fluent_admin.add_fault(**rule)
    first, last = all_days(orders)
    child_env = {**orders.env, "CTFLUENT_STAGING_DIR": os.environ["CTFLUENT_STAGING_DIR"],
                 "CTFLUENT_FLUENT_BATCH_SIZE": "1", "CTFLUENT_LEDGER_URL": orders.ledger_url,
                 "CTFLUENT_PRODUCTS__MISSING_GTIN": "sku"}  # fmt: skip
    paths = ["/".join(key.path) for a in ORDER_ASSETS for key in a.keys]
    child = multiprocessing.get_context("spawn").Process(target=materialize_in_this_process,
                                                         args=(child_env, paths, first, last))  # fmt: skip
    child.start()
    deadline = time.monotonic() + 120
    while leased_records(orders.ledger_url, "order") < 10:  # kill it while it pushes orders
        assert child.is_alive() and time.monotonic() < deadline, "the first run ended before it could be killed"
        time.sleep(0.05)
    os.kill(child.pid or 0, signal.SIGKILL)
    child.join()

    instance = DagsterInstance.ephemeral()
    result = sync(orders, ORDER_ASSETS, instance=instance)  # at once: the dead run's leases are taken over
    assert result.success
    messages = [e.message for e in instance.all_logs(result.run_id) if e.message]
    assert any("took over" in m and "no longer running" in m for m in messages)

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
