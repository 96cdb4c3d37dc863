"""A plain-Python commercetools HTTP client: client-credentials auth, paged queries, project settings.

Reads page by id cursor (``sort=id asc``, ``where=id > "<last>"``, ``limit=500``, ``withTotal=false``), the
documented way to iterate a whole resource past the 10,000 offset limit; a ``lastModifiedAt`` window joins the
same predicate. Messages are read by keyset on ``(createdAt, id)``.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from ctfluent_dagster.commercetools.models import Message, PagedQueryResponse, Project, TokenInfo
from ctfluent_dagster.commercetools.predicates import all_of, quote, timestamp
from ctfluent_dagster.transport import (
    AccessToken,
    ApiError,
    AuthenticationError,
    BearerJsonApi,
    PermanentApiError,
    RateLimiter,
    RetryPolicy,
    Timeouts,
    TokenCache,
    classify_http_failure,
    classify_transport_failure,
    new_session,
)

MAX_PAGE_SIZE = 500  # the API's `limit` maximum
# With a predicate, `total` is capped at the largest offset (10,000): a count of that much means "at least".
MAX_COUNTED = 10_000
IDS_PER_QUERY = 100  # keeps `id in :ids` URLs far below common URL length limits
# Reading needs only `view_*`; `manage_project` grants everything and is refused outright. These are what the
# core reads (messages, the project's message settings); each entity declares the scopes of its own resources.
BASE_READ_SCOPES = ("view_messages", "view_project_settings")
_SCOPE_NAME = re.compile(r"^[a-z_]+$")
Params = Sequence[tuple[str, str]]


class CommercetoolsSettings(BaseModel):
    """Connection settings. ``api_url``/``auth_url`` win over ``region``; one of them is required."""

    model_config = ConfigDict(frozen=True)

    project_key: str
    client_id: str
    client_secret: SecretStr
    scopes: tuple[str, ...] = BASE_READ_SCOPES
    region: str | None = None
    api_url: str | None = None
    auth_url: str | None = None
    timeouts: Timeouts = Field(default_factory=Timeouts)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    requests_per_second: float | None = None
    # Where the rate is counted, shared by every process that names it (a SQLAlchemy URL: the ledger's database);
    # unset: this process only. See transport.RateLimiter.
    rate_limit_url: SecretStr | None = None
    max_connections: int = 8

    @field_validator("scopes", mode="before")
    @classmethod
    def _split_scopes(cls, value: Any) -> Any:
        return tuple(value.split()) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> CommercetoolsSettings:
        if not (self.region or (self.api_url and self.auth_url)):
            raise ValueError("set CTP_REGION, or both CTP_API_URL and CTP_AUTH_URL")
        for scope in self.scopes:
            if scope.split(":")[0] == "manage_project":
                raise ValueError("refusing the manage_project scope: the sync reads with view_* scopes only")
        return self

    @property
    def resolved_api_url(self) -> str:
        return (self.api_url or f"https://api.{self.region}.commercetools.com").rstrip("/")

    @property
    def resolved_auth_url(self) -> str:
        return (self.auth_url or f"https://auth.{self.region}.commercetools.com").rstrip("/")

    def scope_strings(self) -> list[str]:
        """Scopes as the token endpoint wants them: ``view_customers`` becomes ``view_customers:<projectKey>``."""
        return [f"{s}:{self.project_key}" if _SCOPE_NAME.match(s) else s for s in self.scopes]


def _error_details(response: requests.Response) -> tuple[str, str | None]:
    try:
        body = response.json()
    except ValueError:
        return (response.text[:300] or response.reason or "no body"), None
    errors = body.get("errors") or [{}]
    code = errors[0].get("code") or body.get("error")
    message = errors[0].get("message") or body.get("message") or body.get("error_description") or str(body)[:300]
    return str(message), code


def quote_path(ident: str) -> str:
    """An id or ``key=<key>``/``order-number=<n>`` as one path segment (an order number may hold a slash)."""
    return urllib.parse.quote(ident, safe="=")


class CommercetoolsApiError(PermanentApiError):
    """A permanent commercetools error; ``current_version`` is set on 409 ConcurrentModification."""

    def __init__(self, message: str, *, status: int, code: str | None, current_version: int | None = None) -> None:
        super().__init__(message, status=status, code=code)
        self.current_version = current_version


class CommercetoolsClient(BearerJsonApi):
    api_name = "commercetools"

    def __init__(self, settings: CommercetoolsSettings, session: requests.Session | None = None) -> None:
        self.settings = settings
        session = session or new_session(settings.max_connections)
        super().__init__(
            base_url=f"{settings.resolved_api_url}/{settings.project_key}",
            tokens=TokenCache(self._fetch_token),
            timeouts=settings.timeouts,
            retry=settings.retry,
            rate_limiter=RateLimiter(
                settings.requests_per_second, api=self.api_name, state_url=settings.rate_limit_url
            ),
            session=session,
        )

    # -- auth --------------------------------------------------------------------------------------

    def _auth_post(self, path: str, data: Mapping[str, str]) -> dict[str, Any]:
        try:
            response = self.session.post(
                f"{self.settings.resolved_auth_url}{path}",
                data=data,
                auth=(self.settings.client_id, self.settings.client_secret.get_secret_value()),
                timeout=self.timeouts.as_requests(),
            )
        except requests.RequestException as exc:
            raise classify_transport_failure(exc) or PermanentApiError(f"auth request failed: {exc}") from exc
        if response.status_code in (400, 401, 403):
            message, code = _error_details(response)
            raise AuthenticationError(
                f"commercetools refused the client credentials: {message}", status=response.status_code, code=code
            )
        if response.status_code >= 400:
            raise self.error_from_response(response)
        result: dict[str, Any] = response.json()
        return result

    def _fetch_token(self, previous: AccessToken | None) -> AccessToken:
        body = self._auth_post(
            "/oauth/token", {"grant_type": "client_credentials", "scope": " ".join(self.settings.scope_strings())}
        )
        return AccessToken(
            value=body["access_token"],
            expires_at=time.monotonic() + float(body.get("expires_in", 3600)),
            scope=body.get("scope", ""),
        )

    def introspect(self) -> TokenInfo:
        """What the current token grants (`POST /oauth/introspect`)."""
        token = self.tokens.get()

        def attempt() -> TokenInfo:
            return TokenInfo.model_validate(self._auth_post("/oauth/introspect", {"token": token.value}))

        return self.retry.run(attempt, retry_safe=True, describe="commercetools introspect")

    # -- errors ------------------------------------------------------------------------------------

    def error_from_response(self, response: requests.Response) -> ApiError:
        message, code = _error_details(response)
        if response.status_code == 401:
            return AuthenticationError(message, status=401, code=code)
        generic = classify_http_failure(response, message, code)
        if not isinstance(generic, PermanentApiError):
            return generic
        current_version = None
        if response.status_code == 409:
            try:
                current_version = response.json()["errors"][0].get("currentVersion")
            except (ValueError, KeyError, IndexError):
                current_version = None
        return CommercetoolsApiError(message, status=response.status_code, code=code, current_version=current_version)

    # -- reads -------------------------------------------------------------------------------------

    def get_json(self, path: str, params: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
        def parse(response: requests.Response) -> dict[str, Any]:
            # orjson: a page of products is megabytes of JSON, parsed ~3x faster than by the json module.
            result: dict[str, Any] = orjson.loads(response.content)
            return result

        return self.call("GET", path, params=list(params), parse=parse, retry_safe=True)

    def query(
        self,
        resource: str,
        *,
        where: str | None = None,
        sort: Sequence[str] = (),
        limit: int = 20,
        offset: int = 0,
        with_total: bool = False,
        variables: Mapping[str, str | Sequence[str]] | None = None,
        expand: Sequence[str] = (),
        extra: Params = (),
    ) -> PagedQueryResponse[dict[str, Any]]:
        """One page of `GET /{projectKey}/{resource}` with the API's own query parameters (``extra``: the
        resource's own, e.g. ``staged=false`` for product projections)."""
        params: list[tuple[str, str]] = [
            ("limit", str(limit)),
            ("offset", str(offset)),
            ("withTotal", "true" if with_total else "false"),
            *extra,
        ]
        if where:
            params.append(("where", where))
        params += [("sort", s) for s in sort]
        params += [("expand", e) for e in expand]
        for name, value in (variables or {}).items():
            values = [value] if isinstance(value, str) else list(value)
            params += [(f"var.{name}", v) for v in values]
        return PagedQueryResponse[dict[str, Any]].model_validate(self.get_json(f"/{resource}", params))

    def iterate_by_id(
        self,
        resource: str,
        *,
        where: str | None = None,
        variables: Mapping[str, str | Sequence[str]] | None = None,
        page_size: int = MAX_PAGE_SIZE,
        extra: Params = (),
    ) -> Iterator[list[dict[str, Any]]]:
        """Every matching record, page by page, by id cursor; stops on a short page, never on `total`."""
        last_id: str | None = None
        while True:
            cursor = f"id > {quote(last_id)}" if last_id else None
            page = self.query(
                resource,
                where=all_of(where, cursor),
                sort=["id asc"],
                limit=page_size,
                variables=variables,
                extra=extra,
            )
            if page.results:
                yield page.results
                last_id = page.results[-1]["id"]
            if page.count < page_size:
                return

    def modified_between(
        self,
        resource: str,
        start: datetime | None,
        end: datetime,
        *,
        extra: Params = (),
        page_size: int = MAX_PAGE_SIZE,
        field: str = "lastModifiedAt",
    ) -> Iterator[list[dict[str, Any]]]:
        """Records whose *current* ``field`` (`lastModifiedAt`, or `createdAt`) lies in ``[start, end)`` (``start``
        None: everything before ``end``), as raw JSON pages."""
        window = all_of(f"{field} >= {timestamp(start)}" if start else None, f"{field} < {timestamp(end)}")
        yield from self.iterate_by_id(resource, where=window, page_size=page_size, extra=extra)

    def count_before(self, resource: str, end: datetime, *, extra: Params = (), field: str = "lastModifiedAt") -> int:
        """How many records' ``field`` lies before ``end``, as the API estimates it: with a predicate its ``total``
        stops at the largest offset (:data:`MAX_COUNTED`), so that figure means "at least"."""
        page = self.query(resource, where=f"{field} < {timestamp(end)}", limit=1, with_total=True, extra=extra)
        return page.total if page.total is not None else page.count

    def by_ids(
        self, resource: str, ids: Sequence[str], *, extra: Params = (), page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[list[dict[str, Any]]]:
        """The current state of these records (missing ids, e.g. deleted ones, are simply absent)."""
        unique = sorted(set(ids))
        for start in range(0, len(unique), IDS_PER_QUERY):
            chunk = unique[start : start + IDS_PER_QUERY]
            yield from self.iterate_by_id(
                resource, where="id in :ids", variables={"ids": chunk}, extra=extra, page_size=page_size
            )

    def all_ids(self, resource: str, where: str | None = None, *, extra: Params = ()) -> Iterator[str]:
        """Only the ids of a resource (for reconciliation), page by page."""
        for page in self.iterate_by_id(resource, where=where, extra=extra):
            yield from (record["id"] for record in page)

    def get(self, resource: str, ident: str) -> dict[str, Any] | None:
        """``GET /{resource}/{ident}`` (``ident``: an id or e.g. ``order-number=<n>``); None when there is none."""
        try:
            return self.get_json(f"/{resource}/{quote_path(ident)}")
        except CommercetoolsApiError as exc:
            if exc.status == 404:
                return None
            raise

    def update(self, resource: str, ident: str, version: int, actions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Apply update actions at ``version`` (needs a client with the resource's ``manage_*`` scope). Safe to
        retry: a replay of an applied update meets a newer version and fails with 409, never applies twice."""

        def parse(response: requests.Response) -> dict[str, Any]:
            result: dict[str, Any] = response.json()
            return result

        body = {"version": version, "actions": list(actions)}
        return self.call("POST", f"/{resource}/{quote_path(ident)}", json=body, parse=parse, retry_safe=True)

    def create(self, resource: str, draft: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /{resource}`` with a draft. Retried only when the draft has a ``key``: a replay of an applied create
        then fails with ``DuplicateField`` (the caller reads it by key), never creates twice."""

        def parse(response: requests.Response) -> dict[str, Any]:
            result: dict[str, Any] = response.json()
            return result

        return self.call("POST", f"/{resource}", json=dict(draft), parse=parse, retry_safe=bool(draft.get("key")))

    def delete(self, resource: str, ident: str, version: int) -> dict[str, Any]:
        """``DELETE /{resource}/{ident}?version=``. Safe to retry: a replay meets 404 (gone) or 409, never deletes
        another version."""

        def parse(response: requests.Response) -> dict[str, Any]:
            result: dict[str, Any] = response.json()
            return result

        return self.call("DELETE", f"/{resource}/{quote_path(ident)}", params=[("version", str(version))],
                         parse=parse, retry_safe=True)  # fmt: skip

    def project(self) -> Project:
        return Project.model_validate(self.get_json(""))

    def messages_page(
        self,
        *,
        where: str | None,
        limit: int = MAX_PAGE_SIZE,
        variables: Mapping[str, str | Sequence[str]] | None = None,
    ) -> list[Message]:
        """One page of messages in `(createdAt, id)` order; the caller keeps the keyset cursor."""
        page = self.query("messages", where=where, sort=["createdAt asc", "id asc"], limit=limit, variables=variables)
        return [Message.model_validate(m) for m in page.results]
