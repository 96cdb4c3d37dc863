"""What the sync benchmarks share: a sandbox in its own process, the sync in a fresh child process (so its peak
memory is its own), and CPU accounting of both."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import queue
import resource
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from ctfluent_dagster.sync.processes import peak_memory_mb
from ctfluent_sandbox.admin_client import AdminClient
from ctfluent_sandbox.cli import read_env_file

REPO = Path(__file__).resolve().parent.parent
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
POSTGRES_SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def own_cpu_seconds() -> float:
    """This process's CPU, and its children's that have ended (a push's shard processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_phases(
    env: dict[str, str],
    first_day: str,
    last_day: str,
    assets: Sequence[str],
    results: Any,
    setup: Callable[[], None] | None = None,
) -> None:
    """In the child process: materialize each asset (``commercetools/customers``, ...) over the days, in order,
    timing each. ``setup`` (a module-level function, for the child to import) runs first, once the environment is
    set."""
    os.environ.update(env)
    if setup is not None:
        setup()
    from dagster import AssetKey, DagsterInstance, materialize

    from ctfluent_dagster.assets import ENTITY_DEFINITIONS
    from ctfluent_dagster.definitions import defs

    by_key = {key: a for entity in ENTITY_DEFINITIONS.values() for a in entity.assets for key in a.keys}
    tags = {RANGE_START: first_day, RANGE_END: last_day}
    instance = DagsterInstance.ephemeral()
    phases: dict[str, Any] = {}
    for name in assets:
        cpu, wall = own_cpu_seconds(), time.perf_counter()
        result = materialize([by_key[AssetKey(name.split("/"))]], resources=defs.resources, tags=tags,
                             instance=instance)  # fmt: skip
        events = result.get_asset_materialization_events()
        metadata = {
            k: v.value for k, v in events[0].materialization.metadata.items() if not hasattr(v.value, "records")
        }
        phases[name] = {"seconds": time.perf_counter() - wall, "cpu": own_cpu_seconds() - cpu, "metadata": metadata,
                        "rss_mb": peak_rss_mb()}  # fmt: skip
    # Per process: this one's, or a push process's (each push reports its processes' peaks).
    pushes = [float(peak) for phase in phases.values()
              for peak in str(phase["metadata"].get("push_peak_memory_mb", "")).split(", ") if peak]  # fmt: skip
    phases["peak_rss_mb"] = max([peak_rss_mb(), *pushes])
    results.put(phases)


def sync_once(
    env: dict[str, str],
    first_day: str,
    last_day: str,
    assets: Sequence[str],
    setup: Callable[[], None] | None = None,
) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=run_phases, args=(env, first_day, last_day, list(assets), results, setup))
    child.start()
    while True:
        try:
            phases: dict[str, Any] = results.get(timeout=5)
            break
        except queue.Empty:
            if not child.is_alive():
                raise RuntimeError(f"the sync process failed (exit code {child.exitcode})") from None
    child.join()
    return phases


@contextmanager
def ledger_database(kind: str, work: Path) -> Iterator[str]:
    """The ledger's URL: a fresh PostgreSQL database on the local server (production's ledger; dropped afterwards),
    or a SQLite file under ``work`` (the demo's)."""
    if kind == "sqlite":
        yield f"sqlite:///{work / 'ledger.sqlite'}"
        return
    server = make_url(os.environ.get("CTFLUENT_BENCH_POSTGRES_URL", POSTGRES_SERVER))
    name = f"ctfluent_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield server.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@contextmanager
def sandbox(
    work: Path, seed_args: Sequence[str], settings: dict[str, str], latency_ms: float, ledger: str = "postgresql"
) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, str]]]:
    """The sandbox (``ctfluent-sandbox`` with ``seed_args``) with ``latency_ms`` on every Fluent request, and the
    code location's environment for it (``settings`` added, state under ``work``, the ledger on ``ledger``:
    ``postgresql`` or ``sqlite``)."""
    with ledger_database(ledger, work) as ledger_url:
        yield from _sandbox(work, seed_args, settings, latency_ms, ledger_url)


def _sandbox(
    work: Path, seed_args: Sequence[str], settings: dict[str, str], latency_ms: float, ledger_url: str
) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, str]]]:
    env_file = work / "sandbox.env"
    command = [str(REPO / ".venv" / "bin" / "ctfluent-sandbox"), "--ct-port", "0", "--fluent-port", "0",
               "--seed", "1", "--env-file", str(env_file), *seed_args]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not env_file.exists() or not env_file.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.2)
        env = read_env_file(env_file) | {
            "CTFLUENT_STAGING_DIR": str(work / "staging"),
            "CTFLUENT_LEDGER_URL": ledger_url,
            "CTFLUENT_START_DATE": "2020-01-01",
            **settings,
        }
        requests.post(f"{env['FLUENT_HOST']}/_admin/faults", json={"match": "POST /graphql", "latency_ms": latency_ms},
                      timeout=10).raise_for_status()  # fmt: skip
        yield process, env
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def seeded_days(days: int) -> tuple[str, str]:
    """The first and the last partition a benchmark syncs for ``days`` of seeded history: from the day before the
    seed's first day, to today (UTC)."""
    today = time.strftime("%Y-%m-%d", time.gmtime())
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() - (days + 1) * 86400)), today


def measured_runs(
    process: subprocess.Popen[bytes],
    env: dict[str, str],
    days: int,
    assets: Sequence[str],
    setup: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """An initial run and a second one with nothing changed, each with the sandbox's CPU and Fluent's request
    counts."""
    fluent_admin = f"{env['FLUENT_HOST']}/_admin"
    first_day, today = seeded_days(days)
    runs: dict[str, Any] = {}
    for label in ("initial", "no-change"):
        requests.delete(f"{fluent_admin}/requests", timeout=10)
        sandbox_cpu = process_cpu_seconds(process.pid)
        runs[label] = sync_once(env, first_day, today, assets, setup)
        runs[label]["sandbox_cpu"] = process_cpu_seconds(process.pid) - sandbox_cpu
        runs[label]["fluent_requests"] = requests.get(f"{fluent_admin}/requests", timeout=10).json()
    return runs


def mutations(run: dict[str, Any]) -> int:
    by_target = run["fluent_requests"]["by_target"]
    return sum(count for name, count in by_target.items() if name.startswith(("create", "update", "remove")))


def benchmark_runs(args: argparse.Namespace, seed_args: Sequence[str], assets: Sequence[str]) -> dict[str, Any]:
    """Seed a sandbox with ``seed_args``, then sync ``assets`` twice (initial, no change) with the benchmark's
    Fluent latency, concurrency and batch size."""
    with (
        tempfile.TemporaryDirectory(prefix="ctfluent-bench-") as tmp,
        sandbox(Path(tmp), [*seed_args, "--days", str(args.days)], push_settings(args), args.latency_ms,
                args.ledger) as (process, env),
    ):  # fmt: skip
        return measured_runs(process, env, args.days, assets)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=8, help="Fluent requests in flight (threads)")
    parser.add_argument("--batch-size", type=int, default=10, help="mutations per Fluent request (1: none)")
    parser.add_argument(
        "--ledger",
        choices=("postgresql", "sqlite"),
        default="postgresql",
        help="the ledger's database (postgresql: production's, a fresh database on the local server)",
    )
    parser.add_argument(
        "--push-processes",
        type=int,
        default=None,
        help="processes per push (default: the code location's: the CPUs available, 1 on SQLite)",
    )


def push_settings(args: argparse.Namespace) -> dict[str, str]:
    """The code location's settings of a push, as the benchmark's arguments give them."""
    settings = {
        "CTFLUENT_FLUENT_CONCURRENCY": str(args.concurrency),
        "CTFLUENT_FLUENT_BATCH_SIZE": str(args.batch_size),
    }
    if args.push_processes is not None:
        settings["CTFLUENT_PUSH_PROCESSES"] = str(args.push_processes)
    return settings


def peak_rss_mb() -> float:
    """This process's peak resident memory (``VmHWM``, see ``peak_memory_mb``)."""
    return peak_memory_mb() or 0.0


def time_requests() -> dict[str, list[float]]:
    """Instrumentation, in the run process only: every HTTP request's wall time as the client sees it (sent, answer
    read), by method. Changes nothing else."""
    timings: dict[str, list[float]] = {}
    lock = threading.Lock()
    send = requests.Session.send

    def timed(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        started = time.perf_counter()
        try:
            return send(self, request, **kwargs)
        finally:
            with lock:
                timings.setdefault(str(request.method), []).append(time.perf_counter() - started)

    requests.Session.send = timed  # type: ignore[method-assign]
    return timings


def execute_run(env: dict[str, str], run: dict[str, Any], results: Any) -> None:
    """In a fresh child process, as the daemon launches a requested run in its own process: the run's job with its
    config, partition and tags (the code location's definitions and resources, from the environment)."""
    started = time.perf_counter()
    os.environ.update(env)
    timings = time_requests()
    from dagster import DagsterInstance

    from ctfluent_dagster.definitions import defs

    instance = DagsterInstance.ephemeral()
    job = defs.resolve_job_def(run["job_name"])
    loaded = time.perf_counter() - started
    cpu, wall = own_cpu_seconds(), time.perf_counter()
    result = job.execute_in_process(run_config=run["run_config"], tags=run["tags"], instance=instance,
                                  partition_key=run.get("partition_key"))  # fmt: skip
    seconds, cpu = time.perf_counter() - wall, own_cpu_seconds() - cpu
    # The job's last materialization is its target's (a staged entity's job materializes its source first).
    event = result.get_asset_materialization_events()[-1]
    metadata = {k: v.value for k, v in event.materialization.metadata.items() if not hasattr(v.value, "records")}
    results.put({"seconds": seconds, "cpu": cpu, "loaded": loaded, "metadata": metadata, "peak_mb": peak_rss_mb(),
                 "request_seconds": timings})  # fmt: skip


def execute(
    process: Any, env: dict[str, str], runs: list[dict[str, Any]], ct_admin: AdminClient, fluent_admin: AdminClient
) -> dict[str, Any]:
    """The runs one after the other, each in its own process; the sandbox's CPU and request counts meanwhile."""
    ct_admin.clear_request_counts()
    fluent_admin.clear_request_counts()
    sandbox_cpu = process_cpu_seconds(process.pid)
    context = multiprocessing.get_context("spawn")
    started = time.perf_counter()
    done = []
    for run in runs:
        results = context.Queue()
        child = context.Process(target=execute_run, args=(env, run, results))
        child.start()
        while True:
            try:
                done.append(results.get(timeout=5))
                break
            except queue.Empty:
                if not child.is_alive():
                    raise RuntimeError(f"the run process failed (exit code {child.exitcode})") from None
        child.join()
    return {
        "seconds": time.perf_counter() - started,
        "runs": done,
        "sandbox_cpu": process_cpu_seconds(process.pid) - sandbox_cpu,
        "ct_requests": by_route(ct_admin.request_counts()["by_target"]),
        "fluent_requests": fluent_admin.request_counts(),
    }


def by_route(by_target: dict[str, int]) -> Counter[str]:
    """commercetools request counts with the resource ids generalised: ``GET /<project>/orders/{id}``."""
    routes: Counter[str] = Counter()
    for target, count in by_target.items():
        method, _, path = target.partition(" ")
        parts = path.split("/")
        routes[f"{method} {'/'.join(parts[:3])}{'/{id}' if len(parts) > 3 else ''}"] += count
    return routes


def summary_line(benchmark: str, args: argparse.Namespace, **figures: float | int | str) -> str:
    """One line a script can read (``key=value``, space-separated): the benchmark, the machine, the settings and
    the figures (the bound, the ratio to it, the CPU per record, ...), floats with three significant decimals."""
    values: dict[str, float | int | str] = {
        "benchmark": benchmark,
        "cpus": os.cpu_count() or 0,
        "python": platform.python_version(),
        "latency_ms": args.latency_ms,
        "concurrency": args.concurrency,
        "batch_size": getattr(args, "batch_size", 1),
        "ledger": getattr(args, "ledger", "sqlite"),
        **figures,
    }
    return "summary " + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


def push_processes(phases: dict[str, Any], names: Sequence[str]) -> str:
    """The processes each push ran in, as its metadata says (e.g. "2, 2, 1")."""
    return ", ".join(str(phases[name]["metadata"].get("push_processes", 1)) for name in names)


def batched_bound(records: int, args: argparse.Namespace) -> float:
    """The push's lower bound: ``records / (batch size x concurrency) x latency``, in seconds."""
    return records / (args.batch_size * args.concurrency) * args.latency_ms / 1000
