"""One requests-per-second limit for every process: two run processes sending through the real client, with one
configured rate, against a local HTTP server that notes when each request arrives; on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import logging
import multiprocessing
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from pydantic import SecretStr

from ctfluent_dagster.fluent.client import FluentClient, FluentSettings
from ctfluent_dagster.settings import default_ledger_url
from ctfluent_dagster.transport import RateLimiter, RetryPolicy, TemporaryApiError

RATE = 20  # requests per second
REQUESTS_PER_PROCESS = 40
PROCESSES = 2


class CountingServer(ThreadingHTTPServer):
    """Fluent's token endpoint and a ``/graphql`` that answers ``{"data": {}}`` and notes when each request came."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.arrivals: list[float] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: CountingServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/graphql":
            with self.server.lock:
                self.server.arrivals.append(time.monotonic())
            body = {"data": {}}
        else:
            body = {"access_token": "token", "token_type": "bearer", "expires_in": 3600}
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def counting_server() -> Iterator[CountingServer]:
    server = CountingServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def send_through_a_run_process(host: str, rate_limit_url: str, start: Barrier) -> None:
    """One run's process: its Fluent client with the configured rate, logged in, then its requests at once."""
    client = FluentClient(
        FluentSettings(host=host, client_id="c", client_secret="s", username="u", password="p",
                       requests_per_second=RATE, rate_limit_url=SecretStr(rate_limit_url)),
    )  # fmt: skip
    client.login()
    start.wait(timeout=60)
    for _ in range(REQUESTS_PER_PROCESS):
        client.call("POST", "/graphql", json={"query": "{ ping }"}, parse=lambda r: r.json(), retry_safe=True)


def most_in_any_window(arrivals: list[float], seconds: float) -> int:
    ordered = sorted(arrivals)
    return max(sum(1 for later in ordered[i:] if later < first + seconds) for i, first in enumerate(ordered))


def test_two_run_processes_share_one_rate(ledger_url: str) -> None:
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter each, as a run's process or pod is
    start = spawn.Barrier(PROCESSES)
    with counting_server() as server:
        processes = [
            spawn.Process(target=send_through_a_run_process, args=(server.url, ledger_url, start))
            for _ in range(PROCESSES)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=120)
        assert [process.exitcode for process in processes] == [0] * PROCESSES
        arrivals = server.arrivals
    assert len(arrivals) == PROCESSES * REQUESTS_PER_PROCESS
    # 80 requests at 20/s: four bursts a second apart, ~3.1 s from the first to the last (counted per process, each
    # would send its 40 in two bursts, ~1.05 s). The window leaves room for the time a request takes to arrive.
    assert max(arrivals) - min(arrivals) >= 2.5
    assert most_in_any_window(arrivals, 0.8) <= RATE


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_a_request_whose_rate_cannot_be_counted_is_not_sent_and_the_password_stays_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The database is down: no request leaves (the limit holds), the error is temporary and never applied, so the
    retry policy retries it; neither the error nor any log line holds the database password."""
    password = "pw-3f9a7c"
    url = f"postgresql+psycopg2://ctfluent:{password}@127.0.0.1:{free_port()}/ledger"
    sleeps: list[float] = []
    with counting_server() as server, caplog.at_level(logging.DEBUG):
        client = FluentClient(
            FluentSettings(
                host=server.url,
                client_id="c",
                client_secret="s",
                username="u",
                password="p",
                retry=RetryPolicy(max_attempts=2, sleep=sleeps.append),
            ),
        )
        client.rate_limiter = RateLimiter(RATE, api="fluent", state_url=SecretStr(url), state_timeout_seconds=1)
        with pytest.raises(TemporaryApiError) as raised:
            client.call("POST", "/graphql", json={"query": "{ ping }"}, parse=lambda r: r.json(), retry_safe=False)
        assert server.arrivals == []
    assert raised.value.maybe_applied is False
    assert len(sleeps) == 1  # retried once (max_attempts=2) although the call is not retry-safe: it was never sent
    assert "ctfluent:***@127.0.0.1" in str(raised.value)  # says where, without the password
    assert password not in str(raised.value) + repr(raised.value.__cause__)
    assert password not in caplog.text


def test_the_resources_count_the_rate_in_the_ledger_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The clients the resources build count where ``rate_limit_url`` says (unset: the default ledger's place), the
    password masked when it is named; without a rate nothing is counted anywhere."""
    # Imported here: the spawned processes above import this module, and need no Dagster.
    from ctfluent_dagster.resources import CommercetoolsResource, CommercetoolsWriteResource, FluentResource

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    credentials = {"client_id": "c", "client_secret": "s"}
    fluent = {**credentials, "host": "http://fluent", "username": "u", "password": "p", "retailer_id": "1"}
    commercetools = {**credentials, "project_key": "p", "api_url": "http://api", "auth_url": "http://auth"}
    url = "postgresql+psycopg2://ctfluent:secret@db/ledger"
    for resource in (FluentResource, CommercetoolsResource, CommercetoolsWriteResource):
        fields = fluent if resource is FluentResource else commercetools
        assert resource(**fields, requests_per_second=5).get_client().rate_limiter.state == default_ledger_url()
        shared = resource(**fields, requests_per_second=5, rate_limit_url=url).get_client().rate_limiter
        assert shared.state == "postgresql+psycopg2://ctfluent:***@db/ledger"
        assert resource(**fields, rate_limit_url=url).get_client().rate_limiter.state is None


def test_an_error_that_quotes_the_connection_string_loses_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """libpq's parse errors quote the connection string they choke on: its password must not reach the logs."""
    import psycopg_pool

    def refuse(conninfo: str, **_: object) -> None:
        raise ValueError(f"invalid connection string: {conninfo}")

    monkeypatch.setattr(psycopg_pool, "ConnectionPool", refuse)
    limiter = RateLimiter(RATE, api="fluent", state_url=SecretStr("postgresql+psycopg2://ctfluent:pw-3f9a7c@db/ledger"))
    with pytest.raises(TemporaryApiError) as raised:
        limiter.acquire()
    assert "invalid connection string" in str(raised.value)
    assert "pw-3f9a7c" not in str(raised.value)


@pytest.mark.postgres
def test_the_clients_of_one_process_share_one_count_and_its_connections(postgres_database: str) -> None:
    """A sensor builds its clients afresh at every tick: they share the process's count, not a pool each."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    with counting_server() as server:
        for _tick in range(5):
            client = FluentClient(
                FluentSettings(host=server.url, client_id="c", client_secret="s", username="u", password="p",
                               requests_per_second=RATE, rate_limit_url=SecretStr(postgres_database)),
            )  # fmt: skip
            client.call("POST", "/graphql", json={"query": "{ ping }"}, parse=lambda r: r.json(), retry_safe=True)
    engine = create_engine(postgres_database)
    try:
        with engine.connect() as conn:
            connections = conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname = :db AND application_name = :name"),
                {"db": make_url(postgres_database).database, "name": "ctfluent-ratelimit-fluent"},
            ).scalar_one()
    finally:
        engine.dispose()
    assert 1 <= connections <= 2
