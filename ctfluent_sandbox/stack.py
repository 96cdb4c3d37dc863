"""The whole local stack as real processes: the sandbox (``ctfluent-sandbox``) and Dagster (``dg dev``:
webserver + daemon, the code location as ``[tool.dg]`` in pyproject.toml declares it) on loopback, with a
temporary ``DAGSTER_HOME``. Used by the demo (``scripts/demo``), the end-to-end tests and the delta benchmark.

Each server runs in its own process group, killed as a whole on exit, so no Dagster subprocess outlives it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import requests

from ctfluent_sandbox.admin_client import AdminClient
from ctfluent_sandbox.cli import read_env_file
from ctfluent_sandbox.dagster_webserver import DagsterWebserver

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LocalStack:
    def __init__(
        self,
        workdir: Path,
        *,
        customers: int = 200,
        products: int = 0,
        orders: int = 0,
        days: int = 3,
        extra_env: dict[str, str] | None = None,
        dagster_yaml: Path = REPO / "dagster.local.yaml",
        ct_port: int = 0,
        fluent_port: int = 0,
        dagster_port: int = 0,
        pool_limits: dict[str, int] | None = None,
        webhooks: bool = False,
        ledger_url: str | None = None,
    ) -> None:
        """``webhooks``: also run the webhook receiver (``ctfluent-webhooks``) and have the Fluent emulator send
        its order status events there. ``ledger_url``: the ledger's database (default: SQLite in ``workdir``, as
        the demo has it)."""
        self.workdir = workdir
        self.customers = customers
        self.products = products
        self.orders = orders
        self.days = days
        self.extra_env = extra_env or {}
        self.dagster_yaml = dagster_yaml
        self.ports = {"ct": ct_port, "fluent": fluent_port, "dagster": dagster_port}
        self.pool_limits = pool_limits or {"commercetools_api": 2, "fluent_api": 2}
        self.webhooks = webhooks
        self._ledger_url = ledger_url or f"sqlite:///{workdir / 'ledger.sqlite'}"
        self.webhooks_url = ""
        self.home = workdir / "dagster_home"
        self.logs = workdir / "logs"
        self.env: dict[str, str] = {}
        self._processes: list[subprocess.Popen[bytes]] = []
        self.webserver_url = ""

    def __enter__(self) -> LocalStack:
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.dagster_yaml, self.home / "dagster.yaml")
        try:
            self.webserver_url = f"http://127.0.0.1:{self.ports['dagster'] or free_port()}"
            self._start_sandbox()
            if self.webhooks:
                self._start_webhooks()
            self._start_dagster()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def ct_admin(self) -> AdminClient:
        return AdminClient(self.env["CTP_API_URL"])

    @property
    def fluent_admin(self) -> AdminClient:
        return AdminClient(self.env["FLUENT_HOST"])

    @property
    def webserver(self) -> DagsterWebserver:
        return DagsterWebserver(self.webserver_url)

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._processes.append(process)
        return process

    def _start_sandbox(self) -> None:
        env_file = self.workdir / "sandbox.env"
        process = self._spawn(
            "sandbox",
            [str(BIN / "ctfluent-sandbox"), "--ct-port", str(self.ports["ct"]),
             "--fluent-port", str(self.ports["fluent"]), "--customers", str(self.customers),
             "--products", str(self.products), "--orders", str(self.orders), "--days", str(self.days), "--seed", "1",
             "--env-file", str(env_file)],
            dict(os.environ),
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not (env_file.exists() and env_file.read_text()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox did not start; see {self.logs / 'sandbox.log'}")
            time.sleep(0.2)
        self.env = read_env_file(env_file)

    def ledger_url(self) -> str:
        return self._ledger_url

    def _start_webhooks(self) -> None:
        port = free_port()
        self.webhooks_url = f"http://127.0.0.1:{port}"
        # Each event launches its type's webhook job at once (the sensor would take it at its next tick).
        env = {**os.environ, **self.env, "CTFLUENT_LEDGER_URL": self.ledger_url(),
               "CTFLUENT_WEBHOOKS__DAGSTER_URL": self.webserver_url, **self.extra_env}  # fmt: skip
        # The receiver runs no DDL: the ledger is migrated first, as a deployment's migrate job does.
        subprocess.run([str(BIN / "ctfluent-migrate")], env=env, check=True, capture_output=True)
        self._spawn("webhooks", [str(BIN / "ctfluent-webhooks"), "--host", "127.0.0.1", "--port", str(port)], env)
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{self.webhooks_url}/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the webhook receiver did not start; see {self.logs / 'webhooks.log'}")
            time.sleep(0.2)
        self.fluent_admin.call("PUT", "/webhooks", {"url": f"{self.webhooks_url}/fluent/webhooks"})

    def _start_dagster(self) -> None:
        port = self.webserver_url.rsplit(":", 1)[1]
        env = {
            **os.environ,
            **self.env,
            "DAGSTER_HOME": str(self.home),
            # `dg` runs in the virtual environment of this interpreter (the project's `.venv`): say so, as
            # activating it would, or `dg` warns that the active environment (none) is not the project's.
            **({"VIRTUAL_ENV": sys.prefix} if sys.prefix != sys.base_prefix else {}),
            "CTFLUENT_STAGING_DIR": str(self.workdir / "staging"),
            "CTFLUENT_LEDGER_URL": self.ledger_url(),
            "CTFLUENT_START_DATE": time.strftime("%Y-%m-%d", time.gmtime(time.time() - (self.days + 10) * 86400)),
            **self.extra_env,
        }
        for pool, limit in self.pool_limits.items():  # dagster.yaml can only set a default limit
            subprocess.run(
                [str(BIN / "dagster"), "instance", "concurrency", "set", pool, str(limit)],
                env=env, check=True, capture_output=True,
            )  # fmt: skip
        self._spawn(
            "dagster",
            [str(BIN / "dg"), "dev", "--target-path", str(REPO), "-h", "127.0.0.1", "-p", port],
            env,
        )
        self.webserver.wait_until_ready()

    def stop(self) -> None:
        """SIGTERM each process group (even if its leader is gone: its children may not be), then SIGKILL."""
        for process in reversed(self._processes):
            _signal_group(process, signal.SIGTERM)
        for process in reversed(self._processes):
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
            _signal_group(process, signal.SIGKILL)
            process.wait(timeout=10)
        self._processes.clear()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group has exited
        os.killpg(process.pid, sig)
