"""The code location as a whole: the asset graph snapshot and how secrets are wired.

The snapshot makes every change to the graph (assets, dependencies, partitions, pools, checks, jobs, sensors,
schedules, resource wiring) show up in review. After an intended change: ``UPDATE_SNAPSHOTS=1 pytest
tests/test_definitions.py`` and commit the new ``tests/snapshots/definitions.json``.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from dagster import Definitions, EnvVar

import ctfluent_dagster.definitions
from ctfluent_dagster.assets import CHANGES_JOB
from ctfluent_dagster.entities import ENTITIES
from ctfluent_dagster.sensors import messages, retry, waiting

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"
SECRET_FIELDS = {"client_secret", "password"}
# Chosen when the code location loads, by which of them is set.
OPTIONAL_VARIABLES = ("CTP_SCOPES", "CTP_SCOPE", "CTP_REGION", "CTP_API_URL", "CTP_AUTH_URL", "CTFLUENT_LEDGER_URL",
                      "CTP_WRITE_CLIENT_ID", "CTP_WRITE_CLIENT_SECRET", "CTP_WRITE_SCOPES")  # fmt: skip


def load_definitions(monkeypatch: pytest.MonkeyPatch, **env: str) -> Definitions:
    for name in OPTIONAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return importlib.reload(ctfluent_dagster.definitions).defs


def _resource_fields(resource: Any) -> dict[str, Any]:
    """Configured values; an EnvVar as ``{"env": NAME}`` (reading it as an attribute would resolve it)."""
    configured = resource._get_non_default_public_field_values()
    values = {}
    for name, field in sorted(type(resource).model_fields.items()):
        value = configured.get(name, field.default)
        values[name] = {"env": value.env_var_name} if isinstance(value, EnvVar) else value
    return values


def sensor_jobs(defs: Definitions) -> dict[str, list[str]]:
    """Each sensor's name and the jobs it may request (a job listed twice shows twice)."""
    return {sensor.name: sorted(target.job_name for target in sensor.targets) for sensor in defs.sensors or []}


def definitions_snapshot(defs: Definitions) -> dict[str, Any]:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys()):
        node = graph.get(key)
        partitions = node.partitions_def
        assets[key.to_user_string()] = {
            "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "pools": sorted(node.pools or []),
            "partitions": None if partitions is None else {
                "type": type(partitions).__name__,
                "timezone": getattr(partitions, "timezone", None),
                "end_offset": getattr(partitions, "end_offset", None),
            },
            "backfill_policy": str(node.backfill_policy),
            "checks": sorted(check.name for check in node.check_keys),
        }  # fmt: skip
    return {
        "assets": assets,
        "jobs": sorted(job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__")),
        "sensors": sensor_jobs(defs),
        "schedules": sorted(schedule.name for schedule in defs.schedules or []),
        "resources": {name: _resource_fields(resource) for name, resource in sorted((defs.resources or {}).items())},
    }


def test_the_asset_graph_matches_the_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    defs = load_definitions(monkeypatch, CTP_REGION="europe-west1.gcp")
    current = json.loads(json.dumps(definitions_snapshot(defs), default=str))
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert SNAPSHOT.exists(), f"no snapshot at {SNAPSHOT}: run with UPDATE_SNAPSHOTS=1 and commit it"
    assert current == json.loads(SNAPSHOT.read_text())


def test_the_forward_sync_sensors_request_no_back_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    """The messages sensor requests the sync jobs of the entities read from commercetools, as declared, and their
    changes job (a tick's changes across them), nothing else; each entity read from Fluent has its own changes
    sensor, requesting its own job; the waiting and retry sensors request every entity's sync job (they write
    waiting and failed records in either direction)."""
    jobs = sensor_jobs(load_definitions(monkeypatch, CTP_REGION="europe-west1.gcp"))
    forward = sorted(entity.sync_job for entity in ENTITIES if not entity.from_fluent)
    back = sorted(entity.sync_job for entity in ENTITIES if entity.from_fluent)
    assert back, "no entity read from Fluent is declared: nothing to keep apart"
    assert jobs[messages.SENSOR_NAME] == sorted([*forward, CHANGES_JOB.name])
    assert jobs[waiting.SENSOR_NAME] == jobs[retry.SENSOR_NAME] == sorted(forward + back)
    for entity in ENTITIES:
        if entity.from_fluent:
            assert jobs[entity.changes_sensor] == [entity.sync_job]


@pytest.mark.parametrize("write_client", [True, False], ids=["write client", "no write client"])
def test_secrets_reach_the_resources_only_as_environment_variables(
    monkeypatch: pytest.MonkeyPatch, write_client: bool
) -> None:
    write = {"CTP_WRITE_CLIENT_ID": "writer", "CTP_WRITE_CLIENT_SECRET": "s3cret"} if write_client else {}
    defs = load_definitions(monkeypatch, CTP_REGION="europe-west1.gcp", **write)
    for name, resource in (defs.resources or {}).items():
        for field, value in _resource_fields(resource).items():
            if field not in SECRET_FIELDS:
                continue
            if name == "commercetools_write" and not write_client:  # optional: not configured, the back-sync is off
                assert value == "", f"{name}.{field} must be empty when its variable is unset"
            else:
                assert isinstance(value, dict) and "env" in value, f"{name}.{field} must be an EnvVar"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"CTP_SCOPES": "view_customers"}, {"scopes": {"env": "CTP_SCOPES"}}),
        ({"CTP_SCOPE": "view_customers"}, {"scopes": {"env": "CTP_SCOPE"}}),
        ({"CTP_SCOPES": "a", "CTP_SCOPE": "b"}, {"scopes": {"env": "CTP_SCOPES"}}),
        (
            {"CTP_API_URL": "http://x", "CTP_AUTH_URL": "http://y"},
            {"api_url": {"env": "CTP_API_URL"}, "auth_url": {"env": "CTP_AUTH_URL"}, "region": None},
        ),
    ],
)
def test_optional_connection_variables(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: dict[str, Any]
) -> None:
    fields = _resource_fields(load_definitions(monkeypatch, **env).resources["commercetools"])  # type: ignore[index]
    assert {name: fields[name] for name in expected} == expected


def test_the_api_rate_limits_are_counted_in_the_ledger_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run process counts the APIs' requests per second where the ledger is, so that they share one limit."""
    resources = load_definitions(monkeypatch, CTP_REGION="europe-west1.gcp", CTFLUENT_LEDGER_URL="sqlite://").resources
    ledger = {"env": "CTFLUENT_LEDGER_URL"}
    assert _resource_fields(resources["ledger"])["url"] == ledger  # type: ignore[index]
    for name in ("commercetools", "commercetools_write", "fluent"):
        assert _resource_fields(resources[name])["rate_limit_url"] == ledger  # type: ignore[index]
