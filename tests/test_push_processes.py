"""One push in several processes: how many the machine gives (CPU affinity and container limits), how many a push
takes, and shards that run side by side, fail loudly and never outlive a failure."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from ctfluent_dagster.pushing import RECORDS_PER_PROCESS, StagedPush
from ctfluent_dagster.staging import FULL, DatasetStore
from ctfluent_dagster.sync.processes import PageCounter, ShardFailed, Shards, available_cpus, default_push_processes
from tests.harness import Sandbox
from tests.support import materialization_metadata, serve_sandbox


def cgroup(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("files", "limit"),
    [
        ({}, None),  # no cgroup: the affinity
        ({"cpu.max": "max 100000\n"}, None),  # v2, unlimited
        ({"cpu.max": "150000 100000\n"}, 2),  # v2, 1.5 CPUs: rounded up
        ({"cpu.max": "50000 100000\n"}, 1),
        ({"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1),  # v1
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),  # v1, unlimited
    ],
    ids=["none", "v2-max", "v2-1.5", "v2-0.5", "v1-1", "v1-unlimited"],
)
def test_available_cpus_are_the_affinity_capped_by_the_container_limit(
    tmp_path: Path, files: dict[str, str], limit: int | None
) -> None:
    affinity = len(os.sched_getaffinity(0))
    expected = affinity if limit is None else min(affinity, limit)
    assert available_cpus(cgroup(tmp_path, files)) == expected


def test_a_sqlite_ledger_pushes_in_one_process_by_default() -> None:
    assert default_push_processes("sqlite") == 1
    assert default_push_processes("postgresql") == available_cpus()


def staged(tmp_path: Path, pages: int, per_page: int) -> tuple[DatasetStore, StagedPush]:
    store = DatasetStore(str(tmp_path))
    with store.writer("customers", "2026-01-01") as writer:
        for page in range(pages):
            writer.write([{"id": f"c{page}-{i}", "version": 1} for i in range(per_page)])
    # The second day staged nothing: it counts no page.
    return store, StagedPush("customers", ["2026-01-01", "2026-01-02"], FULL, "commercetools/customers")


@pytest.mark.parametrize(
    ("pages", "per_page", "configured", "dialect", "expected"),
    [
        (10, 500, 2, "sqlite", 2),  # as configured, on any ledger
        (1, 500, 2, "postgresql", 1),  # never more than the pages
        (10, 500, None, "sqlite", 1),
        (10, RECORDS_PER_PROCESS // 10, None, "postgresql", 1),  # too few records for a second process
        (10, 500, None, "postgresql", None),  # the CPUs available
    ],
)
def test_a_push_takes_as_many_processes_as_configured_or_its_size_and_the_machine_allow(
    tmp_path: Path, pages: int, per_page: int, configured: int | None, dialect: str, expected: int | None
) -> None:
    store, push = staged(tmp_path, pages, per_page)
    assert push.processes(store, configured, dialect) == (expected or min(available_cpus(), 10))


def remote_square(shard: int) -> int:
    return shard * shard


def remote_fails(shard: int) -> int:
    raise ValueError(f"shard {shard} cannot go on")


def remote_dies(shard: int) -> int:
    os.kill(os.getpid(), signal.SIGKILL)
    return shard


def remote_pid_then_wait(path: Path, shard: int) -> int:
    (path / f"{shard}.pid").write_text(str(os.getpid()))
    time.sleep(300)  # stopped long before: its run failed
    return shard


def test_shards_run_in_their_own_processes_and_their_results_come_back_in_order() -> None:
    with Shards(remote_square, 4) as shards:
        assert shards.results() == []  # none started yet: the push asks for them when it has the work
        shards.start()
        shards.start()  # once
        assert shards.results() == [1, 4, 9]
    with Shards(remote_square, 1) as alone:
        alone.start()
        assert not alone.started and alone.results() == []


def test_a_failing_shard_fails_the_push_with_its_traceback() -> None:
    with Shards(remote_fails, 2) as shards, pytest.raises(ShardFailed, match="ValueError: shard 1 cannot go on"):
        shards.start()
        shards.results()


def test_a_shard_that_dies_fails_the_push() -> None:
    with Shards(remote_dies, 2) as shards, pytest.raises(ShardFailed, match="exited with code -9"):
        shards.start()
        shards.results()


def test_when_this_process_fails_the_other_shards_are_stopped(tmp_path: Path) -> None:
    with (
        pytest.raises(RuntimeError, match="shard 0 failed"),
        Shards(partial(remote_pid_then_wait, tmp_path), 2) as shards,
    ):
        shards.start()
        deadline = time.monotonic() + 60
        while not (tmp_path / "1.pid").exists():  # the shard is up
            assert time.monotonic() < deadline
            time.sleep(0.05)
        raise RuntimeError("shard 0 failed")
    pid = int((tmp_path / "1.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_processes_share_the_pages_each_taking_the_next_free_one() -> None:
    counter = PageCounter()
    assert [counter.take() for _ in range(3)] == [0, 1, 2]
    assert counter.taken == 3


@pytest.fixture
def many_customers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger_url: str) -> Iterator[Sandbox]:
    with serve_sandbox(tmp_path, monkeypatch, ledger_url, customers=2_500, days=2, seed=21) as running:
        yield running


def test_a_push_with_work_for_several_processes_starts_them_and_one_with_nothing_changed_does_not(
    many_customers: Sandbox,
) -> None:
    sandbox = many_customers
    days = sorted(sandbox.days_with_customers())
    first = materialization_metadata(sandbox.sync((days[0], days[-1])))
    assert first["created"] + first["skipped"] == len(sandbox.ct_customers())
    alone = sandbox.ledger_url.startswith("sqlite")  # one writer at a time: one process by default
    expected = 1 if alone else min(available_cpus(), 2_500 // RECORDS_PER_PROCESS)
    if expected < 2 and not alone:
        pytest.skip("this machine gives the process one CPU: a push takes one process")
    assert first["push_processes"] == expected
    assert len(first["push_peak_memory_mb"].split(", ")) == expected  # each process's peak memory
    again = materialization_metadata(sandbox.sync((days[0], days[-1])))
    assert again["unchanged"] == first["created"] and again["push_processes"] == 1  # nothing to do: no process started
