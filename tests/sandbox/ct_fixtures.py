"""Helpers for the commercetools emulator tests: a running emulator with an authorised HTTP session.

Plain helpers rather than fixtures, so each test module declares the fixtures (and scopes) it needs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from ctfluent_sandbox.admin_client import AdminClient
from ctfluent_sandbox.clock import Clock
from ctfluent_sandbox.commercetools import CommercetoolsEmulator
from ctfluent_sandbox.commercetools.auth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from ctfluent_sandbox.server import BackgroundSandbox

if TYPE_CHECKING:
    from tests.sandbox.test_commercetools_openapi import Spec

PROJECT = "ctfluent-demo"
Params = dict[str, str | Sequence[str]]


@dataclass
class CtSandbox:
    """An emulator served on loopback, plus a session holding a token of the default (all-scopes) client."""

    emulator: CommercetoolsEmulator
    url: str
    session: requests.Session = field(default_factory=requests.Session)

    @cached_property
    def admin(self) -> AdminClient:
        return AdminClient(self.url)

    @property
    def clock(self) -> Clock:
        return self.emulator.clock

    def token(
        self, client_id: str = DEFAULT_CLIENT_ID, secret: str = DEFAULT_CLIENT_SECRET, scope: str | None = None
    ) -> requests.Response:
        data = {"grant_type": "client_credentials", **({"scope": scope} if scope is not None else {})}
        return requests.post(f"{self.url}/oauth/token", data=data, auth=(client_id, secret), timeout=10)

    def login(self) -> None:
        response = self.token()
        response.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def request(self, method: str, path: str, params: Params | None = None, json: Any = None) -> requests.Response:
        return self.session.request(method, f"{self.url}/{PROJECT}{path}", params=params, json=json, timeout=30)

    def get(self, path: str, **params: str | Sequence[str]) -> requests.Response:
        return self.request("GET", path, params)

    def ok(self, path: str, **params: str | Sequence[str]) -> Any:
        """GET expecting 200; the JSON body."""
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def query_ids(self, path: str, **params: str | Sequence[str]) -> list[str]:
        return [r["id"] for r in self.ok(path, **params)["results"]]

    def post(self, path: str, body: Any) -> requests.Response:
        return self.request("POST", path, json=body)

    def create_customer(self, **draft: Any) -> dict[str, Any]:
        response = self.post("/customers", {"password": "secret-1", **draft})
        assert response.status_code == 201, response.text
        customer: dict[str, Any] = response.json()["customer"]
        return customer

    def update(self, customer: dict[str, Any], *actions: dict[str, Any]) -> requests.Response:
        return self.post(f"/customers/{customer['id']}", {"version": customer["version"], "actions": list(actions)})

    def updated(self, customer: dict[str, Any], *actions: dict[str, Any]) -> dict[str, Any]:
        response = self.update(customer, *actions)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def messages(self, **params: str | Sequence[str]) -> list[dict[str, Any]]:
        base: Params = {"sort": ["createdAt asc", "id asc"], "limit": "500"}
        results: list[dict[str, Any]] = self.ok("/messages", **{**base, **params})["results"]
        return results

    def configure_messages(self, **settings: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.admin.call("PUT", "/messages", settings)
        return result


@contextmanager
def running(emulator: CommercetoolsEmulator | None = None, **options: Any) -> Iterator[CtSandbox]:
    emulator = emulator or CommercetoolsEmulator(**options)
    with BackgroundSandbox({"ct": (emulator, 0)}) as sandbox:
        ct = CtSandbox(emulator, sandbox.urls["ct"])
        try:
            ct.login()
            yield ct
        finally:
            ct.session.close()
            ct.admin.session.close()


def error_code(response: requests.Response) -> str:
    code: str = response.json()["errors"][0]["code"]
    return code


@cache
def openapi_spec(shared_dir: Path) -> Spec:
    """The official OpenAPI spec with the validation repairs of :mod:`tests.sandbox.test_commercetools_openapi`, loaded
    once per process (it takes seconds) for every module that validates against it."""
    from tests.sandbox.test_commercetools_openapi import Spec  # that module imports this one

    return Spec(shared_dir / "commercetools-api" / "openapi.yaml")
