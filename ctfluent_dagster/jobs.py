"""Jobs that are not an entity's: the pre-flight check of both APIs and of what each entity needs in Fluent.

Each entity's own jobs (sync, re-drive) are built with its assets in ``assets/factory.py``.
"""

from functools import partial

from dagster import Failure, MetadataValue, OpExecutionContext, Output, job, op

from ctfluent_dagster.entities import ENTITIES
from ctfluent_dagster.preflight import run_preflight
from ctfluent_dagster.resources import (
    CommercetoolsResource,
    CommercetoolsWriteResource,
    FluentResource,
    SyncSettingsResource,
)


@op(description="Check credentials, scopes, project settings, retailers and the catalogue before any sync.")
def preflight_checks(
    context: OpExecutionContext,
    commercetools: CommercetoolsResource,
    commercetools_write: CommercetoolsWriteResource,
    fluent: FluentResource,
    sync_settings: SyncSettingsResource,
) -> Output[None]:
    client = fluent.get_client()
    settings = sync_settings.settings
    entity_checks = [
        partial(probe, e.sync_context(settings, client, fluent.retailer_id, fluent.catalogue_ref or None))
        for e in ENTITIES
        if (probe := e.preflight) is not None
    ]
    writer = commercetools_write.get_client() if commercetools_write.configured else None
    checks = run_preflight(commercetools.get_client(), client, entity_checks, writer)
    for check in checks:
        log = context.log.info if check.ok else context.log.error
        log(f"{'OK  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    metadata = {check.name: MetadataValue.text(("OK: " if check.ok else "FAILED: ") + check.detail) for check in checks}
    failed = [check.name for check in checks if not check.ok]
    if failed:
        raise Failure(description=f"pre-flight failed: {', '.join(failed)}", metadata=metadata)
    return Output(None, metadata=metadata)


@job(description="Pre-flight checks of both APIs: run it before the first sync.")
def preflight() -> None:
    preflight_checks()
