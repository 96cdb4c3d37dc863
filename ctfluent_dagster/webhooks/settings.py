"""The webhook service's settings, from environment variables (an empty value counts as unset).

- ``FLUENT_WEBHOOK_PUBLIC_KEYS`` (required): Fluent's public key(s) for the ``fluent-signature`` header, base64 DER
  (X.509 SubjectPublicKeyInfo), comma-separated when more than one (a key rotation, several Fluent environments).
- ``FLUENT_ACCOUNT_ID``: the Fluent account whose events are accepted (Fluent signs with one key per region and
  environment, so every account there can sign). Default: the account name of ``FLUENT_HOST`` when it is a Fluent
  host (``https://<ACCOUNT>.api.fluentretail.com``, ``…sandbox.api…``); otherwise required, unless running locally.
- the context values the entities read from Fluent declare (``FLUENT_RETAILER_ID``: the default retailer, one of
  those whose events are taken, with the settings' others), read by the service from their variables.
- ``CTFLUENT_LEDGER_URL`` (required unless running locally): the database events are kept in, the ledger's. The
  receiver runs no DDL: ``ctfluent-migrate`` brings the schema up to date.
- ``CTFLUENT_WEBHOOKS__LOCAL``: running locally (the sandbox): the ledger may default to SQLite under DAGSTER_HOME
  and, without an account, events of any account are accepted.
- ``CTFLUENT_WEBHOOKS__PATH``, ``__MAX_BODY_BYTES``, ``__HOST``, ``__PORT``: where and how much it takes.
- ``CTFLUENT_WEBHOOKS__BODY_TIMEOUT_SECONDS`` (10): a request whose body is not complete by then gets 408;
  ``__KEEP_ALIVE_SECONDS`` (5) and ``__MAX_CONCURRENCY`` (100) bound idle and open connections (uvicorn);
  ``__MAX_JSON_DEPTH`` (32) and ``__MAX_NUMBER_DIGITS`` (40) bound what a signed body may hold (else 400).
- ``CTFLUENT_WEBHOOKS__DAGSTER_URL`` (optional): the Dagster webserver (or Dagster+ deployment, e.g.
  ``https://org.dagster.cloud/prod``) where each new event of a type the project acts on launches that type's
  webhook job at once, instead of waiting for the sensor's next tick; ``__DAGSTER_HEADERS`` (a JSON object, e.g.
  ``{"Dagster-Cloud-Api-Token": "..."}`` or a proxy's token: a secret, never logged); ``__DAGSTER_LOCATION`` /
  ``__DAGSTER_REPOSITORY`` name the code location.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ctfluent_dagster.webhooks.signature import InvalidPublicKey, SignatureVerifier, split_keys

PUBLIC_KEYS_VARIABLE = "FLUENT_WEBHOOK_PUBLIC_KEYS"
ACCOUNT_VARIABLE = "FLUENT_ACCOUNT_ID"
LEDGER_VARIABLE = "CTFLUENT_LEDGER_URL"
# Fluent's account roots: https://<ACCOUNT>.api.fluentretail.com (production) and ...sandbox.api.fluentretail.com;
# the Connect SDK's documentation also shows ...api.fluentcommerce.com.
_FLUENT_HOST = re.compile(r"^(?P<account>[A-Za-z0-9-]+)\.(?:sandbox\.)?api\.fluent(?:retail|commerce)\.com$")


class ConfigurationError(RuntimeError):
    """The service cannot start with these settings; the message says what to fix."""


def account_of_host(host: str | None) -> str | None:
    """The account name of a Fluent account root (``https://ACME.api.fluentretail.com`` -> ``acme``: host names are
    case-insensitive, and so is the comparison with events' ``accountId``); None for another host."""
    if not host:
        return None
    match = _FLUENT_HOST.match(urlsplit(host if "//" in host else f"//{host}").hostname or "")
    return match.group("account") if match else None


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CTFLUENT_WEBHOOKS__", env_ignore_empty=True, extra="ignore", frozen=True, populate_by_name=True
    )

    # Comma-separated base64 DER public keys (not a secret, but required: see verifier()).
    public_keys: str = Field(default="", validation_alias=PUBLIC_KEYS_VARIABLE)
    account_id: str | None = Field(default=None, validation_alias=ACCOUNT_VARIABLE)
    fluent_host: str | None = Field(default=None, validation_alias="FLUENT_HOST")
    ledger_url: str | None = Field(default=None, validation_alias=LEDGER_VARIABLE)
    local: bool = False
    path: str = "/fluent/webhooks"
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    body_timeout_seconds: float = Field(default=10.0, gt=0)
    keep_alive_seconds: int = Field(default=5, ge=1)
    max_concurrency: int = Field(default=100, ge=1)
    max_json_depth: int = Field(default=32, ge=2)
    max_number_digits: int = Field(default=40, ge=1)
    host: str = "127.0.0.1"
    port: int = Field(default=8090, ge=0, le=65535)
    dagster_url: str | None = None
    dagster_headers: SecretStr | None = None
    dagster_location: str = "ctfluent_dagster"
    dagster_repository: str = "__repository__"

    @field_validator("path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith("/") or value == "/health":
            raise ValueError("must start with '/' and not be /health")
        return value.rstrip("/") or "/"

    @field_validator("dagster_headers")
    @classmethod
    def _headers_object(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                parsed = json.loads(value.get_secret_value())
            except json.JSONDecodeError:
                raise ValueError("must be a JSON object of header names and values") from None
            if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
                raise ValueError("must be a JSON object of header names and string values")
        return value

    def headers(self) -> dict[str, str]:
        """The headers sent with every request to Dagster (e.g. a Dagster+ API token)."""
        return dict(json.loads(self.dagster_headers.get_secret_value())) if self.dagster_headers else {}

    def expected_account(self) -> str | None:
        """The account whose events are accepted; None (any account) only when running locally without one."""
        account = (self.account_id or "").strip() or account_of_host(self.fluent_host)
        if account or self.local:
            return account
        raise ConfigurationError(
            f"{ACCOUNT_VARIABLE} is not set and FLUENT_HOST ({self.fluent_host or 'unset'}) is no Fluent account root: "
            "Fluent signs every account's events of a region with one key, so the receiver must know which account "
            f"is yours. Set {ACCOUNT_VARIABLE} (or CTFLUENT_WEBHOOKS__LOCAL=true in the sandbox)."
        )

    def required_ledger_url(self) -> str | None:
        """The ledger database; None (the local default) only when running locally."""
        if self.ledger_url or self.local:
            return self.ledger_url
        raise ConfigurationError(
            f"{LEDGER_VARIABLE} is not set: the receiver records events in the ledger database that the Dagster runs "
            "read; without it they would go to a local file no run sees. Set it (or CTFLUENT_WEBHOOKS__LOCAL=true "
            "when running locally)."
        )

    def verifier(self) -> SignatureVerifier:
        """The signature verifier of the configured keys; :class:`ConfigurationError` when there are none or one
        does not load."""
        keys = split_keys(self.public_keys)
        if not keys:
            raise ConfigurationError(
                f"{PUBLIC_KEYS_VARIABLE} is not set: the webhook service accepts only events signed by Fluent and "
                "needs Fluent's public key(s) (base64 DER, comma-separated; from Fluent for your account's region "
                "and environment). Refusing to start."
            )
        try:
            return SignatureVerifier(keys)
        except InvalidPublicKey as exc:
            raise ConfigurationError(f"{PUBLIC_KEYS_VARIABLE}: {exc}") from None
