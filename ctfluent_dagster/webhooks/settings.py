"""The webhook service's settings, from environment variables (an empty value counts as unset).

- ``FLUENT_WEBHOOK_PUBLIC_KEYS`` (required): Fluent's public key(s) for the ``fluent-signature`` header, base64 DER
  (X.509 SubjectPublicKeyInfo), comma-separated when more than one (a key rotation, several Fluent environments).
- ``CTFLUENT_WEBHOOKS__PATH``: where Fluent posts events (default ``/fluent/webhooks``).
- ``CTFLUENT_WEBHOOKS__MAX_BODY_BYTES``: larger requests are refused with 413 (default 64 KiB).
- ``CTFLUENT_WEBHOOKS__HOST``, ``CTFLUENT_WEBHOOKS__PORT``: where to listen (default 127.0.0.1:8090; the command
  line's ``--host``/``--port`` win).
- ``CTFLUENT_LEDGER_URL``: the database events are kept in, the ledger's (default: SQLite under DAGSTER_HOME).
- ``CTFLUENT_WEBHOOKS__DAGSTER_URL`` and ``CTFLUENT_WEBHOOKS__LAUNCH_JOB`` (optional): the Dagster webserver, and the
  job to launch there when an event arrives (``order_status_from_webhooks``), instead of waiting for the sensor's
  next tick; ``CTFLUENT_WEBHOOKS__DAGSTER_LOCATION``/``__DAGSTER_REPOSITORY`` name the code location.
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ctfluent_dagster.webhooks.launcher import JobLauncher
from ctfluent_dagster.webhooks.signature import InvalidPublicKey, SignatureVerifier, split_keys

PUBLIC_KEYS_VARIABLE = "FLUENT_WEBHOOK_PUBLIC_KEYS"


class ConfigurationError(RuntimeError):
    """The service cannot start with these settings; the message says what to fix."""


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CTFLUENT_WEBHOOKS__", env_ignore_empty=True, extra="ignore", frozen=True, populate_by_name=True
    )

    # Comma-separated base64 DER public keys (not a secret, but required: see verifier()).
    public_keys: str = Field(default="", validation_alias=PUBLIC_KEYS_VARIABLE)
    path: str = "/fluent/webhooks"
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    host: str = "127.0.0.1"
    port: int = Field(default=8090, ge=0, le=65535)
    ledger_url: str | None = Field(default=None, validation_alias="CTFLUENT_LEDGER_URL")
    dagster_url: str | None = None
    launch_job: str | None = None
    dagster_location: str = "ctfluent_dagster"
    dagster_repository: str = "__repository__"

    @field_validator("path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith("/") or value == "/health":
            raise ValueError("must start with '/' and not be /health")
        return value.rstrip("/") or "/"

    def launcher(self) -> JobLauncher | None:
        """What launches ``launch_job`` on the Dagster webserver when an event arrives; None when not configured."""
        if not (self.dagster_url and self.launch_job):
            return None
        url = f"{self.dagster_url.rstrip('/')}/graphql"
        return JobLauncher(url, self.launch_job, self.dagster_location, self.dagster_repository)

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
