"""The emulator's OAuth: token endpoint, introspection, token expiry and per-endpoint scopes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.sandbox.ct_fixtures import PROJECT, CtSandbox, error_code, running


@pytest.fixture
def ct() -> Iterator[CtSandbox]:
    with running() as sandbox:
        yield sandbox


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_has_the_documented_shape_and_all_client_scopes(ct: CtSandbox) -> None:
    body = ct.token().json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 172_800
    assert set(body["scope"].split()) >= {f"view_customers:{PROJECT}", f"manage_project_settings:{PROJECT}"}
    assert len(body["access_token"]) >= 20


def test_requested_scopes_are_granted_and_limit_the_token(ct: CtSandbox) -> None:
    body = ct.token(scope=f"view_customers:{PROJECT}").json()
    assert body["scope"] == f"view_customers:{PROJECT}"
    headers = bearer(body["access_token"])
    assert requests.get(f"{ct.url}/{PROJECT}/customers", headers=headers, timeout=5).status_code == 200
    refused = requests.get(f"{ct.url}/{PROJECT}/messages", headers=headers, timeout=5)
    assert refused.status_code == 403
    assert error_code(refused) == "insufficient_scope"
    assert refused.json()["error"] == "insufficient_scope"


def test_scope_in_the_query_string_is_honoured(ct: CtSandbox) -> None:
    response = requests.post(
        f"{ct.url}/oauth/token",
        params={"grant_type": "client_credentials", "scope": f"view_stores:{PROJECT}"},
        auth=("ctfluent-sandbox", "ctfluent-sandbox-secret"),
        timeout=5,
    )
    assert response.json()["scope"] == f"view_stores:{PROJECT}"


def test_wrong_credentials_are_401_invalid_client_with_the_auth_error_shape(ct: CtSandbox) -> None:
    response = ct.token(secret="wrong")
    assert response.status_code == 401
    body = response.json()
    assert body["statusCode"] == 401
    assert body["error"] == "invalid_client"
    assert body["errors"][0]["code"] == "invalid_client"
    assert body["error_description"] and body["message"]
    assert ct.token(client_id="nobody").status_code == 401


def test_scope_the_client_lacks_is_400_invalid_scope(ct: CtSandbox) -> None:
    response = ct.token(scope=f"view_customers:{PROJECT} manage_project:{PROJECT}")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert ct.token(scope="view_customers:other-project").status_code == 400


def test_unsupported_grant_type(ct: CtSandbox) -> None:
    response = requests.post(
        f"{ct.url}/oauth/token",
        data={"grant_type": "password"},
        auth=("ctfluent-sandbox", "ctfluent-sandbox-secret"),
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize("headers", [{}, bearer("not-a-token"), {"Authorization": "Basic abc"}])
def test_missing_or_unknown_token_is_401_invalid_token(ct: CtSandbox, headers: dict[str, str]) -> None:
    response = requests.get(f"{ct.url}/{PROJECT}/customers", headers=headers, timeout=5)
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"
    assert response.json()["error"] == "invalid_token"


def test_token_expires_after_expires_in_by_the_clock(ct: CtSandbox) -> None:
    assert ct.get("/customers").status_code == 200
    ct.admin.advance_clock(172_800 - 5)
    assert ct.get("/customers").status_code == 200
    ct.admin.advance_clock(10)
    response = ct.get("/customers")
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"
    ct.login()  # a new token works again
    assert ct.get("/customers").status_code == 200


def test_introspect_reports_scopes_expiry_and_inactive_tokens(ct: CtSandbox) -> None:
    token = ct.token(scope=f"view_customers:{PROJECT}").json()["access_token"]
    auth = ("ctfluent-sandbox", "ctfluent-sandbox-secret")
    active = requests.post(f"{ct.url}/oauth/introspect", data={"token": token}, auth=auth, timeout=5).json()
    assert active["active"] is True
    assert active["scope"] == f"view_customers:{PROJECT}"
    assert active["client_id"] == "ctfluent-sandbox"
    expected_exp_ms = (ct.clock.now().timestamp() + 172_800) * 1000
    assert abs(active["exp"] - expected_exp_ms) < 60_000
    unknown = requests.post(f"{ct.url}/oauth/introspect", data={"token": "nope"}, auth=auth, timeout=5).json()
    assert unknown == {"active": False}
    ct.admin.advance_clock(172_801)
    expired = requests.post(f"{ct.url}/oauth/introspect", data={"token": token}, auth=auth, timeout=5).json()
    assert expired["active"] is False
    refused = requests.post(f"{ct.url}/oauth/introspect", data={"token": token}, auth=("x", "y"), timeout=5)
    assert refused.status_code == 401


def test_read_only_client_reads_but_cannot_write(ct: CtSandbox) -> None:
    ct.admin.call(
        "POST", "/api-clients", {"client_id": "reader", "client_secret": "s3cret", "scopes": ["view_customers"]}
    )
    body = ct.token("reader", "s3cret").json()
    assert body["scope"] == f"view_customers:{PROJECT}"
    headers = bearer(body["access_token"])
    assert requests.get(f"{ct.url}/{PROJECT}/customers", headers=headers, timeout=5).status_code == 200
    write = requests.post(f"{ct.url}/{PROJECT}/customers", json={"email": "x@example.com"}, headers=headers, timeout=5)
    assert write.status_code == 403
    assert error_code(write) == "insufficient_scope"
    assert requests.get(f"{ct.url}/{PROJECT}", headers=headers, timeout=5).status_code == 403
    assert any(c["client_id"] == "reader" for c in ct.admin.state()["api_clients"])


def test_manage_scope_implies_view(ct: CtSandbox) -> None:
    ct.admin.call("POST", "/api-clients", {"client_id": "writer", "client_secret": "w", "scopes": ["manage_customers"]})
    headers = bearer(ct.token("writer", "w", scope=f"view_customers:{PROJECT}").json()["access_token"])
    assert requests.get(f"{ct.url}/{PROJECT}/customers", headers=headers, timeout=5).status_code == 200
    token = ct.token("writer", "w").json()["access_token"]
    assert requests.get(f"{ct.url}/{PROJECT}/customers", headers=bearer(token), timeout=5).status_code == 200


def test_token_of_one_project_does_not_open_another(ct: CtSandbox) -> None:
    response = ct.session.get(f"{ct.url}/other-project/customers", timeout=5)
    assert response.status_code == 403


def test_scopes_per_endpoint(ct: CtSandbox) -> None:
    token = ct.token(scope=f"view_messages:{PROJECT} view_project_settings:{PROJECT}").json()["access_token"]
    headers = bearer(token)
    assert requests.get(f"{ct.url}/{PROJECT}", headers=headers, timeout=5).status_code == 200
    update = requests.post(f"{ct.url}/{PROJECT}", json={"version": 1, "actions": []}, headers=headers, timeout=5)
    assert update.status_code == 403
    assert requests.get(f"{ct.url}/{PROJECT}/stores", headers=headers, timeout=5).status_code == 403
    assert requests.get(f"{ct.url}/{PROJECT}/customers/x", headers=headers, timeout=5).status_code == 403


def test_reset_recreates_the_default_client_and_drops_added_ones(ct: CtSandbox) -> None:
    ct.admin.call("POST", "/api-clients", {"client_id": "temp", "client_secret": "t", "scopes": ["view_stores"]})
    temp_token = ct.token("temp", "t").json()["access_token"]
    ct.admin.reset()
    assert ct.token("temp", "t").status_code == 401
    assert requests.get(f"{ct.url}/{PROJECT}/stores", headers=bearer(temp_token), timeout=5).status_code == 401
    assert ct.get("/stores").status_code == 200  # the default client's token survives a reset
