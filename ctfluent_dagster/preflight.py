"""Pre-flight: before any sync, check that both APIs accept the credentials and hold what the sync needs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ctfluent_dagster.commercetools.client import CommercetoolsClient
from ctfluent_dagster.fluent.client import FluentClient
from ctfluent_dagster.fluent.operations import operation
from ctfluent_dagster.transport import ApiError

ProbeT = Callable[[], tuple[bool, str]]


@dataclass(frozen=True)
class PreflightCheck:
    name: str
    ok: bool
    detail: str


def run_preflight(
    commercetools: CommercetoolsClient, fluent: FluentClient, retailer_ids: Sequence[str]
) -> list[PreflightCheck]:
    checks: list[PreflightCheck] = []

    def attempt(name: str, probe: ProbeT) -> None:
        try:
            ok, detail = probe()
        except ApiError as exc:
            ok, detail = False, str(exc)
        checks.append(PreflightCheck(name, ok, detail))

    def token_and_scopes() -> tuple[bool, str]:
        info = commercetools.introspect()
        granted = set((info.scope or "").split())
        wanted = set(commercetools.settings.scope_strings())
        missing = sorted(wanted - granted)
        if not info.active:
            return False, "the token is not active"
        return not missing, f"granted: {' '.join(sorted(granted))}" + (
            f"; missing: {' '.join(missing)}" if missing else ""
        )

    def project() -> tuple[bool, str]:
        settings = commercetools.project()
        messages = settings.messages
        retention = messages.delete_days_after_creation or 15
        state = (
            f"messages enabled, kept {retention} days"
            if messages.enabled
            else ("messages are DISABLED: the messages sensor needs them (changeMessagesConfiguration)")
        )
        return True, f"project {settings.key} ({settings.name}); {state}"

    def fluent_login() -> tuple[bool, str]:
        fluent.login()
        return True, f"logged in to {fluent.base_url} as {fluent.settings.username}"

    attempt("commercetools token and scopes", token_and_scopes)
    attempt("commercetools project", project)
    attempt("Fluent login", fluent_login)
    lookup = operation("RetailerById")
    for retailer_id in dict.fromkeys(retailer_ids):

        def retailer(retailer_id: str = retailer_id) -> tuple[bool, str]:
            found = fluent.execute(lookup, {"id": retailer_id})[lookup.root_field]
            if not found:
                return False, f"retailer {retailer_id} does not exist or is not visible to this login"
            return (
                True,
                f"retailer {retailer_id}: {found.get('tradingName') or found.get('ref')} ({found.get('status')})",
            )

        attempt(f"Fluent retailer {retailer_id}", retailer)
    return checks
