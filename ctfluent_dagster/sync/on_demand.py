"""A target's records synced inside another target's run, for the records that reference them and find them not in
Fluent yet (``Dependency.on_demand``: an order's registered customer, created at order time as Fluent's customer flow
does). They go through their own entity: read by id from commercetools, mapped by their own sync (its settings and
hooks), claimed and recorded in the ledger as their own records, so that their own later runs update them instead of
creating them again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ctfluent_dagster.sync.engine import SyncEngine


class TargetOnDemand:
    """An :class:`~ctfluent_dagster.sync.engine.OnDemandSync` over one target: its engine starts at the first use
    and ends with the run that uses it."""

    def __init__(
        self,
        read: Callable[[Sequence[str]], Iterable[Sequence[Any]]],
        partition_of: Callable[[Any], str | None],
        engine: Callable[[], SyncEngine[Any, Any]],
    ) -> None:
        """``read``: pages of the records by commercetools id; ``partition_of``: the daily partition a record belongs
        to (recorded with it, as its own run would); ``engine``: a new engine of the target."""
        self._read = read
        self._partition_of = partition_of
        self._new_engine = engine
        self._engine: SyncEngine[Any, Any] | None = None

    def sync_now(self, source_ids: Sequence[str]) -> None:
        if self._engine is None:
            self._engine = self._new_engine().__enter__()
        for page in self._read(source_ids):
            by_partition: dict[str | None, list[Any]] = defaultdict(list)
            for record in page:
                by_partition[self._partition_of(record)].append(record)
            for partition_key, records in by_partition.items():
                self._engine.sync_chunk(records, partition_key)
        self._engine.flush()

    def close(self) -> None:
        if self._engine is not None:
            engine, self._engine = self._engine, None
            engine.__exit__(None, None, None)
