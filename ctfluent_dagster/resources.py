"""Dagster resources: configuration plus construction of the plain-Python clients, nothing else.

Secrets reach the resources as ``EnvVar``s (see ``definitions.py``), so Dagster shows the variable's name, never
its value, in the UI and in run config.
"""

from __future__ import annotations

from dagster import ConfigurableResource, InitResourceContext
from pydantic import PrivateAttr

from ctfluent_dagster.commercetools.client import BASE_READ_SCOPES, CommercetoolsClient, CommercetoolsSettings
from ctfluent_dagster.configuration import read_settings
from ctfluent_dagster.fluent.client import FluentClient, FluentSettings
from ctfluent_dagster.ledger.store import Ledger
from ctfluent_dagster.settings import SyncSettings, default_ledger_url
from ctfluent_dagster.staging import DatasetStore
from ctfluent_dagster.transport import RetryPolicy, Timeouts


class ApiResource(ConfigurableResource):
    """Limits every API resource shares: rate, connections, timeouts, retries."""

    requests_per_second: float | None = None
    # Where that rate is counted, so that every run process (and pod) shares it: a database URL, the ledger's
    # (CTFLUENT_LEDGER_URL); unset: the default ledger's place (SQLite under DAGSTER_HOME, for the processes of one
    # host). See transport.RateLimiter.
    rate_limit_url: str | None = None
    max_connections: int = 16
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 60.0
    retry_budget_seconds: float = 120.0
    retry_max_attempts: int = 6
    retry_initial_backoff_seconds: float = 0.5

    def timeouts(self) -> Timeouts:
        return Timeouts(self.connect_timeout_seconds, self.read_timeout_seconds)

    def rate_limit_state(self) -> str | None:
        """Where the rate is counted, when there is one."""
        return (self.rate_limit_url or default_ledger_url()) if self.requests_per_second else None

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.retry_max_attempts,
            budget_seconds=self.retry_budget_seconds,
            initial_backoff_seconds=self.retry_initial_backoff_seconds,
        )


class CommercetoolsResource(ApiResource):
    """commercetools API client credentials and limits. ``api_url``/``auth_url`` win over ``region``."""

    project_key: str
    client_id: str
    client_secret: str
    scopes: str = " ".join(BASE_READ_SCOPES)  # the code location adds each entity's scopes
    region: str | None = None
    api_url: str | None = None
    auth_url: str | None = None
    _client: CommercetoolsClient | None = PrivateAttr(default=None)

    def client_settings(self) -> CommercetoolsSettings:
        """What the client is built from (a push shard process builds its own from it)."""
        return CommercetoolsSettings(
            project_key=self.project_key,
            client_id=self.client_id,
            client_secret=self.client_secret,
            scopes=self.scopes,  # split by the settings validator
            region=self.region or None,
            api_url=self.api_url or None,
            auth_url=self.auth_url or None,
            requests_per_second=self.requests_per_second,
            rate_limit_url=self.rate_limit_state(),
            max_connections=self.max_connections,
            timeouts=self.timeouts(),
            retry=self.retry_policy(),
        )

    def get_client(self) -> CommercetoolsClient:
        if self._client is None:
            self._client = CommercetoolsClient(self.client_settings())
        return self._client


class CommercetoolsWriteResource(CommercetoolsResource):
    """The API client that writes to commercetools (the entities synced from Fluent), with the ``manage_*`` scopes
    the reading client never gets. Without credentials those entities are off."""

    client_id: str = ""
    client_secret: str = ""
    scopes: str = ""  # the code location passes the scopes the commercetools targets declare

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)


class FluentResource(ApiResource):
    """Fluent account root, API client and user login."""

    host: str
    client_id: str
    client_secret: str
    username: str
    password: str
    _client: FluentClient | None = PrivateAttr(default=None)

    def client_settings(self) -> FluentSettings:
        """What the client is built from (a push shard process builds its own from it)."""
        return FluentSettings(
            host=self.host,
            client_id=self.client_id,
            client_secret=self.client_secret,
            username=self.username,
            password=self.password,
            requests_per_second=self.requests_per_second,
            rate_limit_url=self.rate_limit_state(),
            max_connections=self.max_connections,
            timeouts=self.timeouts(),
            retry=self.retry_policy(),
        )

    def get_client(self) -> FluentClient:
        if self._client is None:
            self._client = FluentClient(self.client_settings())
        return self._client


class ContextResource(ConfigurableResource):
    """The deployment's values the entities declare they need besides their settings (``entity.ContextValue``: the
    default Fluent retailer, the product catalogue, ...), by name; the code location reads each from its environment
    variable (an ``EnvVar``). An empty value is unset."""

    values: dict[str, str] = {}

    def by_name(self) -> dict[str, str | None]:
        return {name: value or None for name, value in self.values.items()}


class LedgerResource(ConfigurableResource):
    """The sync ledger's database: ``CTFLUENT_LEDGER_URL``, else SQLite under DAGSTER_HOME (or ``.ctfluent/``)."""

    url: str | None = None

    _ledger: Ledger | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._ledger = Ledger(self.url or default_ledger_url())
        self._ledger.migrate()

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._ledger is not None:
            self._ledger.engine.dispose()

    def get_ledger(self) -> Ledger:
        if self._ledger is None:
            raise RuntimeError("the ledger resource is used outside of a run")
        return self._ledger


class SyncSettingsResource(ConfigurableResource):
    """The sync's non-secret settings (see ``settings.py``), read afresh for each run from the settings file and
    CTFLUENT_* variables (the partitions' start date is read once, when the code location loads)."""

    _settings: SyncSettings | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._settings = read_settings()

    @property
    def settings(self) -> SyncSettings:
        if self._settings is None:
            self._settings = read_settings()
        return self._settings

    def staging(self) -> DatasetStore:
        """The staged datasets: at ``staging_dir`` (a path or an object store URL), else under DAGSTER_HOME."""
        return DatasetStore.from_settings(self.settings)
