"""One push in several processes: how many the machine gives this process, and running shards side by side.

The push is CPU-bound in the sync process (mapping, hashing, the ledger's SQL, JSON), so one interpreter uses one
core at most. :class:`Shards` runs shard 0 in the calling process and every other shard in a fresh process
(``spawn``: the caller may have threads, which ``fork`` would copy half-way); they share the pages through a
:class:`PageCounter`. A shard process ends itself when its
parent dies (a killed run leaves none pushing); its leases then belong to a process that is gone, which the next run
on this host takes over at once (see ``ledger/store.py``).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import traceback
from collections.abc import Callable
from multiprocessing import get_context
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

ResultT = TypeVar("ResultT")
CGROUP_ROOT = Path("/sys/fs/cgroup")
_PARENT_POLL_SECONDS = 0.5


def available_cpus(cgroup_root: Path = CGROUP_ROOT) -> int:
    """The CPUs this process may use: its CPU affinity, capped by a cgroup CPU quota (a container's CPU limit, as
    Kubernetes and Docker set it; cgroup v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us``), rounded up."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        count = os.cpu_count() or 1
    quota = _cgroup_quota(cgroup_root)
    if quota is not None:
        count = min(count, math.ceil(quota))
    return max(1, count)


def _cgroup_quota(root: Path) -> float | None:
    try:
        limit, period = (root / "cpu.max").read_text().split()[:2]  # cgroup v2: "<quota> <period>" or "max ..."
        return None if limit == "max" else int(limit) / int(period)
    except (OSError, ValueError):
        pass
    try:  # cgroup v1: -1 when unlimited
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        cfs_period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / cfs_period if quota > 0 and cfs_period > 0 else None


def peak_memory_mb() -> float | None:
    """This process's peak resident memory (``VmHWM``; None where there is no ``/proc``). Not ``ru_maxrss``: a
    spawned process starts with its parent's peak there (Linux keeps it across fork and exec)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")), None)


def default_push_processes(ledger_dialect: str) -> int:
    """Processes for one asset's push when none are configured: the CPUs available, but 1 on SQLite (one writer at a
    time: more processes would queue on its lock)."""
    return 1 if ledger_dialect == "sqlite" else available_cpus()


class ShardFailed(RuntimeError):
    """A shard process failed or died; its traceback, as it printed it."""


class PageCounter:
    """The next page to push, shared by the processes of one push: each takes the next one when it is free, so a
    slow page holds up no other process. Made before the shard processes start (they inherit it)."""

    def __init__(self) -> None:
        self._next = get_context("spawn").Value("q", 0)

    @property
    def taken(self) -> int:
        return int(self._next.value)

    def take(self) -> int:
        with self._next.get_lock():
            page = int(self._next.value)
            self._next.value = page + 1
        return page


class Shards(Generic[ResultT]):
    """Shards 1 to ``count - 1`` of a push, each ``remote(i)`` in a process of its own, started when the push asks
    (:meth:`start`: once it has seen enough work to pay for them); shard 0 is the caller's. ``remote`` must pickle
    (a module-level function, or a ``functools.partial`` of one). Leaving the block with an error stops them."""

    def __init__(self, remote: Callable[[int], ResultT], count: int) -> None:
        self.remote = remote
        self.count = count
        self._children: list[tuple[Any, Connection]] = []

    @property
    def started(self) -> bool:
        return bool(self._children)

    def start(self) -> None:
        if self._children or self.count <= 1:
            return
        context = get_context("spawn")
        for shard in range(1, self.count):
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_run_shard, args=(self.remote, shard, send, os.getpid()),
                                      name=f"push-shard-{shard}")  # fmt: skip
            process.start()
            send.close()  # the child's end: EOF here when the child is gone
            self._children.append((process, receive))

    def results(self) -> list[ResultT]:
        """Each started shard's result, in shard order, once it has finished; a failed one raises here."""
        return [_result(shard, process, receive) for shard, (process, receive) in enumerate(self._children, start=1)]

    def __enter__(self) -> Shards[ResultT]:
        return self

    def __exit__(self, *_: object) -> None:
        for process, receive in self._children:
            if process.is_alive():  # a shard failed, or this process did: the others stop
                process.terminate()
            process.join()
            receive.close()


def _result(shard: int, process: Any, receive: Connection) -> Any:
    try:
        status, value = receive.recv()
    except EOFError:
        process.join()
        raise ShardFailed(f"push shard {shard} exited with code {process.exitcode} before it finished") from None
    if status == "error":
        raise ShardFailed(f"push shard {shard} failed:\n{value}")
    return value


def _run_shard(remote: Callable[[int], Any], shard: int, send: Connection, parent: int) -> None:
    """A shard process: ends itself when its parent is gone; sends back its result or its traceback."""
    threading.Thread(target=_exit_with_parent, args=(parent,), name="parent-watch", daemon=True).start()
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s shard {shard} %(levelname)s %(name)s: %(message)s")
    try:
        send.send(("ok", remote(shard)))
    except BaseException:
        send.send(("error", traceback.format_exc()))
        raise
    finally:
        send.close()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        threading.Event().wait(_PARENT_POLL_SECONDS)
    log.warning("the run's process %d is gone: this push shard stops", parent)
    os._exit(1)  # at once: what it pushed and did not record, the next run finds in Fluent (nothing doubled)
