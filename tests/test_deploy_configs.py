"""The production instance configs in deploy/: valid for Dagster, their launchers, and the real PostgreSQL."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._core.instance.ref import InstanceRef
from dagster_postgres import (
    DagsterPostgresStorage,
    PostgresEventLogStorage,
    PostgresRunStorage,
    PostgresScheduleStorage,
)
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
INSTANCE_FILES = ["dagster.yaml", "dagster.docker.yaml"]


@pytest.fixture
def pg_env(monkeypatch: pytest.MonkeyPatch, postgres_database: str) -> str:
    url = make_url(postgres_database)
    for name, value in {
        "DAGSTER_PG_HOST": url.host or "127.0.0.1",
        "DAGSTER_PG_DB": url.database or "",
        "DAGSTER_PG_USERNAME": url.username or "postgres",
        "DAGSTER_PG_PASSWORD": url.password or "",
        "DAGSTER_K8S_NAMESPACE": "ctfluent",
    }.items():
        monkeypatch.setenv(name, value)
    return postgres_database


@pytest.mark.postgres
@pytest.mark.parametrize("filename", INSTANCE_FILES)
def test_instance_config_and_its_run_launcher_validate(filename: str, pg_env: str) -> None:
    config, _ = dagster_instance_config(str(DEPLOY), filename)
    launcher: dict[str, Any] = config["run_launcher"]
    launcher_class = getattr(importlib.import_module(launcher["module"]), launcher["class"])
    result = process_config(launcher_class.config_type(), launcher["config"])
    assert result.success, [error.message for error in result.errors or []]


@pytest.mark.postgres
@pytest.mark.parametrize("filename", INSTANCE_FILES)
def test_instance_storage_comes_up_on_postgresql(filename: str, pg_env: str, tmp_path: Path) -> None:
    shutil.copy(DEPLOY / filename, tmp_path / "dagster.yaml")
    storage = InstanceRef.from_dir(str(tmp_path)).storage
    # Every part of it on PostgreSQL (not the SQLite default), in the database the environment names: that
    # database was created empty for this test, so its tables are the ones this storage made.
    assert isinstance(storage, DagsterPostgresStorage)
    assert isinstance(storage.run_storage, PostgresRunStorage)
    assert isinstance(storage.event_log_storage, PostgresEventLogStorage)
    assert isinstance(storage.schedule_storage, PostgresScheduleStorage)
    engine = create_engine(pg_env)
    try:
        assert {"runs", "event_logs", "jobs"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
        for part in (storage.run_storage, storage.event_log_storage, storage.schedule_storage):
            part.dispose()


def test_every_instance_config_frees_pool_slots_of_dead_runs() -> None:
    for filename in [*INSTANCE_FILES, "../dagster.yaml"]:
        config = yaml.safe_load((DEPLOY / filename).read_text())
        assert config["concurrency"]["pools"]["granularity"] == "op"
        assert config["run_monitoring"]["free_slots_after_run_end_seconds"] > 0
