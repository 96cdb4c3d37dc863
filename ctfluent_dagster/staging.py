"""Per-partition datasets of commercetools records, as Parquet files written and read in chunks.

The commercetools assets write here page by page and the Fluent assets read back chunk by chunk, so neither
holds a partition (let alone a year of them) in memory. Layout::

    <root>/<entity>/<partition>/full.parquet            every record of the partition (a full materialization)
    <root>/<entity>/<partition>/delta-<ids hash>.parquet  only the records a delta run re-read by id

A full materialization supersedes the partition's deltas and removes them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

FULL = "full"
CHUNK_SIZE = 500
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
        frame = pd.DataFrame(
            {
                "id": [r["id"] for r in records],
                "version": [int(r.get("version", 0)) for r in records],
                "last_modified_at": [r.get("lastModifiedAt", "") for r in records],
                "record": [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in records],
            }
        )
        self._writer.write_table(pa.Table.from_pandas(frame, schema=_SCHEMA, preserve_index=False))
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


class DatasetStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, entity: str, partition_key: str, name: str = FULL) -> Path:
        return self.root / entity / partition_key / f"{name}.parquet"

    def writer(self, entity: str, partition_key: str, name: str = FULL) -> DatasetWriter:
        return DatasetWriter(self.path(entity, partition_key, name))

    def read_chunks(
        self, entity: str, partition_key: str, name: str = FULL, chunk_size: int = CHUNK_SIZE
    ) -> Iterator[list[dict[str, Any]]]:
        """The records of a dataset, ``chunk_size`` at a time."""
        path = self.path(entity, partition_key, name)
        if not path.exists():
            raise FileNotFoundError(
                f"no {name} dataset of {entity} for partition {partition_key}: "
                "materialize the commercetools asset first"
            )
        parquet = pq.ParquetFile(path)
        for batch in parquet.iter_batches(batch_size=chunk_size, columns=["record"]):
            yield [json.loads(str(value)) for value in batch.column(0).to_pylist()]

    def remove_deltas(self, entity: str, partition_key: str) -> int:
        removed = 0
        for path in (self.root / entity / partition_key).glob("delta-*.parquet"):
            path.unlink(missing_ok=True)
            removed += 1
        return removed
