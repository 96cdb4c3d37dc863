"""A thin client for an emulator's ``/_admin`` API, for tests, the benchmark and the demo script."""

from __future__ import annotations

from typing import Any

import requests

from ctfluent_sandbox.app import ADMIN_PREFIX


class AdminClient:
    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def call(self, method: str, path: str, json: Any = None) -> Any:
        response = self.session.request(method, f"{self.base_url}{ADMIN_PREFIX}{path}", json=json, timeout=self.timeout)
        response.raise_for_status()
        return response.json()

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", "/state")
        return result

    def reset(self) -> None:
        self.call("POST", "/reset")

    def request_counts(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", "/requests")
        return result

    def clear_request_counts(self) -> None:
        self.call("DELETE", "/requests")

    def add_fault(self, **rule: Any) -> int:
        return int(self.call("POST", "/faults", rule)["id"])

    def clear_faults(self) -> None:
        self.call("DELETE", "/faults")

    def advance_clock(self, seconds: float) -> None:
        self.call("POST", "/clock", {"advance_seconds": seconds})
