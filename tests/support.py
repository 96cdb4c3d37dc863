"""Helpers shared by the test modules (test modules never import from each other)."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from dagster import AssetKey, ExecuteInProcessResult
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url

from ctfluent_dagster.assets.common import run_config
from ctfluent_dagster.assets.keys import op_names, source_key, target_key
from ctfluent_dagster.entities.customers.declaration import ENTITY as CUSTOMERS
from ctfluent_dagster.entity import EntityDeclaration
from ctfluent_dagster.ledger.schema import sync_state
from ctfluent_dagster.ledger.store import Ledger
from ctfluent_dagster.records import RunScope
from ctfluent_sandbox.stack import LocalStack
from tests.harness import CUSTOMER_ASSETS, RANGE_END, RANGE_START, Sandbox

if TYPE_CHECKING:
    from playwright.sync_api import Page

FLUENT_CUSTOMERS = target_key(CUSTOMERS, CUSTOMERS.targets[0])
(COMMERCETOOLS_CUSTOMERS_ASSET,) = [a for a in CUSTOMER_ASSETS if source_key(CUSTOMERS) in a.keys]
(FLUENT_CUSTOMERS_ASSET,) = [a for a in CUSTOMER_ASSETS if FLUENT_CUSTOMERS in a.keys]


def today(sandbox: Sandbox) -> str:
    """Today's partition, by the commercetools emulator's clock (the one that stamps lastModifiedAt)."""
    return sandbox.ct.clock.now().strftime("%Y-%m-%d")


def busiest_day(sandbox: Sandbox) -> str:
    """The past day with most customers (today's partition is re-staged whenever today is synced)."""
    current = today(sandbox)
    return next(day for day, _ in sandbox.days_with_customers().most_common() if day != current)


def materialization_metadata(result: ExecuteInProcessResult, asset_key: AssetKey = FLUENT_CUSTOMERS) -> dict[str, Any]:
    """The Fluent asset's metadata; a range run records the same on each partition's materialization."""
    events = [e for e in result.get_asset_materialization_events() if e.asset_key == asset_key]
    all_metadata = [{k: v.value for k, v in e.materialization.metadata.items()} for e in events]
    assert all_metadata and all(m == all_metadata[0] for m in all_metadata)
    return all_metadata[0]


def check_passed(result: ExecuteInProcessResult) -> bool:
    """Whether the (one synced asset's) failures check passed."""
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "no_outstanding_failures"]
    return bool(evaluation.passed)


def ledger(sandbox: Sandbox) -> Ledger:
    return Ledger(sandbox.ledger_url)


def scoped_run_config(entity: EntityDeclaration, **scope: Any) -> dict[str, Any]:
    """The run config of an entity's job with this scope (``RunScope``'s fields) for each of its assets, as a
    sensor or the Launchpad gives it."""
    fields = {name: tuple(value) if isinstance(value, list) else value for name, value in scope.items()}
    return run_config(op_names(entity), RunScope(**fields)).to_config_dict()


def run_redrive(sandbox: Sandbox, ids: list[str] | None = None) -> ExecuteInProcessResult:
    """The customers' re-drive job as a user launches it: any one partition (today's), every failed customer or
    the ``ids`` given."""
    config = scoped_run_config(CUSTOMERS, redrive=True, ids=ids, trigger="re-drive") if ids else None
    return sandbox.run_job(CUSTOMERS.redrive_job, today(sandbox), run_config=config)


def midday_in_the_past(sandbox: Sandbox, days: int = 1) -> datetime:
    """Set the commercetools emulator's clock back to 12:00 UTC ``days`` days ago and return that moment, so that
    what a test changes lands on a known day, hours away from any midnight (the clock runs on from there)."""
    now = sandbox.ct.clock.now()
    noon = datetime.combine(now.date() - timedelta(days=days), time_of_day(12), tzinfo=now.tzinfo)
    sandbox.ct.clock.advance((noon - now).total_seconds())
    return noon


def personal_data_found(text: str, customers: list[dict[str, Any]]) -> list[str]:
    """Emails, phones, street names and full names of these customers that occur in ``text`` (raw or JSON-escaped)."""
    found = []
    for customer in customers:
        values = [customer["email"], customer["email"].lower()]
        values += [a[k] for a in customer.get("addresses", []) for k in ("phone", "mobile", "streetName") if a.get(k)]
        if customer.get("firstName") and customer.get("lastName"):
            values.append(f"{customer['firstName']} {customer['lastName']}")
        found += [v for v in values if v in text or json.dumps(v)[1:-1] in text]
    return found


def dead_lease_holder() -> str:
    """A lease holder (``host:pid``) of this host whose process has exited: no process has that pid now."""
    while True:
        process = subprocess.Popen([sys.executable, "-c", "pass"])
        process.wait()
        try:
            os.kill(process.pid, 0)
        except ProcessLookupError:
            return f"{socket.gethostname()}:{process.pid}"


@contextmanager
def serve_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger_url: str, **seed: int) -> Iterator[Sandbox]:
    """Both emulators over real HTTP on loopback, seeded with ``seed`` (see ``CommercetoolsEmulator.seed``), the
    ledger at ``ledger_url`` (the ``ledger_url`` fixture: a fresh SQLite file or PostgreSQL database), and staging
    under the test's temporary directory."""
    from ctfluent_sandbox.cli import SandboxCredentials
    from ctfluent_sandbox.seed_inventory import skus_of
    from ctfluent_sandbox.server import BackgroundSandbox

    monkeypatch.setenv("CTFLUENT_STAGING_DIR", str(tmp_path / "staging"))
    monkeypatch.delenv("CTFLUENT_SETTINGS_FILE", raising=False)
    credentials = SandboxCredentials.fresh()
    ct, fluent = credentials.emulators("ctfluent-demo")
    ct.seed(**seed)
    fluent.seed_inventory(skus=skus_of(ct.products.collection))
    with BackgroundSandbox({"ct": (ct, 0), "fluent": (fluent, 0)}) as running:
        env = credentials.connection_env(running.urls["ct"], running.urls["fluent"], ct.project_key)
        yield Sandbox(ct, fluent, env, ledger_url)


@contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    """A new, empty database on the server of ``admin_url``, dropped (with its connections) when the block ends."""
    name = f"ctfluent_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


S3_BUCKET = "ctfluent-staging"
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@contextmanager
def serve_s3() -> Iterator[str]:
    """A local S3-compatible server (moto in server mode, on a free loopback port, in a thread of this process)
    with the bucket ``S3_BUCKET``; its endpoint URL. Stops when the block ends."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        s3_client(endpoint).create_bucket(Bucket=S3_BUCKET)
        yield endpoint
    finally:
        server.stop()


def s3_client(endpoint: str) -> Any:
    """A boto3 client of the local S3 server: the tests' own view of the bucket, independent of fsspec."""
    import boto3

    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=S3_CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def use_s3(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the AWS SDK (so s3fs, in this process and in the processes it starts) at the local S3 server, the way
    a deployment does: the standard AWS variables, ``AWS_ENDPOINT_URL`` for a non-AWS endpoint. No profile or
    config file of the machine takes part."""
    for name, value in {**S3_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


def materialize_in_this_process(env: dict[str, str], asset_paths: list[str], first: str, last: str) -> None:
    """A run of these assets (``fluent/orders``, ...) over the days, with the code location's own resources (from
    ``env``): the target of a child process a test kills mid-push."""
    os.environ.update(env)
    from dagster import materialize

    from ctfluent_dagster.assets import ENTITY_DEFINITIONS
    from ctfluent_dagster.definitions import defs

    wanted = {AssetKey(path.split("/")) for path in asset_paths}
    assets = [a for entity in ENTITY_DEFINITIONS.values() for a in entity.assets if set(a.keys) & wanted]
    materialize(assets, resources=defs.resources, tags={RANGE_START: first, RANGE_END: last})


def kill_mid_push(
    env: dict[str, str], asset_paths: list[str], days: tuple[str, str], entity_type: str, leased: int, processes: int
) -> None:
    """Run these assets over the days in a child process (with ``env``) and SIGKILL it once it holds ``leased`` leases
    of ``entity_type`` in each of its ``processes`` push processes; then wait until every one of them has ended
    (a killed run leaves none pushing)."""
    ledger_url = env["CTFLUENT_LEDGER_URL"]
    child = multiprocessing.get_context("spawn").Process(target=materialize_in_this_process,
                                                         args=({**env, "CTFLUENT_PUSH_PROCESSES": str(processes)},
                                                               asset_paths, *days))  # fmt: skip
    child.start()
    deadline = time.monotonic() + 120
    while len(set(holders := lease_holders(ledger_url, entity_type))) < processes or len(holders) < leased:
        assert child.is_alive() and time.monotonic() < deadline, "the first run ended before it could be killed"
        time.sleep(0.05)
    os.kill(child.pid or 0, signal.SIGKILL)
    child.join()
    held = set(lease_holders(ledger_url, entity_type))
    assert held  # the dead run left leases behind
    while not all(process_gone(holder) for holder in held):
        assert time.monotonic() < deadline, f"push processes outlived their killed run: {held}"
        time.sleep(0.05)


def lease_holders(ledger_url: str, entity_type: str) -> list[str]:
    """The holder ("host:pid") of each record of the entity type a run holds a lease on now (none before the run has
    created the ledger)."""
    store = Ledger(ledger_url)
    query = select(sync_state.c.lease_holder).where(
        sync_state.c.entity_type == entity_type, sync_state.c.lease_owner.is_not(None)
    )
    try:
        with store.engine.connect() as conn:
            if not inspect(conn).has_table(sync_state.name):
                return []
            return [str(holder) for (holder,) in conn.execute(query)]
    finally:
        store.engine.dispose()


def process_gone(holder: str) -> bool:
    """Whether the lease holder's process (of this host) has ended."""
    pid = int(holder.rpartition(":")[2])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# -- end to end (the stack as real processes, the UI in headless Chromium) ---------------------------------------

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
T = TypeVar("T")


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    seconds: float = 120.0,
    every: float = 1.0,
    describe: Callable[[], object] | None = None,
) -> T:
    """Poll until ``probe`` answers something true; that answer. ``describe``: what the timeout reports."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(
        f"timed out after {seconds:.0f} s waiting for {what}" + (f": {describe()}" if describe else "")
    )


_CHECK = """query Check($path: [String!]!) { assetNodeOrError(assetKey: {path: $path}) { ... on AssetNode {
  assetChecksOrError { ... on AssetChecks { checks { name executionForLatestMaterialization {
    status evaluation { success } } } } } } } }"""


def failures_check_status(stack: LocalStack, target: str = "customers") -> str | None:
    """The failures check of a Fluent asset, as the webserver has it: PASSED, FAILED, or None while the check has
    not been evaluated."""
    node = stack.webserver.query(_CHECK, {"path": ["fluent", target]})["assetNodeOrError"]
    (check,) = [c for c in node["assetChecksOrError"]["checks"] if c["name"] == "no_outstanding_failures"]
    execution = check["executionForLatestMaterialization"]
    if not execution or not execution["evaluation"]:
        return None
    return "PASSED" if execution["evaluation"]["success"] else "FAILED"


@contextmanager
def browser_page() -> Iterator[Page]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )  # fmt: skip
        try:
            yield browser.new_page(viewport={"width": 1600, "height": 1000})
        finally:
            browser.close()


def visit(
    stack: LocalStack,
    page: Page,
    path: str,
    expected: list[str],
    screenshot: str,
    click: str | None = None,
    then: Sequence[str] = (),
) -> str:
    """Open a page and wait until every expected text has rendered (the UI loads its parts asynchronously); with
    ``click``, then click that text (e.g. "[Show Markdown]") and wait for the ``then`` texts. The screenshot and
    the page's text are saved as artifacts; the text is returned."""
    page.goto(f"{stack.webserver_url}{path}", wait_until="networkidle")
    skip = page.get_by_role("button", name="Skip")  # the first-visit "join the community" dialog
    if skip.count():
        skip.click()
    try:
        for text in expected:
            page.get_by_text(text).first.wait_for(timeout=60_000)
        if click:
            page.get_by_text(click, exact=True).first.click()
            for text in then:
                page.get_by_text(text).first.wait_for(timeout=30_000)
            page.wait_for_timeout(1_000)  # the dialog fades in
    finally:  # what the page showed, also when an expected text never appeared
        page.screenshot(path=str(ARTIFACTS / screenshot), full_page=not click)  # a dialog: what is on screen
        (ARTIFACTS / screenshot).with_suffix(".txt").write_text(page.inner_text("body"))
    return page.inner_text("body")
