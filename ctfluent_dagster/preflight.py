"""Pre-flight: before any sync, check that both APIs accept the credentials and hold what the sync needs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from ctfluent_dagster.commercetools.client import MAX_COUNTED, CommercetoolsClient
from ctfluent_dagster.fluent.client import FluentClient
from ctfluent_dagster.fluent.operations import CORE_OPERATIONS
from ctfluent_dagster.transport import ApiError

ProbeT = Callable[[], tuple[bool, str]]


@dataclass(frozen=True)
class PreflightCheck:
    name: str
    ok: bool
    detail: str


def attempt(name: str, probe: ProbeT) -> PreflightCheck:
    """Run one probe; an API error is a failed check with the error as its detail."""
    try:
        ok, detail = probe()
    except ApiError as exc:
        ok, detail = False, str(exc)
    return PreflightCheck(name, ok, detail)


def scopes_granted(client: CommercetoolsClient) -> tuple[bool, str]:
    """Whether the client's token is active and holds every scope it asks for."""
    info = client.introspect()
    granted = set((info.scope or "").split())
    missing = sorted(set(client.settings.scope_strings()) - granted)
    if not info.active:
        return False, "the token is not active"
    return not missing, f"granted: {' '.join(sorted(granted))}" + (f"; missing: {' '.join(missing)}" if missing else "")


def write_client_check(writer: CommercetoolsClient | None) -> PreflightCheck:
    """The write client the back-syncs (order status) need; without it they are off, which is no failure."""
    name = "commercetools write client (order status back-sync)"
    if writer is None:
        return PreflightCheck(name, True, "not configured: the back-sync is OFF (set CTP_WRITE_CLIENT_ID, "
                              "CTP_WRITE_CLIENT_SECRET and CTP_WRITE_SCOPES to turn it on)")  # fmt: skip
    return attempt(name, lambda: scopes_granted(writer))


def run_preflight(
    commercetools: CommercetoolsClient,
    fluent: FluentClient,
    entity_checks: Iterable[Callable[[], list[PreflightCheck]]] = (),
    writer: CommercetoolsClient | None = None,
) -> list[PreflightCheck]:
    """Both APIs' credentials and settings, the write client of the back-syncs (``writer``; None: not configured),
    then each entity's own checks (what it needs in Fluent, what its data holds)."""

    def token_and_scopes() -> tuple[bool, str]:
        return scopes_granted(commercetools)

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

    checks = [
        attempt("commercetools token and scopes", token_and_scopes),
        attempt("commercetools project", project),
        attempt("Fluent login", fluent_login),
        write_client_check(writer),
    ]
    seen = {check.name for check in checks}
    for entity_check in entity_checks:
        for check in entity_check():
            if check.name not in seen:  # two entities may need the same retailer
                checks.append(check)
                seen.add(check.name)
    return checks


def history_check(name: str, field: str, start: date, count: Callable[[], int]) -> PreflightCheck:
    """How many records of an entity lie before ``start_date`` and so load with the first partition (information,
    never a failure: a merchant with years of history sees what the first partition's run will take)."""

    def probe() -> tuple[bool, str]:
        found = count()
        amount = f"{MAX_COUNTED:,} or more" if found >= MAX_COUNTED else f"{found:,}"
        return True, (f"{amount} {name} with {field} before {start} (start_date): they load with the first "
                      f"partition, {start}")  # fmt: skip

    return attempt(f"history before start_date: {name}", probe)


def retailer_names(fluent: FluentClient, retailer_ids: Iterable[str]) -> dict[str, str]:
    """Each retailer's trading name (else its ref), for tables that name retailers by id; unknown ones left out."""
    lookup = CORE_OPERATIONS["RetailerById"]
    names: dict[str, str] = {}
    for retailer_id in sorted(set(retailer_ids) - {""}):
        try:
            found = fluent.execute(lookup, {"id": retailer_id})[lookup.root_field]
        except ApiError:
            continue
        if found:
            names[retailer_id] = str(found.get("tradingName") or found.get("ref") or retailer_id)
    return names


def retailer_checks(fluent: FluentClient, retailer_ids: Sequence[str]) -> list[PreflightCheck]:
    """Each retailer exists and the login may read it."""
    lookup = CORE_OPERATIONS["RetailerById"]
    checks = []
    for retailer_id in dict.fromkeys(retailer_ids):

        def retailer(retailer_id: str = retailer_id) -> tuple[bool, str]:
            found = fluent.execute(lookup, {"id": retailer_id})[lookup.root_field]
            if not found:
                return False, f"retailer {retailer_id} does not exist or is not visible to this login"
            return (
                True,
                f"retailer {retailer_id}: {found.get('tradingName') or found.get('ref')} ({found.get('status')})",
            )

        checks.append(attempt(f"Fluent retailer {retailer_id}", retailer))
    return checks
