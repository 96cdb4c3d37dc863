"""Project settings, stores, injected faults and the admin state of the commercetools emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sandbox.ct_fixtures import CtSandbox, error_code, running


@pytest.fixture
def ct() -> Iterator[CtSandbox]:
    with running() as sandbox:
        yield sandbox


def test_project_settings(ct: CtSandbox) -> None:
    project = ct.ok("")
    assert project["key"] == "ctfluent-demo"
    assert project["messages"] == {"enabled": False, "deleteDaysAfterCreation": 15}
    assert project["version"] == 1
    assert {"countries", "currencies", "languages", "createdAt", "carts"} <= set(project)


def test_project_update_checks_version_and_actions(ct: CtSandbox) -> None:
    change = {
        "action": "changeMessagesConfiguration",
        "messagesConfiguration": {"enabled": True, "deleteDaysAfterCreation": 90},
    }
    stale = ct.post("", {"version": 9, "actions": [change]})
    assert stale.status_code == 409
    assert stale.json()["errors"][0]["currentVersion"] == 1
    unknown = ct.post("", {"version": 1, "actions": [{"action": "changeName", "name": "x"}]})
    assert error_code(unknown) == "InvalidJsonInput"
    assert ct.post("", {"version": 1, "actions": [change]}).json()["messages"]["deleteDaysAfterCreation"] == 90
    assert ct.post("", {"version": 1, "actions": [change]}).status_code == 409


def test_stores_create_query_and_lookup(ct: CtSandbox) -> None:
    draft = {"key": "eu-store", "name": {"en": "Europe"}, "languages": ["de-DE"], "countries": [{"code": "DE"}]}
    created = ct.post("/stores", draft)
    assert created.status_code == 201
    store = created.json()
    assert store["version"] == 1
    assert (store["distributionChannels"], store["supplyChannels"], store["productSelections"]) == ([], [], [])
    assert store["countries"] == [{"code": "DE"}]
    assert ct.ok(f"/stores/{store['id']}") == store
    assert ct.ok("/stores/key=eu-store") == store
    assert ct.post("/stores", {"key": "us-store"}).status_code == 201
    page = ct.ok("/stores", sort="key desc")
    assert [s["key"] for s in page["results"]] == ["us-store", "eu-store"]
    assert ct.query_ids("/stores", where='countries(code = "DE")') == [store["id"]]
    duplicate = ct.post("/stores", {"key": "eu-store"})
    assert error_code(duplicate) == "DuplicateField"
    assert error_code(ct.post("/stores", {"name": {"en": "no key"}})) == "RequiredField"
    channel = ct.post("/stores", {"key": "ch-store", "supplyChannels": [{"typeId": "channel", "key": "warehouse"}]})
    assert error_code(channel) == "ReferencedResourceNotFound"
    assert ct.get("/stores/key=nowhere").status_code == 404


def test_store_delete_and_unsupported_updates(ct: CtSandbox) -> None:
    store = ct.post("/stores", {"key": "gone-store"}).json()
    update = ct.post(f"/stores/{store['id']}", {"version": 1, "actions": [{"action": "setLanguages", "languages": []}]})
    assert error_code(update) == "InvalidJsonInput"
    assert ct.request("DELETE", f"/stores/{store['id']}", {"version": "1"}).status_code == 200
    assert ct.get(f"/stores/{store['id']}").status_code == 404


@pytest.mark.parametrize(
    ("fault", "status", "code", "retry_after"),
    [
        ({"status": 503, "error_code": "PendingOperation"}, 503, "PendingOperation", None),
        ({"status": 503}, 503, "OverCapacity", None),
        ({"error_code": "OverCapacity"}, 503, "OverCapacity", None),
        ({"status": 500}, 500, "General", None),
        ({"status": 502}, 502, "BadGateway", None),
        ({"status": 429, "retry_after": 2}, 429, "TooManyRequests", "2"),
        ({"status": 429}, 429, "TooManyRequests", None),
        ({"status": 429, "retry_after": 0.25}, 429, "TooManyRequests", "1"),  # whole seconds, as HTTP defines it
    ],
)
def test_injected_faults_answer_commercetools_error_bodies(
    ct: CtSandbox, fault: dict[str, object], status: int, code: str, retry_after: str | None
) -> None:
    ct.admin.add_fault(match="GET /ctfluent-demo/customers", times=1, **fault)
    response = ct.get("/customers")
    assert response.status_code == status
    body = response.json()
    assert body["statusCode"] == status
    assert body["errors"][0]["code"] == code
    assert body["message"]
    assert response.headers.get("Retry-After") == retry_after
    assert ct.get("/customers").status_code == 200  # the fault fired once


def test_admin_seed_and_state(ct: CtSandbox) -> None:
    answer = ct.admin.call("POST", "/seed", {"customers": 25, "days": 10, "seed": 3})
    assert (answer["customers"], answer["stores"]) == (25, 3)
    state = ct.admin.state()
    assert len(state["customers"]) == 25
    assert {s["key"] for s in state["stores"]} == {"eu-store", "us-store", "au-store"}
    assert state["project"]["key"] == "ctfluent-demo"
    assert state["messages"] == []
    assert [c["client_id"] for c in state["api_clients"]] == ["ctfluent-sandbox"]
    assert "client_secret" not in state["api_clients"][0]
    assert ct.ok("/customers", limit="1")["total"] == 25
    ct.admin.reset()
    assert ct.ok("/customers")["total"] == 0


def test_admin_rejects_bad_input(ct: CtSandbox) -> None:
    session = ct.admin.session
    assert session.post(f"{ct.url}/_admin/seed", json={"customers": "many"}, timeout=5).status_code == 400
    assert session.post(f"{ct.url}/_admin/seed", json={"customers": 5, "days": -1}, timeout=5).status_code == 400
    assert session.post(f"{ct.url}/_admin/api-clients", json={"client_id": "x"}, timeout=5).status_code == 400
    assert session.put(f"{ct.url}/_admin/messages", json={"disabled_status": 200}, timeout=5).status_code == 400
