"""Fixtures shared by every test module."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import Sandbox
from tests.support import S3_BUCKET, fresh_postgres_database, serve_s3, serve_sandbox, use_s3

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """`../shared` (reference data beside the checkout). Missing: skip locally, fail under CI=true."""
    if not SHARED_DIR.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{SHARED_DIR} is missing under CI: the spec checks must not silently stop running")
        pytest.skip(f"{SHARED_DIR} not found (clone beside ../shared to run the spec checks)")
    return SHARED_DIR


POSTGRES_ADMIN_URL = os.environ.get(
    "CTFLUENT_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of the real PostgreSQL server (the test command starts it). Missing: fail under CI."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    engine = create_engine(POSTGRES_ADMIN_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}")
    finally:
        engine.dispose()
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_database(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the real server for one test; dropped afterwards."""
    with fresh_postgres_database(postgres_server) as url:
        yield url


LEDGER_DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=LEDGER_DATABASES)
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The ledger's database, once on SQLite (the demo's default) and once on PostgreSQL (production's): every test
    of the ledger, the attempt history, the webhook event store, the engine and the entities' syncs runs on both.
    PostgreSQL: a fresh database on the real server, dropped after the test."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    url: str = request.getfixturevalue("postgres_database")
    return url


@pytest.fixture(scope="module", params=LEDGER_DATABASES)
def module_ledger_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``ledger_url`` for a module's shared fixtures (a stack synced once for many tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.sqlite'}"
        return
    with fresh_postgres_database(request.getfixturevalue("postgres_server")) as url:
        yield url


@pytest.fixture(autouse=True)
def runs_succeed_with_failed_records(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests look at failed records in the ledger and the checks; a run that leaves failures fails by default in
    production (fail_runs_with_failed_records), which test_lineage.py tests on its own."""
    monkeypatch.setenv("CTFLUENT_FAIL_RUNS_WITH_FAILED_RECORDS", "false")


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger_url: str) -> Iterator[Sandbox]:
    """The sandbox with 300 seeded customers over 10 days."""
    with serve_sandbox(tmp_path, monkeypatch, ledger_url, customers=300, days=10, seed=7) as running:
        yield running


@pytest.fixture
def catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger_url: str) -> Iterator[Sandbox]:
    """The sandbox with a seeded catalogue (60 products over 10 days) and 40 customers."""
    with serve_sandbox(tmp_path, monkeypatch, ledger_url, customers=40, days=10, seed=11, products=60) as running:
        yield running


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger_url: str) -> Iterator[Sandbox]:
    """The sandbox with a catalogue, customers and 120 orders (with their payments) over 10 days."""
    with serve_sandbox(
        tmp_path, monkeypatch, ledger_url, customers=40, days=10, seed=13, products=60, orders=120
    ) as running:
        yield running


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The local S3-compatible server (moto in server mode), started once for the session and stopped after it."""
    with serve_s3() as endpoint:
        yield endpoint


@pytest.fixture
def s3_staging(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty staging location on the local S3 server (a fresh prefix of its bucket), with the AWS environment
    variables pointing at the server for this test."""
    use_s3(s3_endpoint, monkeypatch)
    return f"s3://{S3_BUCKET}/{uuid.uuid4().hex[:12]}"
