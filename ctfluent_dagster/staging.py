"""Per-partition datasets of commercetools records, as Parquet files written and read in chunks.

The commercetools assets write here page by page and the Fluent assets read back chunk by chunk, so neither
holds a partition (let alone a year of them) in memory. The location is a local directory or an object store
URL (``s3://bucket/prefix``, ``gs://...``, ``az://...``, anything fsspec and ``universal-pathlib`` know): runs whose
steps execute in different pods or machines need the object store. Layout::

    <root>/<entity>/<partition>/full.parquet            every record of the partition (a full materialization)
    <root>/<entity>/<partition>/delta-<ids hash>.parquet  only the records a delta run re-read by id
    <root>/<entity>/<partition>/<name>.gone.json          ids the run found gone from commercetools (deleted,
                                                          unpublished): their Fluent records are deactivated

A full materialization supersedes the partition's deltas and removes them. A dataset appears under its final
name only when complete, so a reader never sees half of one.

Object store credentials and endpoints are never settings: fsspec's drivers read them from their usual places
(for S3: the AWS environment variables, ``AWS_ENDPOINT_URL``, the instance role; or fsspec's own configuration).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Container, Iterator, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

FULL = "full"
_FIELDS: list[pa.Field[Any]] = [
    pa.field("id", pa.string()),
    pa.field("version", pa.int64()),
    pa.field("last_modified_at", pa.string()),
    pa.field("record", pa.string()),  # the API's JSON, verbatim: the model is applied when reading
]
_SCHEMA = pa.schema(_FIELDS)
_LOCAL_PROTOCOLS = ("file", "local")

StagingPath = Path | UPath  # a local path (plain pathlib, native I/O) or a remote one (fsspec)


def staging_path(location: str | os.PathLike[str]) -> StagingPath:
    """A plain path or ``file://`` URL as a local :class:`Path`; any other URL as a :class:`UPath`. A URL carrying
    a password or a query string (a signature, a token) is refused, without echoing it: the location is shown in
    the UI and the logs, and credentials belong to the store's configuration."""
    parts = urlsplit(str(location))
    if parts.scheme and (parts.password is not None or parts.query):
        raise ValueError(
            "the staging location must not carry credentials (user:password@ or a query string): the object "
            "store's own configuration provides them (for S3 the AWS_* environment variables or the pod's role)"
        )
    path = UPath(location)
    if not path.protocol:
        return Path(location)
    return Path(path.path) if path.protocol in _LOCAL_PROTOCOLS else path


class DatasetWriter:
    """Appends pages to a Parquet file, one row group per page; the file appears under its final name only when
    complete, and not at all when the writing fails."""

    def __init__(self, path: StagingPath) -> None:
        self.path = path
        self.rows = 0
        self._local: Path | None = None  # local: the final name, and the file written then renamed to it
        self._tmp: Path | None = None
        self._file: IO[bytes] | None = None  # remote: the object being uploaded
        if isinstance(path, Path):
            # Local: write beside the final name, then rename (atomic within a file system).
            self._local, self._tmp = path, path.with_suffix(".parquet.tmp")
            self._tmp.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self._tmp, _SCHEMA, compression="zstd")
        else:
            # Object store: write to the final key directly. An object becomes visible only when its upload
            # completes: fsspec's drivers buffer what is written and send it on close as one PUT, or, past a block
            # (s3fs: 50 MiB), as a multipart upload that exists only once completed (S3; GCS's resumable uploads
            # and Azure's block lists work alike). So a reader sees the whole dataset or none, with no temporary
            # key and no copy (object stores have no rename). A failed write is discarded instead of closed (see
            # `_abandon`); a killed process leaves at most an incomplete multipart upload, which S3 never shows
            # and a bucket lifecycle rule (AbortIncompleteMultipartUpload) cleans up.
            self._file = path.open("wb")
            self._writer = pq.ParquetWriter(self._file, _SCHEMA, compression="zstd")

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
        if exc_type is not None:
            self._abandon()
            return
        try:
            self._writer.close()  # writes the footer; leaves the sink open
            if self._tmp is not None and self._local is not None:
                self._tmp.replace(self._local)
            elif self._file is not None:
                self._file.close()  # the upload: the object appears now
        except BaseException:
            self._abandon()
            raise

    def _abandon(self) -> None:
        with suppress(Exception):
            self._writer.close()
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
        elif self._file is not None:
            # Closing an fsspec file publishes what it buffered, and so would the garbage collector's close: discard
            # it instead (aborts a multipart upload under way) and mark it closed so that nothing is sent.
            discard = getattr(self._file, "discard", None)
            if discard is not None:
                discard()
            with suppress(AttributeError):
                self._file.closed = True  # type: ignore[misc]


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
    """The datasets under one location: a local directory (a plain path) or an object store URL."""

    def __init__(self, location: str | os.PathLike[str]) -> None:
        self.root = staging_path(location)

    def location(self, entity: str) -> str:
        """Where an entity's datasets are: a path or a URL (which carries no credentials, see `staging_path`)."""
        return str(self.root / entity)

    def path(self, entity: str, partition_key: str, name: str = FULL) -> StagingPath:
        return self.root / entity / partition_key / f"{name}.parquet"

    def writer(self, entity: str, partition_key: str, name: str = FULL) -> DatasetWriter:
        return DatasetWriter(self.path(entity, partition_key, name))

    def read_chunks(self, entity: str, partition_key: str, name: str = FULL) -> Iterator[StagedChunk]:
        """The records of a dataset, one written page (a Parquet row group) at a time; a page's JSON column is read
        only when one of its records needs it."""
        path = self.path(entity, partition_key, name)
        if not path.exists():
            raise FileNotFoundError(
                f"no {name} dataset of {entity} for partition {partition_key} in {self.location(entity)}: "
                "materialize the commercetools asset first"
            )
        with ExitStack() as stack:
            # Local: pyarrow's own file I/O. Remote: an fsspec file, which reads ahead by blocks (s3fs: 50 MiB), so a
            # dataset of a day costs a request or a few, whatever the number of row groups.
            source = str(path) if isinstance(path, Path) else stack.enter_context(path.open("rb"))
            parquet = stack.enter_context(pq.ParquetFile(source))
            for group in range(parquet.num_row_groups):
                keys = parquet.read_row_group(group, columns=["id", "version"])
                ids = [str(value) for value in keys.column("id").to_pylist()]
                versions = [int(value or 0) for value in keys.column("version").to_pylist()]

                def load_raw(group: int = group) -> list[str]:
                    return [str(v) for v in parquet.read_row_group(group, columns=["record"]).column(0).to_pylist()]

                yield StagedChunk(ids, versions, load_raw)

    def write_gone(self, entity: str, partition_key: str, name: str, ids: Sequence[str]) -> None:
        path = self.path(entity, partition_key, name).with_suffix(".gone.json")
        text = json.dumps(sorted(set(ids)))
        if isinstance(path, Path):
            tmp = path.with_suffix(".tmp")
            tmp.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
        else:
            path.write_text(text, encoding="utf-8")  # one PUT: atomic (see DatasetWriter)

    def read_gone(self, entity: str, partition_key: str, name: str) -> list[str]:
        path = self.path(entity, partition_key, name).with_suffix(".gone.json")
        try:
            ids: list[str] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        return ids

    def remove_deltas(self, entity: str, partition_key: str) -> int:
        removed = 0
        for pattern in ("delta-*.parquet", "*.gone.json"):
            for path in (self.root / entity / partition_key).glob(pattern):
                path.unlink(missing_ok=True)
                removed += 1
        return removed
