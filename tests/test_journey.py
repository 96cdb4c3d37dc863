"""A record's journey (``journey.py``, the ``record_journey`` job, ``ctfluent-journey``) after one full sync of the
shop with injected Fluent failures: a failed order and its transactions by order number, a customer by email (in
mixed case, never shown in clear), a variant by SKU, a record by commercetools id, and nothing found."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterEventType, DagsterInstance, Definitions, in_process_executor

from ctfluent_dagster.assets.journey import record_journey
from ctfluent_dagster.journey import (
    Journey,
    MessagesReader,
    RecordJourney,
    commercetools_messages,
    find_journey,
    render_markdown,
    render_text,
)
from ctfluent_dagster.journey_cli import main, messages_reader
from ctfluent_dagster.ledger.store import Ledger
from ctfluent_dagster.records import LedgerEntry
from tests.harness import Sandbox
from tests.support import personal_data_found, serve_sandbox
from tests.test_order_sync import EVERYTHING, sync

NEW_FIRST_NAME = "Zebedee"


@dataclass
class Synced:
    shop: Sandbox
    run_id: str  # the sync's run
    ledger: Ledger
    customer: dict[str, Any]  # changed through the API before the sync: it has a message
    failed_order: LedgerEntry  # refused by Fluent (C0141E), with transactions waiting for it

    def reader(self) -> MessagesReader:
        return commercetools_messages(self.shop.resources()["commercetools"].get_client())

    def journey(self, identifier: str, messages: bool = True) -> Journey:
        return find_journey(self.ledger, identifier, self.reader() if messages else None)

    def customers(self) -> list[dict[str, Any]]:
        return self.shop.ct_customers()


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory, module_ledger_url: str) -> Iterator[Synced]:
    """The shop (as the `shop` fixture seeds it) synced once for the whole module, Fluent refusing the first three
    orders it is sent (C0141E)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        tmp_path = tmp_path_factory.mktemp("journey")
        with serve_sandbox(
            tmp_path, monkeypatch, module_ledger_url, customers=40, days=10, seed=13, products=60, orders=120
        ) as shop:
            customer = shop.ct_customers()[0]
            shop.ct_update(customer["id"], {"action": "setFirstName", "firstName": NEW_FIRST_NAME})
            shop.fluent_admin.add_fault(match="createOrder", error_code="C0141E", times=3)
            result = sync(shop, EVERYTHING, raise_on_error=False)  # the run fails: it left failed records
            ledger = Ledger(shop.ledger_url)
            transactions = ledger.entries("financial_transaction")
            failed = [e for e in ledger.entries("order", status="failed") if e.error_code == "C0141E"]
            assert failed, "no order was refused"
            with_transactions = [
                o for o in failed if any((t.label or "").startswith(f"{o.label}:") for t in transactions)
            ]
            assert with_transactions, "no refused order has transactions"
            customer = next(c for c in shop.ct_customers() if c["id"] == customer["id"])
            yield Synced(shop, result.run_id, ledger, customer, with_transactions[0])
            ledger.engine.dispose()


def record(journey: Journey, entity_type: str, source_id: str | None = None) -> RecordJourney:
    (found,) = [r for r in journey.records if r.entity_type == entity_type and source_id in (None, r.source_id)]
    return found


def no_personal_data(text: str, synced: Synced) -> None:
    assert personal_data_found(text, synced.customers()) == []
    email = synced.customer["email"]
    for value in (email, email.lower(), email.swapcase(), f"1_{email.lower()}", NEW_FIRST_NAME):
        assert value not in text


# -- finding ---------------------------------------------------------------------------------------------------------


def test_a_failed_order_by_its_order_number_with_its_transactions(synced: Synced) -> None:
    order = synced.failed_order
    assert order.label and order.fluent_ref is None  # never reached Fluent: no Fluent ref to find it by
    journey = synced.journey(order.label)
    assert journey.found
    found = record(journey, "order", order.key.source_id)
    assert found.status == "failed" and found.label == order.label
    (attempt,) = found.attempts
    assert (attempt.outcome, attempt.error_code, attempt.run_id) == ("failed", "C0141E", synced.run_id)
    assert attempt.fluent_ref == order.label  # the ref the failed create was writing (its order number)
    assert [(v.run_id, v.attempts) for v in found.runs] == [(synced.run_id, 1)]
    assert found.messages == ()  # seeded orders have no message history

    transactions = [r for r in journey.records if r.entity_type == "financial_transaction"]
    expected = {e.key.source_id for e in synced.ledger.entries("financial_transaction")
                if (e.label or "").startswith(f"{order.label}:")}  # fmt: skip
    assert transactions and {t.source_id for t in transactions} == expected
    for transaction in transactions:  # a payment's other transactions may be skipped (pending, cancelled)
        assert any(t.status == "waiting" and t.waiting_for == (f"order {order.label}",) for t in transaction.targets)

    markdown = render_markdown(journey, lambda run_id: f"/runs/{run_id}")
    assert f"## order {order.label}: failed" in markdown
    assert f"[{synced.run_id[:8]}](/runs/{synced.run_id})" in markdown
    assert "| failed | failed | C0141E |" in markdown
    assert f"waits for: order {order.label}" in markdown
    assert f"not in Fluent yet (its pushes wrote ref `{order.label}`)" in markdown
    text = render_text(journey)
    assert f"== order {order.label}: failed" in text and "C0141E" in text and synced.run_id in text


def test_a_customer_by_email_in_mixed_case_never_shows_the_email(synced: Synced) -> None:
    customer = synced.customer
    journey = synced.journey(customer["email"].swapcase())
    found = record(journey, "customer", customer["id"])
    assert found.status == "synced"
    (target,) = found.targets
    assert target.fluent_id and target.fluent_ref and "***@" in target.fluent_ref  # the username, masked
    assert [a.operation for a in found.attempts] == ["created"]
    assert found.messages and [m.type for m in found.messages] == ["CustomerFirstNameSet"]
    assert found.messages[0].sequence_number == 1 and found.messages[0].created_at is not None

    markdown = render_markdown(journey, lambda run_id: f"/runs/{run_id}")
    text = render_text(journey, lambda run_id: f"http://ui/runs/{run_id}")
    assert "CustomerFirstNameSet" in markdown and "CustomerFirstNameSet" in text
    for report in (markdown, text, journey.summary()):
        assert journey.identifier in report  # masked: e.g. s***@E***.COM
        no_personal_data(report, synced)


def test_a_username_finds_its_customer(synced: Synced) -> None:
    username = f"1_{synced.customer['email'].lower()}"  # the customer's Fluent ref
    journey = synced.journey(username, messages=False)
    assert record(journey, "customer", synced.customer["id"]).status == "synced"
    no_personal_data(render_markdown(journey, str) + render_text(journey), synced)


def test_a_sku_finds_its_variant_product(synced: Synced) -> None:
    variant = next(e for e in synced.ledger.entries("variant_product", status="synced") if e.fluent_ref)
    sku = variant.fluent_ref or ""
    journey = synced.journey(sku)
    found = record(journey, "variant_product", variant.key.source_id)
    assert found.label == sku and found.status == "synced"
    assert any(t.fluent_ref == sku and t.fluent_id == variant.fluent_id for t in found.targets)
    assert any(a.target_key == variant.key.target_key and a.operation == "created" for a in found.attempts)
    assert f"variant_product {sku}: synced" in render_markdown(journey, str)


def test_a_commercetools_id_finds_its_record(synced: Synced) -> None:
    category = synced.ledger.entries("category", status="synced")[0]
    journey = synced.journey(category.key.source_id)
    assert [(r.entity_type, r.source_id) for r in journey.records] == [("category", category.key.source_id)]
    (target,) = journey.records[0].targets
    assert (target.fluent_ref, target.fluent_id) == (category.fluent_ref, category.fluent_id)
    assert journey.records[0].messages == ()


def test_a_record_never_synced_shows_its_messages(synced: Synced) -> None:
    created = synced.shop.storefront.create(f"fresh-{uuid.uuid4().hex[:8]}@example.com")
    journey = synced.journey(created["id"])
    assert journey.found and journey.records == ()
    assert [m.type for m in journey.unsynced_messages] == ["CustomerCreated"]
    text = render_text(journey)
    assert "it was never synced" in text and "CustomerCreated" in text and created["email"] not in text


def test_an_unknown_identifier_finds_nothing(synced: Synced, capsys: pytest.CaptureFixture[str]) -> None:
    journey = synced.journey("NO-SUCH-ORDER-42")
    assert not journey.found
    assert "Nothing found for NO-SUCH-ORDER-42" in render_text(journey)
    assert "Nothing found for NO-SUCH-ORDER-42" in render_markdown(journey, str)
    unknown_id = str(uuid.uuid4())
    assert "commercetools has no message of a resource with this id" in render_text(synced.journey(unknown_id))

    assert main(["someone@example.com", "--ledger-url", synced.shop.ledger_url, "--no-messages"]) == 1
    out = capsys.readouterr().out
    assert "Nothing found for s***@e***.com" in out and "someone@example.com" not in out
    assert "commercetools messages not read (--no-messages)" in out


def test_messages_show_no_payload_and_token_messages_only_their_type(synced: Synced) -> None:
    secret, email = "tok-4f9a0c", synced.customer["email"]
    messages = [
        {"type": "CustomerPasswordTokenCreated", "createdAt": "2024-05-01T10:00:00.000Z", "sequenceNumber": 9,
         "resourceVersion": 9, "customerId": synced.customer["id"], "value": secret, "email": email},
        {"type": "CustomerEmailChanged", "createdAt": "2024-05-01T09:00:00.000Z", "sequenceNumber": 8,
         "resourceVersion": 8, "email": email},
    ]  # fmt: skip
    journey = find_journey(synced.ledger, synced.customer["id"], lambda resource_id: messages)
    token, changed = record(journey, "customer").messages or ()
    assert (token.type, token.created_at, token.sequence_number, token.resource_version) == (
        "CustomerPasswordTokenCreated", None, None, None)  # fmt: skip
    assert (changed.type, changed.sequence_number) == ("CustomerEmailChanged", 8)
    for report in (render_markdown(journey, str), render_text(journey)):
        assert "CustomerPasswordTokenCreated" in report and secret not in report
        no_personal_data(report, synced)

    def failing(resource_id: str) -> list[dict[str, Any]]:
        raise RuntimeError(f"messages of {email} are not for you")

    journey = find_journey(synced.ledger, synced.customer["id"], failing)
    assert journey.found and record(journey, "customer").messages is None
    assert journey.messages_note and "could not be read: RuntimeError" in journey.messages_note
    no_personal_data(render_text(journey), synced)


# -- the job ---------------------------------------------------------------------------------------------------------


def run_journey_job(synced: Synced, identifier: str, instance: DagsterInstance) -> dict[str, Any]:
    defs = Definitions(jobs=[record_journey], resources=synced.shop.resources(), executor=in_process_executor)
    run_config = {"ops": {"record_journey_report": {"config": {"identifier": identifier}}}}
    result = defs.resolve_job_def("record_journey").execute_in_process(run_config=run_config, instance=instance)
    assert result.success
    (output,) = [e for e in result.all_node_events if e.event_type == DagsterEventType.STEP_OUTPUT]
    assert output.step_output_data.metadata is not None
    return {name: value.value for name, value in output.step_output_data.metadata.items()}


def test_the_job_reports_as_markdown_with_links_to_the_runs(synced: Synced) -> None:
    instance = DagsterInstance.ephemeral()
    order = synced.failed_order
    metadata = run_journey_job(synced, order.label or "", instance)
    report = metadata["report"]
    assert f"## order {order.label}: failed" in report and "C0141E" in report
    assert f"[{synced.run_id[:8]}](/runs/{synced.run_id})" in report
    assert metadata["records"] >= 2 and metadata["attempts"] >= 2 and metadata["runs"] == 1

    metadata = run_journey_job(synced, synced.customer["email"].upper(), instance)
    assert metadata["records"] >= 1 and "## customer " in metadata["report"]
    no_personal_data(metadata["report"], synced)
    logs = "\n".join(e.message or "" for run in instance.get_runs() for e in instance.all_logs(run.run_id))
    assert "record(s)" in logs  # the one-line summary
    assert "holds an email in clear" in logs  # the email stays in the run's config: the run says so
    no_personal_data(logs, synced)


def test_an_email_goes_to_the_job_as_its_digest_which_the_command_prints(
    synced: Synced, capsys: pytest.CaptureFixture[str]
) -> None:
    email = synced.customer["email"]
    assert main([email, "--digest"]) == 0
    digest = capsys.readouterr().out.strip()
    assert digest.startswith("email:") and "@" not in digest
    instance = DagsterInstance.ephemeral()
    metadata = run_journey_job(synced, digest, instance)
    assert "## customer " in metadata["report"] and synced.customer["id"] in metadata["report"]
    (run,) = instance.get_runs()
    assert "@" not in json.dumps(run.run_config)  # nothing personal kept with the run
    logs = "\n".join(e.message or "" for e in instance.all_logs(run.run_id))
    assert "holds an email in clear" not in logs
    assert main(["ORD-1", "--digest"]) == 2  # only an email has a digest


# -- the command -----------------------------------------------------------------------------------------------------


def test_the_command_with_messages_and_run_links(
    synced: Synced, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in synced.shop.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CTFLUENT_LEDGER_URL", synced.shop.ledger_url)
    order = synced.failed_order
    assert main([order.label or "", "--ui-url", "http://dagster.example:3000/"]) == 0
    out = capsys.readouterr().out
    assert f"== order {order.label}: failed" in out and "C0141E" in out
    assert f"http://dagster.example:3000/runs/{synced.run_id}" in out
    assert "commercetools messages (newest first" in out and "not read" not in out

    assert main([synced.customer["email"].swapcase(), "--limit", "5"]) == 0
    out = capsys.readouterr().out
    assert "CustomerFirstNameSet" in out and "http://127.0.0.1:3000/runs/" in out
    no_personal_data(out, synced)


def test_the_installed_command(synced: Synced, tmp_path: Path) -> None:
    command = Path(sys.executable).with_name("ctfluent-journey")
    assert command.exists(), "pip install -e . creates the ctfluent-journey script"
    env = {**os.environ, **synced.shop.env, "CTFLUENT_LEDGER_URL": synced.shop.ledger_url,
           "DAGSTER_WEBSERVER_URL": "https://dagster.example", "DAGSTER_HOME": str(tmp_path)}  # fmt: skip
    done = subprocess.run([str(command), synced.customer["email"]], env=env, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"== customer {synced.customer['email'][0]}***@" in done.stdout
    assert f"https://dagster.example/runs/{synced.run_id}" in done.stdout
    assert "CustomerFirstNameSet" in done.stdout
    no_personal_data(done.stdout + done.stderr, synced)


def test_messages_are_read_only_with_credentials() -> None:
    reader, note = messages_reader({"CTP_PROJECT_KEY": "p"})
    assert reader is None and note == "commercetools messages not read: CTP_CLIENT_ID, CTP_CLIENT_SECRET not set"
    secret = "s3cr3t-value"
    reader, note = messages_reader({"CTP_PROJECT_KEY": "p", "CTP_CLIENT_ID": "c", "CTP_CLIENT_SECRET": secret})
    assert reader is None and note and "CTP_REGION" in note and secret not in note
    reader, note = messages_reader({"CTP_PROJECT_KEY": "p", "CTP_CLIENT_ID": "c", "CTP_CLIENT_SECRET": secret,
                                    "CTP_REGION": "europe-west1.gcp"})  # fmt: skip
    assert reader is not None and note is None
