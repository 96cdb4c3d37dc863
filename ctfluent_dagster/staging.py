"""Per-partition datasets of commercetools records, as Parquet files written and read in chunks.

The commercetools assets write here page by page and the Fluent assets read back chunk by chunk, so neither
holds a partition (let alone a year of them) in memory. Layout::

    <root>/<entity>/<partition>/full.parquet            every record of the partition (a full materialization)
    <root>/<entity>/<partition>/delta-<ids hash>.parquet  only the records a delta run re-read by id
    <root>/<entity>/<partition>/<name>.gone.json          ids the run found gone from commercetools (deleted,
                                                          unpublished): their Fluent records are deactivated

A full materialization supersedes the partition's deltas and removes them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Container, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

FULL = "full"
_FIELDS: list[pa.Field[Any]] = [
    pa.field("id", pa.string()),
    pa.field("version", pa.int64()),
    pa.field("last_modified_at", pa.string()),
    pa.field("record", pa.string()),  # the API's JSON, verbatim: the model is applied when reading
]
_SCHEMA = pa.schema(_FIELDS)


class DatasetWriter:
    """Appends pages to a Parquet file; the file appears under its final name only when complete."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self._tmp = path.with_suffix(".parquet.tmp")
        self._tmp.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(self._tmp, _SCHEMA, compression="zstd")

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        if not records:
            return
        columns = {
            "id": [r["id"] for r in records],
            "version": [int(r.get("version", 0)) for r in records],
            "last_modified_at": [r.get("lastModifiedAt", "") for r in records],
            "record": [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in records],
        }
        self._writer.write_table(pa.Table.from_pydict(columns, schema=_SCHEMA))
        self.rows += len(records)

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._writer.close()
        if exc_type is None:
            self._tmp.replace(self.path)
        else:
            self._tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class StagedChunk:
    """One staged page: its ids and versions, and its JSON, read and parsed only for the records that need it."""

    ids: list[str]
    versions: list[int]
    load_raw: Callable[[], list[str]]

    def __len__(self) -> int:
        return len(self.ids)

    def records(self, skip: Container[str] = ()) -> list[dict[str, Any]]:
        if all(source_id in skip for source_id in self.ids):
            return []
        raw = self.load_raw()
        return [json.loads(text) for source_id, text in zip(self.ids, raw, strict=True) if source_id not in skip]


class DatasetStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, entity: str, partition_key: str, name: str = FULL) -> Path:
        return self.root / entity / partition_key / f"{name}.parquet"

    def writer(self, entity: str, partition_key: str, name: str = FULL) -> DatasetWriter:
        return DatasetWriter(self.path(entity, partition_key, name))

    def read_chunks(self, entity: str, partition_key: str, name: str = FULL) -> Iterator[StagedChunk]:
        """The records of a dataset, one written page (a Parquet row group) at a time; a page's JSON column is read
        only when one of its records needs it."""
        path = self.path(entity, partition_key, name)
        if not path.exists():
            raise FileNotFoundError(
                f"no {name} dataset of {entity} for partition {partition_key}: "
                "materialize the commercetools asset first"
            )
        with pq.ParquetFile(path) as parquet:
            for group in range(parquet.num_row_groups):
                keys = parquet.read_row_group(group, columns=["id", "version"])
                ids = [str(value) for value in keys.column("id").to_pylist()]
                versions = [int(value or 0) for value in keys.column("version").to_pylist()]

                def load_raw(group: int = group) -> list[str]:
                    return [str(v) for v in parquet.read_row_group(group, columns=["record"]).column(0).to_pylist()]

                yield StagedChunk(ids, versions, load_raw)

    def write_gone(self, entity: str, partition_key: str, name: str, ids: Sequence[str]) -> None:
        path = self.path(entity, partition_key, name).with_suffix(".gone.json")
        tmp = path.with_suffix(".tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(sorted(set(ids))), encoding="utf-8")
        tmp.replace(path)

    def read_gone(self, entity: str, partition_key: str, name: str) -> list[str]:
        path = self.path(entity, partition_key, name).with_suffix(".gone.json")
        if not path.exists():
            return []
        ids: list[str] = json.loads(path.read_text(encoding="utf-8"))
        return ids

    def remove_deltas(self, entity: str, partition_key: str) -> int:
        removed = 0
        for pattern in ("delta-*.parquet", "*.gone.json"):
            for path in (self.root / entity / partition_key).glob(pattern):
                path.unlink(missing_ok=True)
                removed += 1
        return removed
