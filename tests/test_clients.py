"""The HTTP clients against scripted answers (responses): auth renewal, paging, error classes and retries."""

from __future__ import annotations

import json
from typing import Any, cast
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import responses
from pydantic import ValidationError

from ctfluent_dagster.commercetools.client import CommercetoolsApiError, CommercetoolsClient, CommercetoolsSettings
from ctfluent_dagster.entities.customers.settings import CustomerMappingSettings
from ctfluent_dagster.entities.customers.sync import OPERATIONS, CustomerPush, CustomerSync
from ctfluent_dagster.fluent.client import (
    FluentAlreadyExistsError,
    FluentClient,
    FluentGraphQLError,
    FluentNotFoundError,
    FluentRetryLaterError,
    FluentSettings,
)
from ctfluent_dagster.fluent.operations import Operation
from ctfluent_dagster.records import LedgerKey, PlannedPush
from ctfluent_dagster.transport import AuthenticationError, PermanentApiError, RetryPolicy, TemporaryApiError

CT_API = "https://api.test.commercetools.example"
CT_AUTH = "https://auth.test.commercetools.example"
FLUENT = "https://acme.sandbox.api.fluentretail.example"


class SleepRecorder:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


def fast_retry(sleeps: SleepRecorder, attempts: int = 4) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=attempts, budget_seconds=60, initial_backoff_seconds=0.01, jitter_seconds=0, sleep=sleeps
    )


def ct_client(sleeps: SleepRecorder, **overrides: Any) -> CommercetoolsClient:
    settings = {
        "project_key": "proj",
        "client_id": "cid",
        "client_secret": "csecret",
        "api_url": CT_API,
        "auth_url": CT_AUTH,
        "retry": fast_retry(sleeps),
    } | overrides
    return CommercetoolsClient(CommercetoolsSettings.model_validate(settings))


def ct_token(rsps: responses.RequestsMock, expires_in: int = 172800, token: str = "tok") -> None:
    rsps.post(
        f"{CT_AUTH}/oauth/token",
        json={"access_token": token, "token_type": "Bearer", "expires_in": expires_in, "scope": "view_customers:proj"},
    )


def page(results: list[dict[str, Any]], limit: int = 500) -> dict[str, Any]:
    return {"limit": limit, "offset": 0, "count": len(results), "results": results}


# -- commercetools --------------------------------------------------------------------------------


def test_settings_resolve_region_urls_and_refuse_manage_project() -> None:
    by_region = CommercetoolsSettings(project_key="p", client_id="c", client_secret="s", region="europe-west1.gcp")
    assert by_region.resolved_api_url == "https://api.europe-west1.gcp.commercetools.com"
    assert by_region.resolved_auth_url == "https://auth.europe-west1.gcp.commercetools.com"
    explicit = CommercetoolsSettings(
        project_key="p",
        client_id="c",
        client_secret="s",
        region="europe-west1.gcp",
        api_url="http://x",
        auth_url="http://y",
    )
    assert (explicit.resolved_api_url, explicit.resolved_auth_url) == ("http://x", "http://y")
    scoped = CommercetoolsSettings.model_validate(
        {
            "project_key": "p",
            "client_id": "c",
            "client_secret": "s",
            "region": "r",
            "scopes": "view_customers view_orders:p:eu",
        }
    )
    assert scoped.scope_strings() == ["view_customers:p", "view_orders:p:eu"]
    with pytest.raises(ValidationError, match="manage_project"):
        CommercetoolsSettings(project_key="p", client_id="c", client_secret="s", region="r", scopes=("manage_project",))
    with pytest.raises(ValidationError, match="CTP_REGION"):
        CommercetoolsSettings(project_key="p", client_id="c", client_secret="s", api_url="http://x")


@responses.activate
def test_token_is_requested_with_basic_auth_and_scopes_then_cached(sleeps: SleepRecorder) -> None:
    ct_token(responses.mock)
    responses.get(f"{CT_API}/proj", json={"key": "proj", "name": "P", "version": 1, "messages": {"enabled": True}})
    client = ct_client(sleeps)
    for _ in range(3):
        assert client.project().messages.enabled
    token_calls = [c for c in responses.calls if c.request.url.endswith("/oauth/token")]
    assert len(token_calls) == 1
    body = parse_qs(str(token_calls[0].request.body))
    assert body["grant_type"] == ["client_credentials"]
    # The core's own read scopes by default (the code location adds each entity's), qualified by the project.
    assert body["scope"][0].split() == ["view_messages:proj", "view_project_settings:proj"]
    assert token_calls[0].request.headers["Authorization"].startswith("Basic ")
    assert all(c.request.headers["Authorization"] == "Bearer tok" for c in responses.calls[1:])


@responses.activate
def test_token_is_renewed_before_it_expires(sleeps: SleepRecorder) -> None:
    ct_token(responses.mock, expires_in=30)  # inside the 60 s renewal margin: each call renews
    responses.get(f"{CT_API}/proj", json={"key": "proj", "name": "P", "version": 1, "messages": {"enabled": True}})
    client = ct_client(sleeps)
    client.project()
    client.project()
    assert sum(c.request.url.endswith("/oauth/token") for c in responses.calls) == 2


@responses.activate
def test_a_401_renews_the_token_once(sleeps: SleepRecorder) -> None:
    responses.post(f"{CT_AUTH}/oauth/token", json={"access_token": "old", "expires_in": 9999})
    responses.post(f"{CT_AUTH}/oauth/token", json={"access_token": "new", "expires_in": 9999})
    responses.get(f"{CT_API}/proj", status=401, json={"statusCode": 401, "errors": [{"code": "invalid_token"}]})
    responses.get(f"{CT_API}/proj", json={"key": "proj", "name": "P", "version": 1, "messages": {"enabled": False}})
    assert ct_client(sleeps).project().messages.enabled is False
    api_calls = [c for c in responses.calls if "/oauth/" not in c.request.url]
    assert [c.request.headers["Authorization"] for c in api_calls] == ["Bearer old", "Bearer new"]


@responses.activate
def test_a_second_401_is_an_authentication_error(sleeps: SleepRecorder) -> None:
    ct_token(responses.mock)
    responses.get(f"{CT_API}/proj", status=401, json={"statusCode": 401, "errors": [{"code": "invalid_token"}]})
    with pytest.raises(AuthenticationError):
        ct_client(sleeps).project()
    assert sum("/oauth/token" in c.request.url for c in responses.calls) == 2


@responses.activate
def test_wrong_credentials_are_reported_as_such(sleeps: SleepRecorder) -> None:
    responses.post(
        f"{CT_AUTH}/oauth/token",
        status=401,
        json={"statusCode": 401, "message": "Please provide valid client credentials", "error": "invalid_client"},
    )
    with pytest.raises(AuthenticationError, match="refused the client credentials"):
        ct_client(sleeps).project()


@responses.activate
def test_429_waits_for_retry_after_then_succeeds(sleeps: SleepRecorder) -> None:
    ct_token(responses.mock)
    responses.get(f"{CT_API}/proj", status=429, headers={"Retry-After": "7"}, json={"statusCode": 429})
    responses.get(f"{CT_API}/proj", json={"key": "proj", "name": "P", "version": 1, "messages": {"enabled": True}})
    ct_client(sleeps).project()
    assert sleeps.sleeps == [7.0]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@responses.activate
def test_server_errors_are_retried_with_backoff(status: int, sleeps: SleepRecorder) -> None:
    ct_token(responses.mock)
    for _ in range(2):
        responses.get(f"{CT_API}/proj", status=status, json={"statusCode": status, "errors": [{"code": "General"}]})
    responses.get(f"{CT_API}/proj", json={"key": "proj", "name": "P", "version": 1, "messages": {"enabled": True}})
    ct_client(sleeps).project()
    assert len(sleeps.sleeps) == 2 and sleeps.sleeps[1] > sleeps.sleeps[0]  # exponential


@responses.activate
def test_connection_errors_are_retried(sleeps: SleepRecorder) -> None:
    ct_token(responses.mock)
    responses.get(f"{CT_API}/proj", body=requests.ConnectionError("Connection aborted"))
    responses.get(f"{CT_API}/proj", json={"key": "proj", "name": "P", "version": 1, "messages": {"enabled": True}})
    ct_client(sleeps).project()
    assert len(sleeps.sleeps) == 1


@responses.activate
def test_the_retry_budget_ends_in_a_temporary_error(sleeps: SleepRecorder) -> None:
    ct_token(responses.mock)
    responses.get(f"{CT_API}/proj", status=503, json={"statusCode": 503, "errors": [{"code": "OverCapacity"}]})
    with pytest.raises(TemporaryApiError) as caught:
        ct_client(sleeps).project()
    assert caught.value.code == "OverCapacity"
    assert sum(c.request.url == f"{CT_API}/proj" for c in responses.calls) == 4  # max_attempts


@responses.activate
def test_bad_input_is_permanent_and_not_retried(sleeps: SleepRecorder) -> None:
    ct_token(responses.mock)
    responses.get(
        f"{CT_API}/proj/customers",
        status=400,
        json={"statusCode": 400, "errors": [{"code": "InvalidInput", "message": "Malformed parameter: where"}]},
    )
    with pytest.raises(PermanentApiError) as caught:
        ct_client(sleeps).query("customers", where="broken")
    assert caught.value.code == "InvalidInput" and sleeps.sleeps == []


@responses.activate
def test_409_carries_the_current_version(sleeps: SleepRecorder) -> None:
    ct_token(responses.mock)
    responses.get(
        f"{CT_API}/proj/customers",
        status=409,
        json={"statusCode": 409, "errors": [{"code": "ConcurrentModification", "message": "v", "currentVersion": 8}]},
    )
    with pytest.raises(CommercetoolsApiError) as caught:
        ct_client(sleeps).query("customers")
    assert (caught.value.code, caught.value.current_version) == ("ConcurrentModification", 8)


@responses.activate
def test_id_cursor_paging_inside_a_time_window(sleeps: SleepRecorder) -> None:
    from datetime import UTC, datetime

    ct_token(responses.mock)
    first = [{"id": f"id-{i:03d}"} for i in range(3)]
    responses.get(f"{CT_API}/proj/customers", json=page(first, limit=3))
    responses.get(f"{CT_API}/proj/customers", json=page([{"id": "id-100"}], limit=3))
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    pages = list(ct_client(sleeps).modified_between("customers", start, end, page_size=3))
    assert [[c["id"] for c in p] for p in pages] == [["id-000", "id-001", "id-002"], ["id-100"]]
    queries = [parse_qs(urlparse(c.request.url).query) for c in responses.calls if "/customers" in c.request.url]
    window = 'lastModifiedAt >= "2026-01-01T00:00:00.000Z") and (lastModifiedAt < "2026-01-02T00:00:00.000Z")'
    assert queries[0]["where"] == [f"({window}"]
    assert queries[1]["where"] == [f'(({window}) and (id > "id-002")']
    for query in queries:
        assert (query["sort"], query["limit"], query["withTotal"]) == (["id asc"], ["3"], ["false"])


@responses.activate
def test_ids_are_read_through_a_list_variable(sleeps: SleepRecorder) -> None:
    ct_token(responses.mock)
    responses.get(f"{CT_API}/proj/customers", json=page([{"id": "a"}]))
    responses.get(f"{CT_API}/proj/customers", json=page([{"id": "z"}]))
    ids = [f"id-{i:03d}" for i in range(150)]
    found = [c["id"] for p in ct_client(sleeps).by_ids("customers", ids) for c in p]
    assert found == ["a", "z"]
    queries = [parse_qs(urlparse(c.request.url).query) for c in responses.calls if "/customers" in c.request.url]
    assert [q["where"] for q in queries] == [["id in :ids"], ["id in :ids"]]
    assert [len(q["var.ids"]) for q in queries] == [100, 50]


# -- Fluent ---------------------------------------------------------------------------------------


def fluent_client(sleeps: SleepRecorder) -> FluentClient:
    return FluentClient(
        FluentSettings(
            host=FLUENT,
            client_id="fcid",
            client_secret="fsecret",
            username="user",
            password="pass",
            retry=fast_retry(sleeps),
        )
    )


def fluent_token(
    rsps: responses.RequestsMock, token: str = "ftok", expires_in: int = 86386, refresh: str = "r1"
) -> None:
    rsps.post(
        f"{FLUENT}/oauth/token",
        json={"access_token": token, "token_type": "bearer", "expires_in": expires_in, "refresh_token": refresh},
    )


def graphql_error(code: str | None, message: str, in_extensions: bool = True) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message if in_extensions or not code else f"{code}: {message}"}
    if code and in_extensions:
        error["extensions"] = {"code": code}
    return {"data": None, "errors": [error]}


CREATE_INPUT = {"input": {"username": "1_a@example.com"}}


def test_fluent_host_must_be_a_full_url() -> None:
    with pytest.raises(ValidationError, match="full URL"):
        FluentSettings(host="acme.api.fluentretail.com", client_id="c", client_secret="s", username="u", password="p")


@responses.activate
def test_password_grant_goes_in_the_form_body(sleeps: SleepRecorder) -> None:
    fluent_token(responses.mock)
    responses.post(f"{FLUENT}/graphql", json={"data": {"customer": None}})
    fluent_client(sleeps).execute(OPERATIONS["CustomerByRef"], {"ref": "x"})
    token_request = responses.calls[0].request
    assert urlparse(token_request.url).query == ""  # no credentials in the URL
    form = parse_qs(str(token_request.body))
    assert {k: v[0] for k, v in form.items()} == {
        "client_id": "fcid", "client_secret": "fsecret", "grant_type": "password",
        "username": "user", "password": "pass", "scope": "api",
    }  # fmt: skip
    sent = json.loads(responses.calls[1].request.body)
    assert sent["operationName"] == "CustomerByRef" and sent["variables"] == {"ref": "x"}
    assert responses.calls[1].request.headers["Authorization"] == "Bearer ftok"


@pytest.mark.parametrize("in_extensions", [True, False])
@pytest.mark.parametrize(
    ("code", "error_class"),
    [
        ("C0120E", FluentNotFoundError),
        ("C0121E", FluentAlreadyExistsError),
        ("C0123E", FluentAlreadyExistsError),
        ("C0141E", FluentGraphQLError),
        (None, FluentGraphQLError),
    ],
)
@responses.activate
def test_graphql_errors_become_typed_errors_with_the_fluent_code(
    code: str | None, error_class: type[Exception], in_extensions: bool, sleeps: SleepRecorder
) -> None:
    fluent_token(responses.mock)
    responses.post(f"{FLUENT}/graphql", json=graphql_error(code, "Username 1_a@example.com is taken", in_extensions))
    with pytest.raises(error_class) as caught:
        fluent_client(sleeps).execute(OPERATIONS["CreateCustomer"], CREATE_INPUT)
    assert type(caught.value) is error_class
    assert isinstance(caught.value, FluentGraphQLError) and caught.value.code == code
    assert "1_a@example.com" not in str(caught.value)  # personal data masked in error texts
    assert sleeps.sleeps == []


@pytest.mark.parametrize("code", ["C0011E", "S0001E"])
@responses.activate
def test_rate_limit_and_server_codes_are_retried(code: str, sleeps: SleepRecorder) -> None:
    fluent_token(responses.mock)
    responses.post(f"{FLUENT}/graphql", json=graphql_error(code, "try later"))
    responses.post(f"{FLUENT}/graphql", json={"data": {"createCustomer": {"id": "5", "ref": "r", "username": "r"}}})
    data = fluent_client(sleeps).execute(OPERATIONS["CreateCustomer"], CREATE_INPUT)
    assert data["createCustomer"]["id"] == "5" and len(sleeps.sleeps) == 1


@responses.activate
def test_a_lasting_rate_limit_ends_in_a_retry_later_error(sleeps: SleepRecorder) -> None:
    fluent_token(responses.mock)
    responses.post(f"{FLUENT}/graphql", json=graphql_error("C0011E", "rate limit exceeded"))
    with pytest.raises(FluentRetryLaterError) as caught:
        fluent_client(sleeps).execute(OPERATIONS["CreateCustomer"], CREATE_INPUT)
    assert caught.value.code == "C0011E" and not caught.value.maybe_applied
    assert len(sleeps.sleeps) == 3  # four attempts


@responses.activate
def test_a_lost_answer_is_retried_only_for_keyed_writes(sleeps: SleepRecorder) -> None:
    fluent_token(responses.mock)
    responses.post(f"{FLUENT}/graphql", body=requests.ConnectionError("Connection aborted: RemoteDisconnected"))
    responses.post(f"{FLUENT}/graphql", json={"data": {"createCustomer": {"id": "5"}}})
    fluent_client(sleeps).execute(OPERATIONS["CreateCustomer"], CREATE_INPUT)  # keyed by username: safe
    assert len(sleeps.sleeps) == 1

    unkeyed = Operation(name="AddNote", document="mutation AddNote { x }", is_mutation=True, root_field="x")
    assert not unkeyed.retry_safe
    responses.post(f"{FLUENT}/graphql", body=requests.ConnectionError("Connection aborted: RemoteDisconnected"))
    with pytest.raises(TemporaryApiError):
        fluent_client(sleeps).execute(unkeyed, {})
    assert len(sleeps.sleeps) == 1  # not retried: it may have been applied
    responses.post(f"{FLUENT}/graphql", status=503, json={})
    responses.post(f"{FLUENT}/graphql", json={"data": {"x": 1}})
    fluent_client(sleeps).execute(unkeyed, {})  # 503: refused, so safe to retry even unkeyed
    assert len(sleeps.sleeps) == 2


@responses.activate
def test_refresh_token_is_used_once_then_password_login(sleeps: SleepRecorder) -> None:
    fluent_token(responses.mock, token="t1", expires_in=30, refresh="r1")  # inside the renewal margin
    fluent_token(responses.mock, token="t2", expires_in=30, refresh="r2")
    responses.post(f"{FLUENT}/oauth/token", status=401, json={"error": "invalid_grant"})  # r2 refused
    fluent_token(responses.mock, token="t3", expires_in=9999, refresh="r3")
    responses.post(f"{FLUENT}/graphql", json={"data": {"customer": None}})
    client = fluent_client(sleeps)
    for _ in range(3):
        client.execute(OPERATIONS["CustomerByRef"], {"ref": "x"})
    grants = [parse_qs(str(c.request.body)) for c in responses.calls if c.request.url.endswith("/oauth/token")]
    assert [g["grant_type"][0] for g in grants] == ["password", "refresh_token", "refresh_token", "password"]
    assert [g["refresh_token"][0] for g in grants if "refresh_token" in g] == ["r1", "r2"]
    bearers = [c.request.headers["Authorization"] for c in responses.calls if c.request.url.endswith("/graphql")]
    assert bearers == ["Bearer t1", "Bearer t2", "Bearer t3"]


@responses.activate
def test_fluent_401_logs_in_again(sleeps: SleepRecorder) -> None:
    fluent_token(responses.mock, token="t1", refresh="")
    fluent_token(responses.mock, token="t2", refresh="")
    responses.post(f"{FLUENT}/graphql", status=401, json={"error": "invalid_token"})
    responses.post(f"{FLUENT}/graphql", json={"data": {"customer": None}})
    assert fluent_client(sleeps).execute(OPERATIONS["CustomerByRef"], {"ref": "x"}) == {"customer": None}


@pytest.mark.parametrize(
    "answer",
    [{"data": {"customer": None}}, graphql_error("C0120E", "Customer not found")],
    ids=["null", "C0120E"],
)
@responses.activate
def test_a_missing_customer_is_none_whichever_way_fluent_says_it(answer: dict[str, Any], sleeps: SleepRecorder) -> None:
    fluent_token(responses.mock)
    responses.post(f"{FLUENT}/graphql", json=answer)
    wanted = PlannedPush(LedgerKey("customer", "c1", "1"), 1, "1_nobody@example.com", "", cast(CustomerPush, None), "")
    assert CustomerSync(fluent_client(sleeps), CustomerMappingSettings(), "1").find(wanted) is None
