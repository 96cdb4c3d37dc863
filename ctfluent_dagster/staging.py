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

The records are personal data (names, emails, addresses, phones), kept for a while only: :meth:`DatasetStore.prune`
deletes the datasets staged before the retention, and :meth:`DatasetStore.remove_records` takes one person's records
out (``ctfluent-forget``). On S3 the objects can be written with server-side encryption (SSE-S3 or SSE-KMS).

Object store credentials and endpoints are never settings: fsspec's drivers read them from their usual places
(for S3: the AWS environment variables, ``AWS_ENDPOINT_URL``, the instance role; or fsspec's own configuration).
"""

from __future__ import annotations

import json
import os
import stat
import uuid
from collections.abc import Callable, Collection, Container, Iterator, Mapping, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import urlsplit

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from upath import UPath

from ctfluent_dagster.settings import StagingEncryption, SyncSettings, state_dir

FULL = "full"
_FIELDS: list[pa.Field[Any]] = [
    pa.field("id", pa.string()),
    pa.field("version", pa.int64()),
    pa.field("last_modified_at", pa.string()),
    pa.field("record", pa.string()),  # the API's JSON, verbatim: the model is applied when reading
]
_SCHEMA = pa.schema(_FIELDS)
# When a dataset's records were read from commercetools, in its Parquet metadata: what the retention counts from. A
# rewrite (a person's records taken out) keeps it, although the file's own time changes (S3 cannot keep an object's).
_STAGED_AT = b"ctfluent.staged_at"
_LOCAL_PROTOCOLS = ("file", "local")
# What S3 is asked for with every object written (s3fs passes it to PutObject and CreateMultipartUpload only; reads
# need nothing: S3 decrypts for whoever may read the object and use its key).
_SERVER_SIDE_ENCRYPTION = {"sse-s3": "AES256", "sse-kms": "aws:kms"}
# A dataset staged anew while a rewrite reads it is read again, up to this many times.
_REWRITE_ATTEMPTS = 3

StagingPath = Path | UPath  # a local path (plain pathlib, native I/O) or a remote one (fsspec)


def staging_path(location: str | os.PathLike[str], storage_options: Mapping[str, Any] | None = None) -> StagingPath:
    """A plain path or ``file://`` URL as a local :class:`Path`; any other URL as a :class:`UPath` (with these fsspec
    storage options). A URL carrying a password or a query string (a signature, a token) is refused, without echoing
    it: the location is shown in the UI and the logs, and credentials belong to the store's configuration."""
    parts = urlsplit(str(location))
    if parts.scheme and (parts.password is not None or parts.query):
        raise ValueError(
            "the staging location must not carry credentials (user:password@ or a query string): the object "
            "store's own configuration provides them (for S3 the AWS_* environment variables or the pod's role)"
        )
    path = UPath(location)
    if not path.protocol:
        return Path(location)
    if path.protocol in _LOCAL_PROTOCOLS:
        return Path(path.path)
    return UPath(location, **storage_options) if storage_options else path


def encryption_options(
    location: str | os.PathLike[str], encryption: StagingEncryption, kms_key_id: str | None
) -> dict[str, Any]:
    """The fsspec storage options that make S3 encrypt every object written (none for ``"none"``)."""
    if kms_key_id and encryption != "sse-kms":
        raise ValueError(f"staging_kms_key_id is set but staging_encryption is {encryption!r}, not 'sse-kms'")
    if encryption == "none":
        return {}
    if urlsplit(str(location)).scheme not in ("s3", "s3a"):
        raise ValueError(
            f"staging_encryption {encryption!r} applies to an s3:// staging location only (a local directory is as "
            "encrypted as its disk; gs:// and az:// encrypt at rest by themselves)"
        )
    arguments = {"ServerSideEncryption": _SERVER_SIDE_ENCRYPTION[encryption]}
    if kms_key_id:
        arguments["SSEKMSKeyId"] = kms_key_id
    return {"s3_additional_kwargs": arguments}


def _commercetools_version(record: Mapping[str, Any]) -> int:
    return int(record.get("version", 0))


def _commercetools_id(record: Mapping[str, Any]) -> str:
    return str(record["id"])


class DatasetWriter:
    """Appends pages to a Parquet file, one row group per page; the file appears under its final name only when
    complete, and not at all when the writing fails. ``staged_at``: when its records were read (default: now).
    ``key_of``/``version_of``: a record's key and version as the ledger knows them (default: a commercetools
    record's ``id`` and ``version``; a Fluent record's are its ref and ``updatedOn``), kept beside it so that a
    settled record is counted without parsing it."""

    def __init__(
        self,
        path: StagingPath,
        staged_at: datetime | None = None,
        key_of: Callable[[Mapping[str, Any]], str] = _commercetools_id,
        version_of: Callable[[Mapping[str, Any]], int] = _commercetools_version,
    ) -> None:
        self.path = path
        self.rows = 0
        self.key_of, self.version_of = key_of, version_of
        moment = (staged_at or datetime.now(UTC)).isoformat()
        schema = _SCHEMA.with_metadata({_STAGED_AT: moment.encode()})
        self._local: Path | None = None  # local: the final name, and the file written then renamed to it
        self._tmp: Path | None = None
        self._file: IO[bytes] | None = None  # remote: the object being uploaded
        if isinstance(path, Path):
            # Local: write beside the final name, then rename (atomic within a file system). The temporary name is
            # the writer's own: two writers of one dataset (a run re-staging a day while ctfluent-forget rewrites
            # it) never write into one file.
            self._local, self._tmp = path, path.with_name(f"{path.name}.{uuid.uuid4().hex[:12]}.tmp")
            self._tmp.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self._tmp, schema, compression="zstd")
        else:
            # Object store: write to the final key directly. An object becomes visible only when its upload
            # completes: fsspec's drivers buffer what is written and send it on close as one PUT, or, past a block
            # (s3fs: 50 MiB), as a multipart upload that exists only once completed (S3; GCS's resumable uploads
            # and Azure's block lists work alike). So a reader sees the whole dataset or none, with no temporary
            # key and no copy (object stores have no rename). A failed write is discarded instead of closed (see
            # `_abandon`); a killed process leaves at most an incomplete multipart upload, which S3 never shows
            # and a bucket lifecycle rule (AbortIncompleteMultipartUpload) cleans up.
            self._file = path.open("wb")
            self._writer = pq.ParquetWriter(self._file, schema, compression="zstd")

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        if not records:
            return
        columns = {
            "id": [self.key_of(r) for r in records],
            "version": [self.version_of(r) for r in records],
            "last_modified_at": [r.get("lastModifiedAt", "") for r in records],
            "record": [orjson.dumps(r).decode() for r in records],
        }
        self.write_rows(pa.Table.from_pydict(columns, schema=_SCHEMA))

    def write_rows(self, table: pa.Table) -> None:
        """A page of staged rows as they are (read from another dataset), as one row group."""
        if table.num_rows:
            self._writer.write_table(table)
            self.rows += table.num_rows

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
        return [orjson.loads(text) for source_id, text in zip(self.ids, raw, strict=True) if source_id not in skip]


@dataclass(frozen=True, order=True)
class Dataset:
    """One staged dataset, by where it is under the location."""

    entity: str
    partition_key: str
    name: str

    def __str__(self) -> str:
        return f"{self.entity}/{self.partition_key}/{self.name}.parquet"


class DatasetStore:
    """The datasets under one location: a local directory (a plain path) or an object store URL, on S3 optionally
    written with server-side encryption."""

    def __init__(
        self,
        location: str | os.PathLike[str],
        encryption: StagingEncryption = "none",
        kms_key_id: str | None = None,
    ) -> None:
        self.root = staging_path(location, encryption_options(location, encryption, kms_key_id))

    @classmethod
    def from_settings(cls, settings: SyncSettings) -> DatasetStore:
        """At ``staging_dir`` (a path or an object store URL), else under DAGSTER_HOME; encrypted as configured."""
        location = settings.staging_dir or state_dir() / "staging"
        return cls(location, settings.staging_encryption, settings.staging_kms_key_id)

    def location(self, entity: str) -> str:
        """Where an entity's datasets are: a path or a URL (which carries no credentials, see `staging_path`)."""
        return str(self.root / entity)

    def path(self, entity: str, partition_key: str, name: str = FULL) -> StagingPath:
        return self.root / entity / partition_key / f"{name}.parquet"

    def writer(
        self,
        entity: str,
        partition_key: str,
        name: str = FULL,
        key_of: Callable[[Mapping[str, Any]], str] = _commercetools_id,
        version_of: Callable[[Mapping[str, Any]], int] = _commercetools_version,
    ) -> DatasetWriter:
        return DatasetWriter(self.path(entity, partition_key, name), key_of=key_of, version_of=version_of)

    def read_chunks(
        self, entity: str, partition_key: str, name: str = FULL, source_asset: str | None = None
    ) -> Iterator[StagedChunk]:
        """The records of a dataset, one written page (a Parquet row group) at a time; a page's JSON column is read
        only when one of its records needs it. ``source_asset``: the asset that stages it (to say so when it is
        missing)."""
        path = self.path(entity, partition_key, name)
        if not path.exists():
            raise FileNotFoundError(
                f"no {name} dataset of {entity} for partition {partition_key} in {self.location(entity)}: it was "
                "never staged, or was deleted staging_retention_days after it was staged. Re-run the step that "
                f"stages it (materialize {source_asset or 'its source asset'} for {partition_key} first, or "
                "re-execute the run from its source step), then this one"
            )
        with ExitStack() as stack:
            parquet = stack.enter_context(pq.ParquetFile(_source(path, stack)))
            for group in range(parquet.num_row_groups):
                keys = parquet.read_row_group(group, columns=["id", "version"])
                ids = [str(value) for value in keys.column("id").to_pylist()]
                versions = [int(value or 0) for value in keys.column("version").to_pylist()]

                def load_raw(group: int = group) -> list[str]:
                    return [str(v) for v in parquet.read_row_group(group, columns=["record"]).column(0).to_pylist()]

                yield StagedChunk(ids, versions, load_raw)

    def size(self, entity: str, partition_key: str, name: str = FULL) -> tuple[int, int]:
        """A dataset's pages and records, from its Parquet footer; (0, 0) when it is missing (reading it says why)."""
        path = self.path(entity, partition_key, name)
        if not path.exists():
            return 0, 0
        with ExitStack() as stack:
            metadata = pq.ParquetFile(_source(path, stack)).metadata
            return metadata.num_row_groups, metadata.num_rows

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

    # -- the lifetime of personal data -------------------------------------------------------------

    def datasets(self) -> list[Dataset]:
        """Every dataset staged now."""
        found = []
        for path in self.root.glob("*/*/*.parquet"):
            entity, partition_key, filename = path.parts[-3:]
            found.append(Dataset(entity, partition_key, filename.removesuffix(".parquet")))
        return sorted(found)

    def prune(self, staged_before: datetime) -> list[str]:
        """Delete the datasets staged before this moment, with the gone ids beside them and what a killed write
        left behind (the retention of the personal data they hold); what was deleted, as paths below the root.

        A dataset counts from when its records were read from commercetools (an old partition staged again today by
        a backfill is today's), so that a run never loses the dataset it just staged."""
        cutoff = staged_before.timestamp()
        removed: list[str] = []
        paths: list[StagingPath] = list(self.root.glob("*/*/*"))  # listed first: files are deleted on the way
        for path in paths:
            with suppress(FileNotFoundError):  # deleted meanwhile: with its dataset, or by another prune
                info = path.stat()
                if not stat.S_ISREG(info.st_mode):
                    continue
                # A file's time is its last write: never earlier than the staging, later for a rewrite.
                if info.st_mtime >= cutoff and not (path.name.endswith(".parquet") and _staged_at(path) < cutoff):
                    continue
                path.unlink()
                removed.append("/".join(path.parts[-3:]))
                if path.name.endswith(".parquet"):
                    gone = path.with_suffix(".gone.json")
                    with suppress(FileNotFoundError):
                        gone.unlink()
                        removed.append("/".join(gone.parts[-3:]))
        return sorted(set(removed))

    def remove_records(self, dataset: Dataset, ids: Collection[str]) -> int:
        """Rewrite a dataset without the records of these commercetools ids, page by page, published as a dataset
        is (whole or not at all) and staged when it was; how many records were taken out. A dataset staged anew
        while it is read (a run re-staging its day) is read again, so that it is not replaced by an older copy."""
        path = self.path(dataset.entity, dataset.partition_key, dataset.name)
        unwanted = pa.array(sorted(ids), pa.string())
        for _ in range(_REWRITE_ATTEMPTS):
            before = _fingerprint(path)
            with ExitStack() as stack:
                parquet = stack.enter_context(pq.ParquetFile(_source(path, stack)))
                pages = range(parquet.num_row_groups)
                id_pages = (parquet.read_row_group(page, columns=["id"]) for page in pages)
                removed = sum(ids_page.filter(pc.is_in(ids_page["id"], unwanted)).num_rows for ids_page in id_pages)
                if not removed:
                    return 0
                staged = _metadata_time(parquet.schema_arrow.metadata) or datetime.fromtimestamp(before[1], UTC)
                try:
                    with DatasetWriter(path, staged_at=staged) as writer:
                        for page in pages:  # one page in memory at a time
                            table = parquet.read_row_group(page)
                            writer.write_rows(table.filter(pc.invert(pc.is_in(table["id"], unwanted))))
                        if _fingerprint(path) != before:
                            raise _StagedAnew
                except _StagedAnew:
                    continue
            return removed
        raise RuntimeError(f"{dataset} was staged anew {_REWRITE_ATTEMPTS} times while being rewritten: try again")

    def remove_gone_ids(self, dataset: Dataset, ids: Collection[str]) -> int:
        """Take these ids out of the gone ids beside a dataset; how many were there."""
        listed = self.read_gone(dataset.entity, dataset.partition_key, dataset.name)
        kept = [source_id for source_id in listed if source_id not in ids]
        if len(kept) < len(listed):
            self.write_gone(dataset.entity, dataset.partition_key, dataset.name, kept)
        return len(listed) - len(kept)


class _StagedAnew(Exception):
    """The dataset being rewritten was replaced meanwhile."""


def _fingerprint(path: StagingPath) -> tuple[int, float]:
    """Size and time of a file as the store says now (not from a listing cached before)."""
    if isinstance(path, UPath):
        path.fs.invalidate_cache(path.path)
    info = path.stat()
    return info.st_size, info.st_mtime


def _metadata_time(metadata: Mapping[bytes, bytes] | None) -> datetime | None:
    value = (metadata or {}).get(_STAGED_AT)
    return datetime.fromisoformat(value.decode()) if value else None


def _staged_at(path: StagingPath) -> float:
    """When a dataset's records were staged (a dataset staged before this was recorded: its file's time)."""
    with ExitStack() as stack:
        moment = _metadata_time(pq.read_schema(_source(path, stack)).metadata)
    return moment.timestamp() if moment else path.stat().st_mtime


def _source(path: StagingPath, stack: ExitStack) -> str | IO[bytes]:
    """What pyarrow reads a dataset from. Local: a path, for pyarrow's own file I/O. Remote: an fsspec file, which
    reads ahead by blocks (s3fs: 50 MiB), so that a dataset of a day costs a request or a few, whatever its pages."""
    return str(path) if isinstance(path, Path) else stack.enter_context(path.open("rb"))
