"""What the commercetools and Fluent clients share: error classes, retries, rate limiting, HTTP sessions.

Error classes decide retries:

* :class:`TemporaryApiError`: 429, 5xx, connection errors, timeouts, Fluent's C0011E and S-codes. Retried with
  exponential backoff and jitter (or the server's ``Retry-After``) within a time budget.
* :class:`PermanentApiError`: anything a retry cannot fix (bad input, not found, conflicts, auth/config).

A temporary error on a write is retried only when the write is *retry-safe*: either the server certainly did not
apply it (refused with 429/503, or the connection never opened), or the operation is keyed so that a replay of an
applied write fails as "already exists" instead of creating a duplicate (e.g. ``createCustomer`` by username).
"""

from __future__ import annotations

import abc
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import requests
from pydantic import SecretStr
from pyrate_limiter import AbstractBucket, Duration, InMemoryBucket, Limiter, PostgresBucket, Rate, SQLiteBucket
from requests.adapters import HTTPAdapter
from sqlalchemy.engine import URL, make_url
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, stop_after_delay
from tenacity.wait import wait_exponential_jitter

from ctfluent_dagster.privacy import redact

log = logging.getLogger(__name__)

T = TypeVar("T")


class ApiError(Exception):
    """An API call that did not succeed. ``code`` is the API's own error code when it sent one.

    The message is redacted on the way in: server texts quote input values (a duplicate username holds an email),
    and these errors end up in logs, metadata and the ledger.
    """

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def __str__(self) -> str:
        parts = [p for p in (self.code, f"HTTP {self.status}" if self.status else None) if p]
        return f"{self.message} ({', '.join(parts)})" if parts else self.message


class PermanentApiError(ApiError):
    """Retrying cannot help: fix the input or the configuration."""


class TemporaryApiError(ApiError):
    """Worth retrying later. ``maybe_applied``: a write may have happened although no answer came back."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        maybe_applied: bool = True,
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after
        self.maybe_applied = maybe_applied


class AuthenticationError(PermanentApiError):
    """Credentials refused (HTTP 401 after a fresh token, or at the token endpoint)."""


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP-date; the backoff schedule applies instead


def classify_http_failure(response: requests.Response, message: str, code: str | None) -> ApiError:
    """Map a non-2xx answer to an error class. 429/503 mean the server refused: nothing was applied."""
    status = response.status_code
    if status == 429 or status >= 500:
        return TemporaryApiError(
            message,
            status=status,
            code=code,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            maybe_applied=status not in (429, 503),
        )
    return PermanentApiError(message, status=status, code=code)


def classify_transport_failure(exc: requests.RequestException) -> TemporaryApiError | None:
    """Connection-level failures. A refused/timed-out *connect* never reached the server."""
    if isinstance(exc, requests.ConnectTimeout):
        return TemporaryApiError(f"connect timeout: {exc}", maybe_applied=False)
    if isinstance(exc, requests.ConnectionError):
        never_sent = "NewConnectionError" in repr(exc) or "Connection refused" in str(exc)
        return TemporaryApiError(f"connection error: {exc}", maybe_applied=not never_sent)
    if isinstance(exc, requests.Timeout):
        return TemporaryApiError(f"read timeout: {exc}", maybe_applied=True)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return TemporaryApiError(f"answer cut off: {exc}", maybe_applied=True)
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded by attempts and a total time budget."""

    max_attempts: int = 6
    budget_seconds: float = 120.0
    initial_backoff_seconds: float = 0.5
    max_backoff_seconds: float = 30.0
    jitter_seconds: float = 0.5
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def run(self, call: Callable[[], T], *, retry_safe: bool, describe: str) -> T:
        """Call ``call`` until it succeeds, fails permanently, or the budget runs out (then re-raise)."""
        backoff = wait_exponential_jitter(
            multiplier=self.initial_backoff_seconds, max=self.max_backoff_seconds, jitter=self.jitter_seconds
        )

        def should_retry(exc: BaseException) -> bool:
            return isinstance(exc, TemporaryApiError) and (retry_safe or not exc.maybe_applied)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, TemporaryApiError) and exc.retry_after is not None:
                return min(exc.retry_after, self.budget_seconds)
            return float(backoff(state))

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            sleep = state.next_action.sleep if state.next_action else 0.0
            log.warning("%s failed (attempt %d): %s; retrying in %.1fs", describe, state.attempt_number, exc, sleep)

        retrying = Retrying(
            retry=retry_if_exception(should_retry),
            wait=wait,
            stop=stop_after_attempt(self.max_attempts) | stop_after_delay(self.budget_seconds),
            before_sleep=before_sleep,
            sleep=self.sleep,
            reraise=True,
        )
        return retrying(call)


class RateLimiter:
    """A requests-per-second cap on one API, for every client of this process and, given ``state_url``, for every
    process that names the same database (each run's process or pod, the sensors): they all count their requests there.

    ``state_url`` is a SQLAlchemy URL, the ledger's. On PostgreSQL the count is a table of that database
    (``ratelimit___ctfluent_<api>``, pyrate-limiter's ``PostgresBucket``, timed by the database's clock and updated
    under a table lock); on SQLite it is a file beside the ledger's (``<ledger>.ratelimit.sqlite``, its
    ``SQLiteBucket`` under a file lock: the processes of one host). Without ``state_url`` (or for a SQLite database
    in memory) the count is this process's alone.

    The shared count is reached at the first request. When it cannot be (the database is down or times out), the
    request is not sent: it fails as a temporary error that was never applied, which the retry policy retries within
    its budget. So the limit holds even then, and the sync stops with its ledger, which lives in the same database.
    """

    def __init__(
        self,
        requests_per_second: float | None,
        *,
        api: str = "api",
        state_url: SecretStr | None = None,
        state_timeout_seconds: float = 10.0,
    ) -> None:
        self._requests_per_second = requests_per_second
        self._api = api
        self._state_url = make_url(state_url.get_secret_value()) if state_url else None
        self._state_timeout_seconds = state_timeout_seconds

    @property
    def state(self) -> str | None:
        """Where the count lives, without the password (safe to log); None without a rate: nothing is counted."""
        if not self._requests_per_second:
            return None
        return "this process" if self._state_url is None else self._state_url.render_as_string(hide_password=True)

    def acquire(self) -> None:
        """Wait until one more request fits the rate (no rate: at once)."""
        if not self._requests_per_second:
            return
        try:
            limiter = _limiter(self._api, self._requests_per_second, self._state_url, self._state_timeout_seconds)
            limiter.try_acquire(self._api, blocking=True)
        except Exception as exc:
            raise TemporaryApiError(
                f"the {self._api} rate limit cannot be counted at {self.state}: {self._without_password(exc)}",
                maybe_applied=False,
            ) from exc

    def _without_password(self, exc: Exception) -> str:
        text = f"{type(exc).__name__}: {exc}"
        password = self._state_url.password if self._state_url is not None else None
        return text.replace(str(password), "***") if password else text


# One limiter per API, rate and place in a process: the clients built in it (a sensor builds them at every tick)
# share its count, its database connections and its background thread that drops expired entries.
_LIMITERS: dict[tuple[str, float, str | None], Limiter] = {}
_LIMITERS_LOCK = threading.Lock()


def _limiter(api: str, requests_per_second: float, state_url: URL | None, timeout_seconds: float) -> Limiter:
    place = None if state_url is None else state_url.render_as_string(hide_password=False)
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get((api, requests_per_second, place))
        if limiter is None:
            bucket = _bucket(api, [_rate(requests_per_second)], state_url, timeout_seconds)
            limiter = _LIMITERS[api, requests_per_second, place] = Limiter(bucket)
            where = "this process" if state_url is None else state_url.render_as_string(hide_password=True)
            log.info("%s: at most %s requests per second, counted at %s", api, requests_per_second, where)
        return limiter


def _rate(requests_per_second: float) -> Rate:
    if requests_per_second >= 1:
        return Rate(round(requests_per_second), Duration.SECOND)
    return Rate(1, math.ceil(1000 / requests_per_second))


def _bucket(api: str, rates: list[Rate], state_url: URL | None, timeout_seconds: float) -> AbstractBucket:
    if state_url is None:
        return InMemoryBucket(rates)
    backend = state_url.get_backend_name()
    if backend == "postgresql":
        return _postgres_bucket(api, rates, state_url, timeout_seconds)
    if backend == "sqlite":
        if state_url.database in (None, "", ":memory:"):
            return InMemoryBucket(rates)  # a ledger in memory is this process's alone too
        path = Path(state_url.database).with_suffix(".ratelimit.sqlite")
        return SQLiteBucket.init_from_file(rates, table=api, db_path=str(path), use_file_lock=True)
    raise ValueError(f"a rate limit is counted on PostgreSQL or SQLite, not {backend}")


def _postgres_bucket(api: str, rates: list[Rate], url: URL, timeout_seconds: float) -> AbstractBucket:
    # psycopg 3, which pyrate-limiter speaks; the URL's query (sslmode=...) is passed on as libpq parameters.
    from psycopg.conninfo import make_conninfo
    from psycopg_pool import ConnectionPool

    name = f"ctfluent-ratelimit-{api}"
    parameters = {"application_name": name} | {key: str(value) for key, value in url.query.items()}
    conninfo = make_conninfo(
        host=url.host, port=url.port, dbname=url.database, user=url.username, password=url.password,
        connect_timeout=max(1, round(timeout_seconds)), **parameters,
    )  # fmt: skip
    # One connection counts (the limiter serialises the threads), another drops expired entries in the background.
    pool = ConnectionPool(conninfo, min_size=1, max_size=2, num_workers=1, timeout=timeout_seconds, open=True,
                          name=name)  # fmt: skip
    try:
        return PostgresBucket(pool, f"ctfluent_{api}", rates)
    except Exception:
        pool.close()  # its workers would keep reconnecting; the next request builds a new one
        raise


def new_session(pool_size: int) -> requests.Session:
    """A session whose connection pool fits the number of threads that share it."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max(pool_size, 1))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    expires_at: float  # time.monotonic() deadline
    scope: str = ""
    refresh_token: str | None = field(default=None, repr=False)


class TokenCache:
    """Holds one access token for all threads; renews it shortly before expiry and after a 401.

    ``fetch`` receives the previous token (or None), so a grant with refresh tokens can use it.
    """

    def __init__(self, fetch: Callable[[AccessToken | None], AccessToken], renew_before_seconds: float = 60.0) -> None:
        self._fetch = fetch
        self._renew_before = renew_before_seconds
        self._token: AccessToken | None = None
        self._lock = threading.Lock()

    def get(self) -> AccessToken:
        with self._lock:
            token = self._token
            if token is None or time.monotonic() >= token.expires_at - self._renew_before:
                token = self._token = self._fetch(token)
            return token

    def invalidate(self, token: AccessToken) -> None:
        """Drop ``token`` after the server refused it, unless another thread already replaced it."""
        with self._lock:
            if self._token is token:
                self._token = replace(token, expires_at=0.0)


@dataclass(frozen=True)
class Timeouts:
    connect_seconds: float = 5.0
    read_seconds: float = 60.0

    def as_requests(self) -> tuple[float, float]:
        return (self.connect_seconds, self.read_seconds)


class BearerJsonApi(abc.ABC):
    """A JSON API behind bearer tokens: rate limit, timeouts, one token renewal on 401, error classes, retries."""

    api_name: str

    def __init__(
        self,
        *,
        base_url: str,
        tokens: TokenCache,
        timeouts: Timeouts,
        retry: RetryPolicy,
        rate_limiter: RateLimiter,
        session: requests.Session,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.timeouts = timeouts
        self.retry = retry
        self.rate_limiter = rate_limiter
        self.session = session

    @abc.abstractmethod
    def error_from_response(self, response: requests.Response) -> ApiError:
        """Read the API's error body into an error of the right class."""

    def call(
        self,
        method: str,
        path: str,
        *,
        parse: Callable[[requests.Response], T],
        retry_safe: bool,
        params: Any = None,
        json: Any = None,
    ) -> T:
        """Send a request (retrying per :class:`RetryPolicy`) and return ``parse(response)`` of a 2xx answer.

        ``parse`` runs inside the retried attempt, so it may raise :class:`TemporaryApiError` for failures that
        come with a 200 (Fluent's GraphQL error codes).
        """
        url = f"{self.base_url}{path}"

        def attempt() -> T:
            response = self._send_authorised(method, url, params=params, json=json)
            if response.status_code >= 400:
                raise self.error_from_response(response)
            return parse(response)

        return self.retry.run(attempt, retry_safe=retry_safe, describe=f"{self.api_name} {method} {path}")

    def _send_authorised(self, method: str, url: str, *, params: Any, json: Any) -> requests.Response:
        for renewed in (False, True):
            token = self.tokens.get()
            self.rate_limiter.acquire()
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers={"Authorization": f"Bearer {token.value}"},
                    timeout=self.timeouts.as_requests(),
                )
            except requests.RequestException as exc:
                raise classify_transport_failure(exc) or PermanentApiError(f"request failed: {exc}") from exc
            if response.status_code != 401 or renewed:
                return response
            self.tokens.invalidate(token)
        raise AssertionError("unreachable")  # the loop returns on its second pass
