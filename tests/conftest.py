"""Fixtures shared by every test module."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import Sandbox

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
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"ctfluent_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """Both emulators over real HTTP on loopback, 300 seeded customers over 10 days, a fresh SQLite ledger,
    and staging under the test's temporary directory."""
    from ctfluent_sandbox.cli import SandboxCredentials
    from ctfluent_sandbox.fluent.emulator import DEFAULT_PRODUCT_CATALOGUES
    from ctfluent_sandbox.server import BackgroundSandbox

    monkeypatch.setenv("CTFLUENT_STAGING_DIR", str(tmp_path / "staging"))
    monkeypatch.delenv("CTFLUENT_SETTINGS_FILE", raising=False)
    credentials = SandboxCredentials.fresh()
    ct, fluent = credentials.emulators("ctfluent-demo")
    ct.seed(customers=300, days=10, seed=7)
    with BackgroundSandbox({"ct": (ct, 0), "fluent": (fluent, 0)}) as running:
        env = credentials.connection_env(running.urls["ct"], running.urls["fluent"], ct.project_key)
        # The emulator's master catalogue, so that the code location is configured for every registered entity.
        env.setdefault("FLUENT_CATALOGUE_REF", DEFAULT_PRODUCT_CATALOGUES[0]["ref"])
        yield Sandbox(ct, fluent, env, f"sqlite:///{tmp_path / 'ledger.sqlite'}")
