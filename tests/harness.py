"""Test harness: a seeded sandbox served over real HTTP, resources pointing at it, and helpers to act as a
storefront (edit customers through the commercetools API) and to run the Dagster assets in process."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from dagster import (
    AssetChecksDefinition,
    AssetKey,
    AssetsDefinition,
    DagsterInstance,
    Definitions,
    ExecuteInProcessResult,
    RunRequest,
    in_process_executor,
    materialize,
)

from ctfluent_dagster.assets import CHANGES_JOB, ENTITY_DEFINITIONS
from ctfluent_dagster.entities import ENTITIES
from ctfluent_dagster.resources import (
    CommercetoolsResource,
    CommercetoolsWriteResource,
    ContextResource,
    FluentResource,
    LedgerResource,
    SyncSettingsResource,
)
from ctfluent_sandbox.admin_client import AdminClient
from ctfluent_sandbox.commercetools import CommercetoolsEmulator
from ctfluent_sandbox.fluent import FluentEmulator
from ctfluent_sandbox.storefront import Storefront

CUSTOMER_ASSETS: list[AssetsDefinition] = ENTITY_DEFINITIONS["customers"].assets
ALL_CHECKS: list[AssetChecksDefinition] = [c for entity in ENTITY_DEFINITIONS.values() for c in entity.checks]
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def sandbox_resources(env: Mapping[str, str], ledger_url: str, **fluent_overrides: Any) -> dict[str, Any]:
    """The code location's resources on a sandbox's connection settings (``env``: CTP_*, FLUENT_*), with fast
    retries; a module function so that a step running in another process can build them from its environment."""
    fast_retries: dict[str, Any] = {"retry_initial_backoff_seconds": 0.01, "retry_budget_seconds": 20.0}
    return {
        "commercetools": CommercetoolsResource(
            project_key=env["CTP_PROJECT_KEY"],
            client_id=env["CTP_CLIENT_ID"],
            client_secret=env["CTP_CLIENT_SECRET"],
            scopes=env["CTP_SCOPES"],
            api_url=env["CTP_API_URL"],
            auth_url=env["CTP_AUTH_URL"],
            **fast_retries,
        ),
        "commercetools_write": CommercetoolsWriteResource(
            project_key=env["CTP_PROJECT_KEY"],
            client_id=env.get("CTP_WRITE_CLIENT_ID", ""),
            client_secret=env.get("CTP_WRITE_CLIENT_SECRET", ""),
            scopes=env.get("CTP_WRITE_SCOPES", "manage_orders"),
            api_url=env["CTP_API_URL"],
            auth_url=env["CTP_AUTH_URL"],
            **fast_retries,
        ),
        "fluent": FluentResource(
            host=env["FLUENT_HOST"],
            client_id=env["FLUENT_CLIENT_ID"],
            client_secret=env["FLUENT_CLIENT_SECRET"],
            username=env["FLUENT_USERNAME"],
            password=env["FLUENT_PASSWORD"],
            **(fast_retries | fluent_overrides),
        ),
        "context_values": ContextResource(
            values={value.name: env.get(value.variable, "") for entity in ENTITIES for value in entity.context}
        ),
        "ledger": LedgerResource(url=ledger_url),
        "sync_settings": SyncSettingsResource(),
    }


@dataclass
class Sandbox:
    ct: CommercetoolsEmulator
    fluent: FluentEmulator
    env: dict[str, str]  # the code location's connection settings (CTP_*, FLUENT_*)
    ledger_url: str

    def __post_init__(self) -> None:
        self.ct_admin = AdminClient(self.env["CTP_API_URL"])
        self.fluent_admin = AdminClient(self.env["FLUENT_HOST"])

    @cached_property
    def storefront(self) -> Storefront:
        return Storefront(self.env)

    # -- resources ----------------------------------------------------------------------------------

    def resources(self, **fluent_overrides: Any) -> dict[str, Any]:
        return sandbox_resources(self.env, self.ledger_url, **fluent_overrides)

    # -- running the assets ---------------------------------------------------------------------------

    def sync(
        self,
        partitions: str | tuple[str, str],
        *,
        ids: Sequence[str] = (),
        scope: dict[str, Any] | None = None,
        instance: DagsterInstance | None = None,
        assets: Sequence[AssetsDefinition] = CUSTOMER_ASSETS,
        raise_on_error: bool = True,
        **fluent_overrides: Any,
    ) -> ExecuteInProcessResult:
        """Materialize the assets (customers by default) and their failures checks for one partition or a range, in
        one run. ``scope``: the run's other scope settings (``redrive``, ``deleted_ids``, ...)."""
        tags: dict[str, str] = {}
        partition_key = None
        if isinstance(partitions, tuple):
            tags = {RANGE_START: partitions[0], RANGE_END: partitions[1]}
        else:
            partition_key = partitions
        config = {"config": {"ids": list(ids), **(scope or {})}}
        run_config = {"ops": {asset.op.name: config for asset in assets}}
        keys = {key for asset in assets for key in asset.keys}
        checks = [check for check in ALL_CHECKS if any(k.asset_key in keys for k in check.check_keys)]
        return materialize(
            [*assets, *checks],
            resources=self.resources(**fluent_overrides),
            partition_key=partition_key,
            tags=tags,
            run_config=run_config,
            instance=instance,
            raise_on_error=raise_on_error,
        )

    def definitions(self) -> Definitions:
        """Every entity's assets, checks and jobs, on this sandbox's resources: what the code location runs."""
        built = list(ENTITY_DEFINITIONS.values())
        return Definitions(
            assets=[a for entity in built for a in entity.assets],
            asset_checks=[c for entity in built for c in entity.checks],
            jobs=[*(j for entity in built for j in entity.jobs), CHANGES_JOB],
            executor=in_process_executor,
            resources=self.resources(),
        )

    def run_job(
        self,
        job_name: str,
        partition_key: str | None,
        *,
        run_config: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        instance: DagsterInstance | None = None,
        raise_on_error: bool = True,
        asset_selection: Sequence[AssetKey] | None = None,
    ) -> ExecuteInProcessResult:
        """Run one of the code location's jobs in process, as the daemon would launch it (a sensor's or a
        schedule's run request, or a launch from the UI); without ``run_config`` the job's own default config."""
        job = self.definitions().resolve_job_def(job_name)
        return job.execute_in_process(
            run_config=dict(run_config) if run_config is not None else None,
            partition_key=partition_key,
            tags=dict(tags) if tags is not None else None,
            instance=instance,
            raise_on_error=raise_on_error,
            asset_selection=asset_selection,
        )

    def run_request(self, request: RunRequest) -> ExecuteInProcessResult:
        """Run what a sensor or a schedule requested, in process, as the daemon would."""
        assert request.job_name is not None
        return self.run_job(request.job_name, request.partition_key, run_config=request.run_config,
                            tags=request.tags, asset_selection=request.asset_selection)  # fmt: skip

    # -- commercetools as a storefront -----------------------------------------------------------------

    def ct_customers(self) -> list[dict[str, Any]]:
        return list(self.ct.state()["customers"])

    def days_with_customers(self) -> Counter[str]:
        return Counter(c["lastModifiedAt"][:10] for c in self.ct_customers())

    def ct_update(self, customer_id: str, *actions: dict[str, Any]) -> dict[str, Any]:
        """Change a customer through the commercetools API, as a storefront would."""
        return self.storefront.update(customer_id, *actions)

    def ct_delete(self, customer_id: str) -> None:
        self.storefront.delete(customer_id)

    # -- Fluent ---------------------------------------------------------------------------------------

    def fluent_customers(self) -> list[dict[str, Any]]:
        return list(self.fluent.state()["customers"])

    def fluent_by_username(self) -> dict[str, dict[str, Any]]:
        customers = self.fluent_customers()
        by_username = {c["username"]: c for c in customers}
        assert len(by_username) == len(customers), "duplicate usernames in Fluent"
        return by_username

    def mutations(self) -> Counter[str]:
        counts = self.fluent_admin.request_counts()["by_target"]
        return Counter({name: counts.get(name, 0) for name in ("createCustomer", "updateCustomer")})


def modified_on(customers: Sequence[dict[str, Any]], day: str) -> list[dict[str, Any]]:
    return [c for c in customers if c["lastModifiedAt"].startswith(day)]
