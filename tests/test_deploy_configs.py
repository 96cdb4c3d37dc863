"""The production instance configs in deploy/: valid for Dagster, their launchers, and the real PostgreSQL."""

from __future__ import annotations

import ast
import importlib
import os
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
from pydantic import BaseModel
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from ctfluent_dagster.configuration import read_settings, settings_class
from ctfluent_dagster.entities import ENTITIES
from ctfluent_dagster.settings import SyncSettings

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
    for filename in [*INSTANCE_FILES, "../dagster.local.yaml"]:
        config = yaml.safe_load((DEPLOY / filename).read_text())
        assert config["concurrency"]["pools"]["granularity"] == "op"
        assert config["run_monitoring"]["free_slots_after_run_end_seconds"] > 0


# -- The run workers' environment ----------------------------------------------------------------------------------
#
# Every variable the code location reads must reach the run workers (a run re-loads the code location in its own
# container or pod), with both launchers. The list is derived from the code; the launchers' own code builds what a
# run worker gets from the configs in deploy/.

ROOT = DEPLOY.parent
PRODUCT = ROOT / "ctfluent_dagster"
# Set by Dagster itself in every run worker (the image's ENV, and the K8s launcher's `dagster_home`).
DAGSTER_OWN = {"DAGSTER_HOME"}
# An s3:// staging location (staging.py): the store's driver (s3fs, botocore) reads these, not our code. (botocore
# reads the region from AWS_DEFAULT_REGION only; AWS_REGION is forwarded too, for the tools that read that one.)
OBJECT_STORE = {
    *("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION"),
    *("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"),
}
# Resource fields that hold secrets (as in tests/test_definitions.py), and the other variables that carry one.
SECRET_FIELDS = {"client_secret", "password"}
OTHER_SECRETS = {"CTFLUENT_LEDGER_URL", "AWS_SECRET_ACCESS_KEY"}  # a database URL carries its password


def _product_modules() -> list[ast.Module]:
    return [ast.parse(path.read_text(encoding="utf-8")) for path in sorted(PRODUCT.rglob("*.py"))]


def _string_args(call: ast.Call) -> list[str]:
    return [arg.value for arg in call.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]


def _call_name(call: ast.Call) -> str:
    return call.func.id if isinstance(call.func, ast.Name) else ast.unparse(call.func)


def resource_variables() -> tuple[set[str], set[str]]:
    """The names in ``EnvVar("X")`` and ``optional_env("X", "Y")`` anywhere in the product (definitions.py wires
    the resources with them), the variables of the context values the entities declare (``context_values()`` wires
    them), and those of them bound to a secret field."""
    names: set[str] = {value.variable for entity in ENTITIES for value in entity.context}
    secrets: set[str] = set()
    for module in _product_modules():
        helpers = [n for n in ast.walk(module)
                   if isinstance(n, ast.FunctionDef) and n.name in ("optional_env", "context_values")]  # fmt: skip
        inside_helper = {id(n) for helper in helpers for n in ast.walk(helper)}
        for node in ast.walk(module):
            if isinstance(node, ast.Call) and _call_name(node) in {"EnvVar", "optional_env"}:
                if id(node) in inside_helper:
                    continue  # the helpers' own EnvVar(name): the names are their callers' (or the declarations')
                assert node.args and len(_string_args(node)) == len(node.args), ast.unparse(node)  # literal names only
                names.update(_string_args(node))
            if isinstance(node, ast.keyword) and node.arg in SECRET_FIELDS and isinstance(node.value, ast.Call):
                secrets.update(_string_args(node.value))
    return names, secrets


def environ_reads() -> set[str]:
    """``os.environ.get("X")``, ``os.environ["X"]``, ``os.getenv("X")`` anywhere in the product."""
    names: set[str] = set()
    for module in _product_modules():
        for node in ast.walk(module):
            if isinstance(node, ast.Call) and _call_name(node) in {"os.environ.get", "os.getenv"}:
                names.update(_string_args(node)[:1])
            elif (
                isinstance(node, ast.Subscript)
                and ast.unparse(node.value) == "os.environ"
                and isinstance(node.slice, ast.Constant)
                and isinstance(node.slice.value, str)
            ):
                names.add(node.slice.value)
    return names


def settings_variables() -> set[str]:
    """``CTFLUENT_<FIELD>`` for each top-level setting. Sections (``messages``, each entity's) are nested:
    ``CTFLUENT_<SECTION>__<KEY>`` overrides are added to the launcher configs by hand when used (the settings file
    is the primary way), so they are not derived here."""
    prefix = SyncSettings.model_config.get("env_prefix", "")
    return {
        f"{prefix}{name}".upper()
        for name, field in settings_class().model_fields.items()
        if not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel))
    }


def variables_the_code_location_reads() -> tuple[set[str], set[str]]:
    """(every variable a run worker needs, those that hold a secret)."""
    resources, secrets = resource_variables()
    names = resources | (environ_reads() - DAGSTER_OWN) | settings_variables() | OBJECT_STORE
    return names, secrets | OTHER_SECRETS


def test_the_variable_list_is_derived_from_the_code() -> None:
    names, secrets = variables_the_code_location_reads()
    # Spot checks that each source was read (required and optional resource variables, the settings file, a
    # top-level setting), so that the checks below cannot pass on an empty list.
    assert {"CTP_CLIENT_SECRET", "CTP_API_URL", "FLUENT_CATALOGUE_REF", "CTFLUENT_LEDGER_URL"} <= names
    assert {"CTFLUENT_SETTINGS_FILE", "CTFLUENT_START_DATE", "CTFLUENT_STAGING_DIR"} <= names
    assert not {name for name in names if "__" in name}  # no section, no nested key
    assert {"CTP_CLIENT_SECRET", "FLUENT_CLIENT_SECRET", "FLUENT_PASSWORD"} <= secrets


def _env_file(path: Path) -> dict[str, str]:
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_docker_run_containers_get_every_variable_the_code_location_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """What DockerRunLauncher passes to a run container, built by its own code from dagster.docker.yaml, in the
    daemon environment docker-compose.yaml gives it, with a .env made from .env.example."""
    from dagster._core.utils import parse_env_var
    from dagster_docker.container_context import DockerContainerContext

    compose = yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())
    daemon = compose["services"]["daemon"]
    assert daemon["env_file"] == ["docker-defaults.env", "../.env"]  # the defaults first: .env wins
    daemon_env = {
        **_env_file(DEPLOY / daemon["env_file"][0]),
        **_env_file(ROOT / ".env.example"),  # what .env starts from (its required keys)
        "DAGSTER_PG_PASSWORD": "secret",
        **daemon["environment"],
    }
    _replace_environ(monkeypatch, daemon_env)

    launcher = yaml.safe_load((DEPLOY / "dagster.docker.yaml").read_text())["run_launcher"]["config"]
    context = DockerContainerContext(env_vars=launcher["env_vars"])
    # The launcher's own parsing: it raises for a listed variable the daemon does not have.
    run_env = dict(parse_env_var(entry) for entry in context.env_vars)

    names, secrets = variables_the_code_location_reads()
    assert sorted(names - run_env.keys()) == []
    assert not [entry for entry in launcher["env_vars"] if "=" in entry and entry.split("=")[0] in secrets]
    # The run container reads the settings as if the variables left empty were not set.
    assert [name for name, value in run_env.items() if name.startswith("CTFLUENT_") and not value]
    _replace_environ(monkeypatch, {name: value for name, value in run_env.items() if value})
    without_empty = read_settings()
    _replace_environ(monkeypatch, run_env)
    assert read_settings() == without_empty


def _replace_environ(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]) -> None:
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)


def _k8s_manifests() -> dict[tuple[str, str], dict[str, str]]:
    """(kind, name) -> the keys and values deploy/k8s-env.yaml defines for the Secret and ConfigMaps."""
    manifests: dict[tuple[str, str], dict[str, str]] = {}
    for document in yaml.safe_load_all((DEPLOY / "k8s-env.yaml").read_text()):
        data = {**document.get("data", {}), **document.get("stringData", {})}
        assert all(isinstance(value, str) for value in data.values()), document["metadata"]["name"]
        manifests[document["kind"], document["metadata"]["name"]] = data
    return manifests


def _k8s_run_pod(config: dict[str, Any]) -> dict[str, Any]:
    """The run pod's spec as dagster_k8s builds it from a K8sRunLauncher config."""
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import DagsterK8sJobConfig, construct_dagster_k8s_job

    keys = ("env_config_maps", "env_secrets", "env_vars", "volume_mounts", "volumes")
    context = K8sContainerContext(**{key: config[key] for key in keys if key in config})
    job_config = DagsterK8sJobConfig(job_image="ctfluent-dagster:test", dagster_home="/opt/dagster/home")
    job = construct_dagster_k8s_job(
        job_config,
        args=["dagster", "api", "execute_run"],
        job_name="run",
        user_defined_k8s_config=context.run_k8s_config,
    )
    pod: dict[str, Any] = job.to_dict()["spec"]["template"]["spec"]
    return pod


def _check_k8s_environment(
    env_vars: dict[str, str],
    secrets_from: list[str],
    config_maps_from: list[str],
    pod_volumes: dict[str, str],
    mounts: dict[str, str],
) -> None:
    """What a pod reads (its literal env, the keys of the Secrets and ConfigMaps it takes env from) covers the
    code's variables, secrets come from Secrets only, and the settings file it is pointed at is mounted."""
    manifests = _k8s_manifests()
    assert {("Secret", name) for name in secrets_from} <= manifests.keys()
    assert {("ConfigMap", name) for name in config_maps_from} <= manifests.keys()
    from_secrets = {key for name in secrets_from for key in manifests["Secret", name]}
    from_config_maps = {key for name in config_maps_from for key in manifests["ConfigMap", name]}

    names, secrets = variables_the_code_location_reads()
    assert sorted(names - (env_vars.keys() | from_secrets | from_config_maps)) == []
    assert sorted(secrets - from_secrets) == []
    assert not secrets & (env_vars.keys() | from_config_maps)
    # The settings file: a ConfigMap mounted where CTFLUENT_SETTINGS_FILE points, holding a key of that name.
    settings_file = Path(env_vars["CTFLUENT_SETTINGS_FILE"])
    volume = mounts[str(settings_file.parent)]
    assert settings_file.name in manifests["ConfigMap", pod_volumes[volume]]


def test_kubernetes_run_pods_get_every_variable_the_code_location_reads() -> None:
    config = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())["run_launcher"]["config"]
    pod = _k8s_run_pod(config)
    (container,) = pod["containers"]
    sources = container["env_from"]
    _check_k8s_environment(
        env_vars={item["name"]: item["value"] for item in container["env"]},
        secrets_from=[s["secret_ref"]["name"] for s in sources if s["secret_ref"]],
        config_maps_from=[s["config_map_ref"]["name"] for s in sources if s["config_map_ref"]],
        pod_volumes={v["name"]: v["config_map"]["name"] for v in pod["volumes"] if v.get("config_map")},
        mounts={m["mount_path"]: m["name"] for m in container["volume_mounts"]},
    )


def test_the_helm_values_give_the_code_location_and_its_run_pods_the_same_environment() -> None:
    values = yaml.safe_load((DEPLOY / "helm-values.yaml").read_text())
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    # The chart turns runLauncher values into the K8sRunLauncher config (templates/helpers/instance/_run-launcher.tpl).
    run_pod = _k8s_run_pod(
        {
            "env_secrets": [s["name"] for s in launcher["envSecrets"]],
            "env_config_maps": [c["name"] for c in launcher["envConfigMaps"]],
            "env_vars": launcher["envVars"],
            "volumes": launcher["volumes"],
            "volume_mounts": launcher["volumeMounts"],
        }
    )
    (container,) = run_pod["containers"]
    run_env = {item["name"]: item["value"] for item in container["env"] if item["name"] != "DAGSTER_HOME"}
    code_location_env = {item["name"]: item["value"] for item in deployment["env"]}
    assert run_env == code_location_env
    for pod in (launcher, deployment):
        _check_k8s_environment(
            env_vars=code_location_env,
            secrets_from=[s["name"] for s in pod["envSecrets"]],
            config_maps_from=[c["name"] for c in pod["envConfigMaps"]],
            pod_volumes={v["name"]: v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v},
            mounts={m["mountPath"]: m["name"] for m in pod["volumeMounts"]},
        )
    assert launcher["envSecrets"] == deployment["envSecrets"]
    assert launcher["envConfigMaps"] == deployment["envConfigMaps"]
