"""A plain-Python Fluent Commerce GraphQL client: password-grant auth with renewal, typed errors by Fluent code.

Fluent reports failures in the GraphQL ``errors`` array, whatever the HTTP status. Where the code sits is not
documented (``extensions.code`` or a prefix of the message), so both are read. Codes decide the error class:
C0120E not found, C0121E/C0123E/C0128E already exists, C0011E/C0003E and S-codes temporary, the rest permanent.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests
from graphql import (
    GraphQLSchema,
    OperationDefinitionNode,
    build_client_schema,
    get_introspection_query,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from ctfluent_dagster.fluent.operations import Operation
from ctfluent_dagster.transport import (
    AccessToken,
    ApiError,
    AuthenticationError,
    BearerJsonApi,
    PermanentApiError,
    RateLimiter,
    RetryPolicy,
    TemporaryApiError,
    Timeouts,
    TokenCache,
    classify_http_failure,
    classify_transport_failure,
    new_session,
)

log = logging.getLogger(__name__)

_FLUENT_CODE = re.compile(r"\b([CST]\d{4}[EW])\b")
NOT_FOUND_CODES = frozenset({"C0120E"})
ALREADY_EXISTS_CODES = frozenset({"C0121E", "C0123E", "C0128E"})
RETRY_LATER_CODES = frozenset({"C0011E", "C0003E"})  # rate limit, Virtual View initialising


class FluentSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: str  # the account root with scheme, e.g. https://ACME.sandbox.api.fluentretail.com
    client_id: str
    client_secret: SecretStr
    username: str
    password: SecretStr
    timeouts: Timeouts = Field(default_factory=Timeouts)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    requests_per_second: float | None = None
    # Where the rate is counted, shared by every process that names it (a SQLAlchemy URL: the ledger's database);
    # unset: this process only. See transport.RateLimiter.
    rate_limit_url: SecretStr | None = None
    max_connections: int = 8

    @field_validator("host")
    @classmethod
    def _full_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("FLUENT_HOST must be a full URL with its scheme, e.g. https://ACME.api.fluentretail.com")
        return value.rstrip("/")


@dataclass(frozen=True)
class GraphQLErrorDetail:
    code: str | None
    message: str
    path: tuple[str | int, ...] = ()


def _details(errors: Sequence[Mapping[str, Any]]) -> list[GraphQLErrorDetail]:
    details = []
    for error in errors:
        message = str(error.get("message", ""))
        code = (error.get("extensions") or {}).get("code")
        if not code:
            match = _FLUENT_CODE.search(message)
            code = match.group(1) if match else None
        details.append(GraphQLErrorDetail(code=code, message=message, path=tuple(error.get("path") or ())))
    return details


class FluentGraphQLError(PermanentApiError):
    def __init__(self, details: list[GraphQLErrorDetail], status: int | None = None) -> None:
        first = next((d for d in details if d.code), details[0])
        super().__init__("; ".join(d.message for d in details), status=status, code=first.code)
        self.details = details


class FluentNotFoundError(FluentGraphQLError):
    """C0120E: the entity to update (or referenced) does not exist."""


class FluentAlreadyExistsError(FluentGraphQLError):
    """A unique key is taken (C0121E/C0123E/C0128E): the entity exists, look it up."""


class FluentRetryLaterError(TemporaryApiError):
    """Rate limited (C0011E), initialising (C0003E) or a server-side S-code. Fluent applies no partial mutation,
    so nothing was written."""


def error_from_graphql(errors: Sequence[Mapping[str, Any]], status: int | None = None) -> ApiError:
    details = _details(errors)
    codes = {d.code for d in details if d.code}
    if codes & RETRY_LATER_CODES or any(code.startswith("S") for code in codes):
        return FluentRetryLaterError(
            "; ".join(d.message for d in details), status=status, code=sorted(codes)[0], maybe_applied=False
        )
    if codes & NOT_FOUND_CODES:
        return FluentNotFoundError(details, status)
    if codes & ALREADY_EXISTS_CODES:
        return FluentAlreadyExistsError(details, status)
    return FluentGraphQLError(details, status)


def _graphql_values(value: Any) -> Any:
    """Variables as JSON: money is kept as ``Decimal`` up to here and sent as Fluent's ``Float`` (the shortest
    float that reads back as the same decimal, so 19.99 stays 19.99 on the wire)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {key: _graphql_values(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_graphql_values(item) for item in value]
    return value


class FluentClient(BearerJsonApi):
    api_name = "fluent"

    def __init__(self, settings: FluentSettings, session: requests.Session | None = None) -> None:
        self.settings = settings
        super().__init__(
            base_url=settings.host,
            tokens=TokenCache(self._fetch_token),
            timeouts=settings.timeouts,
            retry=settings.retry,
            rate_limiter=RateLimiter(
                settings.requests_per_second, api=self.api_name, state_url=settings.rate_limit_url
            ),
            session=session or new_session(settings.max_connections),
        )
        self._schema: GraphQLSchema | None = None
        self._schema_lock = threading.Lock()
        self._valid_documents: set[str] = set()

    # -- auth --------------------------------------------------------------------------------------

    def _token_request(self, form: dict[str, str]) -> AccessToken:
        secret = self.settings.client_secret.get_secret_value()
        form = {"client_id": self.settings.client_id, "client_secret": secret} | form
        try:
            response = self.session.post(f"{self.base_url}/oauth/token", data=form, timeout=self.timeouts.as_requests())
        except requests.RequestException as exc:
            raise classify_transport_failure(exc) or PermanentApiError(f"token request failed: {exc}") from exc
        if response.status_code in (400, 401, 403):
            raise AuthenticationError("Fluent refused the login", status=response.status_code)
        if response.status_code >= 400:
            raise self.error_from_response(response)
        body = response.json()
        return AccessToken(
            value=body["access_token"],
            expires_at=time.monotonic() + float(body.get("expires_in", 3600)),
            scope=body.get("scope", ""),
            refresh_token=body.get("refresh_token"),
        )

    def _fetch_token(self, previous: AccessToken | None) -> AccessToken:
        if previous is not None and previous.refresh_token:
            try:
                return self._token_request({"grant_type": "refresh_token", "refresh_token": previous.refresh_token})
            except AuthenticationError:
                # Refresh tokens are single-use; fall back to a full login, as Fluent recommends.
                log.info("Fluent refresh token refused; logging in again")
        return self._token_request(
            {
                "grant_type": "password",
                "username": self.settings.username,
                "password": self.settings.password.get_secret_value(),
                "scope": "api",
            }
        )

    def login(self) -> AccessToken:
        """Obtain (or reuse) a token now: the pre-flight check of the credentials."""
        return self.tokens.get()

    # -- errors ------------------------------------------------------------------------------------

    def error_from_response(self, response: requests.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code == 401:
            return AuthenticationError("Fluent refused the access token", status=401)
        errors = body.get("errors") if isinstance(body, dict) else None
        if response.status_code == 429 or response.status_code >= 500 or not errors:
            message = str(errors or body.get("error_description") or response.text[:300] or response.reason)
            return classify_http_failure(response, message, None)
        return error_from_graphql(errors, response.status_code)

    # -- GraphQL -----------------------------------------------------------------------------------

    def execute(self, operation: Operation, variables: Mapping[str, Any]) -> dict[str, Any]:
        """Run a named operation and return its ``data``; GraphQL errors raise typed errors."""

        def parse_answer(response: requests.Response) -> dict[str, Any]:
            body = response.json()
            if body.get("errors"):
                raise error_from_graphql(body["errors"], response.status_code)
            data: dict[str, Any] = body["data"]
            return data

        return self.call(
            "POST",
            "/graphql",
            json={
                "query": operation.document,
                "variables": _graphql_values(variables),
                "operationName": operation.name,
            },
            parse=parse_answer,
            retry_safe=operation.retry_safe,
        )

    def send_event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /api/v4.1/event/sync``: Fluent runs the event's workflow rules before it answers (``eventStatus``).
        Never resent once it may have been applied (an event is no keyed write): a caller that must not apply it
        twice checks the entity's state before sending, as a retry would."""

        def parse_answer(response: requests.Response) -> dict[str, Any]:
            body: dict[str, Any] = response.json() if response.content else {}
            return body

        return self.call("POST", "/api/v4.1/event/sync", json=dict(event), parse=parse_answer, retry_safe=False)

    def schema(self) -> GraphQLSchema:
        """The server's own schema, by introspection (once per client), to check documents changed at run time."""
        with self._schema_lock:
            if self._schema is None:

                def parse_answer(response: requests.Response) -> GraphQLSchema:
                    body = response.json()
                    if body.get("errors"):
                        raise error_from_graphql(body["errors"], response.status_code)
                    return build_client_schema(body["data"])

                self._schema = self.call(
                    "POST",
                    "/graphql",
                    json={"query": get_introspection_query(descriptions=False)},
                    parse=parse_answer,
                    retry_safe=True,
                )
            return self._schema

    def check(self, operation: Operation, variables: Mapping[str, Any]) -> None:
        """Validate a document and its variables against the server's schema; raise before sending a bad one."""
        schema = self.schema()
        document = parse(operation.document)
        known_valid = operation.document in self._valid_documents
        problems = [] if known_valid else [error.message for error in validate(schema, document)]
        if not problems:
            self._valid_documents.add(operation.document)
            definition = document.definitions[0]
            assert isinstance(definition, OperationDefinitionNode)
            coerced = get_variable_values(schema, definition.variable_definitions or [], dict(variables))
            if isinstance(coerced, list):
                problems = [error.message for error in coerced]
        if problems:
            raise PermanentApiError(f"{operation.name} does not fit Fluent's schema: {'; '.join(problems)}")
