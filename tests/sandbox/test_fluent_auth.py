"""The Fluent emulator's OAuth endpoint and bearer-token check, as a client sees them over HTTP."""

from __future__ import annotations

import pytest
import requests

from tests.sandbox.fluent_fixtures import (
    CLIENT,
    CUSTOMER_BY_REF,
    PASSWORD_GRANT,
    FluentClient,
    fluent_fixture,  # noqa: F401 (fixture)
    fluent_server_fixture,  # noqa: F401 (fixture)
)

PING = "{ retailerById(id: 1) { id ref } }"


def token_request(
    client: FluentClient, *, form: dict[str, str] | None = None, query: dict[str, str] | None = None
) -> requests.Response:
    return requests.post(f"{client.base_url}/oauth/token", data=form, params=query, timeout=10)


def graphql_with(client: FluentClient, authorization: str | None) -> requests.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return requests.post(f"{client.base_url}/graphql", json={"query": PING}, headers=headers, timeout=10)


@pytest.mark.parametrize("where", ["form", "query"])
def test_password_grant_in_form_body_or_query_string(fluent: FluentClient, where: str) -> None:
    if where == "form":
        response = token_request(fluent, form=PASSWORD_GRANT)
    else:
        response = token_request(fluent, query=PASSWORD_GRANT)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["scope"] == "api"
    assert body["expires_in"] == 86_400
    assert body["Retailer_id"] == 1
    assert {"access_token", "refresh_token", "FirstName", "LastName", "Roles"} <= body.keys()
    ping = graphql_with(fluent, f"Bearer {body['access_token']}")
    assert ping.json() == {"data": {"retailerById": {"id": "1", "ref": "CTFLUENT_EU"}}}


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"client_secret": "wrong"}, "unauthorized"),
        ({"client_id": "someone-else"}, "unauthorized"),
        ({"password": "wrong"}, "invalid_grant"),
        ({"username": "nobody"}, "invalid_grant"),
    ],
)
def test_bad_credentials_are_401(fluent: FluentClient, change: dict[str, str], error: str) -> None:
    response = token_request(fluent, form={**PASSWORD_GRANT, **change})
    assert response.status_code == 401
    assert response.json()["error"] == error
    assert "access_token" not in response.json()


def test_unknown_grant_type_is_400(fluent: FluentClient) -> None:
    response = token_request(fluent, form={**PASSWORD_GRANT, "grant_type": "client_credentials"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_graphql_needs_a_live_bearer_token(fluent: FluentClient) -> None:
    token = fluent.login()["access_token"]
    assert graphql_with(fluent, None).status_code == 401
    assert graphql_with(fluent, "Bearer not-a-token").status_code == 401
    assert graphql_with(fluent, f"Basic {token}").status_code == 401
    assert graphql_with(fluent, f"bearer {token}").status_code == 200  # the scheme is case-insensitive
    assert graphql_with(fluent, f"Bearer {token}").status_code == 200


def test_token_expires_after_expires_in_by_the_clock(fluent: FluentClient) -> None:
    fluent.admin.call("PUT", "/config", {"token_ttl_seconds": 60})
    body = fluent.login()
    assert body["expires_in"] == 60
    fluent.admin.advance_clock(59)
    assert graphql_with(fluent, f"Bearer {body['access_token']}").status_code == 200
    fluent.admin.advance_clock(2)
    expired = graphql_with(fluent, f"Bearer {body['access_token']}")
    assert expired.status_code == 401
    assert expired.json()["error"] == "invalid_token"
    # A new login gives a working token again.
    assert graphql_with(fluent, f"Bearer {fluent.login()['access_token']}").status_code == 200


def test_refresh_token_works_once(fluent: FluentClient) -> None:
    first = fluent.login()
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], **CLIENT}
    renewed = token_request(fluent, form=refresh)
    assert renewed.status_code == 200
    second = renewed.json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert graphql_with(fluent, f"Bearer {second['access_token']}").status_code == 200

    reused = token_request(fluent, form=refresh)
    assert reused.status_code == 401
    assert reused.json()["error"] == "invalid_grant"
    # The new refresh token is good for one more renewal.
    again = token_request(fluent, form={**refresh, "refresh_token": second["refresh_token"]})
    assert again.status_code == 200


def test_refresh_with_a_bad_client_does_not_spend_the_token(fluent: FluentClient) -> None:
    refresh_token = fluent.login()["refresh_token"]
    refresh = {"grant_type": "refresh_token", "refresh_token": refresh_token, **CLIENT}
    assert token_request(fluent, form={**refresh, "client_secret": "wrong"}).status_code == 401
    assert token_request(fluent, form=refresh).status_code == 200


def test_reset_forgets_tokens(fluent: FluentClient) -> None:
    fluent.login()
    assert fluent.post_graphql(CUSTOMER_BY_REF, {"ref": "x"}).status_code == 200
    fluent.admin.reset()
    assert fluent.post_graphql(CUSTOMER_BY_REF, {"ref": "x"}).status_code == 401
