"""The emulator framework: fault rules, request counting and the admin API, on a minimal emulator."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from aiohttp import web

from ctfluent_sandbox.admin_client import AdminClient
from ctfluent_sandbox.app import Emulator
from ctfluent_sandbox.faults import FaultRule, parse_fault_spec, retry_after_header
from ctfluent_sandbox.server import BackgroundSandbox


class CounterEmulator(Emulator):
    """POST /things creates a thing; GET /things lists them."""

    name = "counter"

    def __init__(self) -> None:
        super().__init__()
        self.things: list[int] = []
        self.lock = threading.Lock()

    def add_routes(self, app: web.Application) -> None:
        app.add_routes([web.post("/things", self._create), web.get("/things", self._list)])

    def add_admin_routes(self, app: web.Application) -> None:
        return None

    async def _create(self, request: web.Request) -> web.Response:
        with self.lock:
            self.things.append(len(self.things) + 1)
            return web.json_response({"id": self.things[-1]}, status=201)

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response({"things": self.things})

    def fault_response(self, rule: FaultRule) -> web.Response:
        return web.json_response({"code": rule.error_code}, status=rule.status or 500, headers=retry_after_header(rule))

    def state(self) -> dict[str, Any]:
        return {"things": self.things}

    def reset_store(self) -> None:
        self.things.clear()


@pytest.fixture
def sandbox() -> Iterator[tuple[CounterEmulator, str, AdminClient]]:
    emulator = CounterEmulator()
    with BackgroundSandbox({"counter": (emulator, 0)}) as running:
        url = running.urls["counter"]
        yield emulator, url, AdminClient(url)


def test_spec_strings_parse_into_rules() -> None:
    rule = parse_fault_spec("match=POST /things; status=429; retry_after=2; times=3")
    assert (rule.match, rule.status, rule.retry_after, rule.times) == ("POST /things", 429, 2.0, 3)
    assert parse_fault_spec("match=createCustomer;drop=after").drop == "after"
    with pytest.raises(ValueError, match="known keys"):
        parse_fault_spec("match=x;colour=red")
    with pytest.raises(ValueError, match="at least one"):
        parse_fault_spec("match=x")
    with pytest.raises(ValueError, match="drop"):
        parse_fault_spec("match=x;drop=sideways")


def test_status_fault_with_retry_after_then_recovers(sandbox: tuple[CounterEmulator, str, AdminClient]) -> None:
    _, url, admin = sandbox
    admin.add_fault(match="POST /things", status=429, retry_after=2, times=2)
    answers = [requests.post(f"{url}/things", timeout=5) for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 201]
    assert answers[0].headers["Retry-After"] == "2"
    assert admin.call("GET", "/faults") == []  # retired after firing twice


def test_after_and_every_pick_which_calls_fail(sandbox: tuple[CounterEmulator, str, AdminClient]) -> None:
    _, url, admin = sandbox
    admin.add_fault(match="GET /things", status=503, after=1, every=2)
    codes = [requests.get(f"{url}/things", timeout=5).status_code for _ in range(6)]
    assert codes == [200, 503, 200, 503, 200, 503]


def test_drop_before_means_nothing_happened(sandbox: tuple[CounterEmulator, str, AdminClient]) -> None:
    emulator, url, admin = sandbox
    admin.add_fault(match="POST /things", drop="before", times=1)
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{url}/things", timeout=5)
    assert emulator.things == []


def test_drop_after_means_the_write_happened_but_the_answer_is_lost(
    sandbox: tuple[CounterEmulator, str, AdminClient],
) -> None:
    emulator, url, admin = sandbox
    admin.add_fault(match="POST /things", drop="after", times=1)
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{url}/things", timeout=5)
    assert emulator.things == [1]
    assert requests.post(f"{url}/things", timeout=5).json() == {"id": 2}


def test_latency_does_not_block_other_requests(sandbox: tuple[CounterEmulator, str, AdminClient]) -> None:
    _, url, admin = sandbox
    admin.add_fault(match="POST /things", latency_ms=1500, times=1)
    finished: list[str] = []

    def call(method: str) -> None:
        requests.request(method, f"{url}/things", timeout=10)
        finished.append(method)

    with ThreadPoolExecutor(2) as pool:
        slow = pool.submit(call, "POST")
        time.sleep(0.2)  # the delayed request is in flight first
        pool.submit(call, "GET").result()
        assert finished == ["GET"]  # answered while the POST was still waiting
        slow.result()
    assert finished == ["GET", "POST"]


def test_requests_are_counted_per_target_and_reset(sandbox: tuple[CounterEmulator, str, AdminClient]) -> None:
    _, url, admin = sandbox
    for _ in range(3):
        requests.post(f"{url}/things", timeout=5)
    requests.get(f"{url}/things", timeout=5)
    counts = admin.request_counts()
    assert counts == {"total": 4, "by_target": {"POST /things": 3, "GET /things": 1}}
    admin.reset()
    assert admin.request_counts()["total"] == 0 and admin.state() == {"things": []}


def test_the_admin_clock_moves_forward(sandbox: tuple[CounterEmulator, str, AdminClient]) -> None:
    emulator, _, admin = sandbox
    before = emulator.clock.now()
    admin.advance_clock(3600)
    assert (emulator.clock.now() - before).total_seconds() >= 3600
