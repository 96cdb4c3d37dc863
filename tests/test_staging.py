"""The staged datasets (`ctfluent_dagster/staging.py`) on a local directory and on S3 (a real S3 server over HTTP:
moto in server mode, started by the `s3_endpoint` fixture): the same behaviour on both."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ctfluent_dagster.configuration import read_settings
from ctfluent_dagster.staging import FULL, Dataset, DatasetStore, DatasetWriter, StagedChunk
from tests.support import S3_BUCKET, s3_client

DAY = "2026-03-14"
RETENTION = timedelta(days=7)


@dataclass
class Location:
    store: DatasetStore
    stored: Callable[[], list[str]]  # what is at the location now: paths relative to its root, sorted
    age: Callable[[str, timedelta], None]  # make what is at a path (relative to the root) written that long ago


def customer(n: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"id-{n:04d}", "version": n, "lastModifiedAt": f"{DAY}T12:00:00.000Z", "email": f"é{n}@x", **extra}


@pytest.fixture(params=["local", "s3"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Location:
    if request.param == "local":
        root = tmp_path / "staging"

        def age_file(key: str, by: timedelta) -> None:
            moment = (root / key).stat().st_mtime - by.total_seconds()
            os.utime(root / key, (moment, moment))

        return Location(
            DatasetStore(str(root)),
            lambda: sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()),
            age_file,
        )
    url: str = request.getfixturevalue("s3_staging")
    prefix = url.removeprefix(f"s3://{S3_BUCKET}/")
    client = s3_client(request.getfixturevalue("s3_endpoint"))

    def stored() -> list[str]:
        listing = client.list_objects_v2(Bucket=S3_BUCKET, Prefix=f"{prefix}/")
        return sorted(o["Key"].removeprefix(f"{prefix}/") for o in listing.get("Contents", []))

    def age_object(key: str, by: timedelta) -> None:
        """S3 cannot set an object's time: the local server's own record of it (moto runs in this process)."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        stored_key = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets[S3_BUCKET].keys[f"{prefix}/{key}"]
        stored_key.last_modified -= by

    return Location(DatasetStore(url), stored, age_object)


def test_pages_come_back_one_row_group_at_a_time_with_their_json_read_on_demand(location: Location) -> None:
    store = location.store
    pages = [[customer(1), customer(2), customer(3)], [], [customer(4, note="ünïcode")], [customer(5), customer(6)]]
    with store.writer("customers", DAY) as writer:
        for page in pages:
            writer.write(page)
    assert writer.rows == 6
    assert location.stored() == [f"customers/{DAY}/full.parquet"]

    loads: list[int] = []

    def counted(number: int, chunk: StagedChunk) -> StagedChunk:
        def load_raw() -> list[str]:
            loads.append(number)
            return chunk.load_raw()

        return replace(chunk, load_raw=load_raw)

    # A chunk's JSON is readable while the reader is at it (how the Fluent asset consumes them, one after the other).
    read: list[tuple[list[str], list[int], list[dict[str, Any]]]] = []
    skip = {"id-0001", "id-0002", "id-0003", "id-0005"}
    for number, chunk in enumerate(store.read_chunks("customers", DAY)):
        read.append((chunk.ids, chunk.versions, counted(number, chunk).records(skip=skip)))
        if number == 0:
            assert [json.loads(text)["id"] for text in chunk.load_raw()] == ["id-0001", "id-0002", "id-0003"]
    assert read == [
        (["id-0001", "id-0002", "id-0003"], [1, 2, 3], []),
        (["id-0004"], [4], [customer(4, note="ünïcode")]),
        (["id-0005", "id-0006"], [5, 6], [customer(6)]),
    ]
    assert loads == [1, 2]  # the first page's records were all skipped: its JSON was not read


def test_a_dataset_appears_under_its_name_only_when_complete(location: Location) -> None:
    store = location.store
    with store.writer("customers", DAY, "delta-abc") as writer:
        writer.write([customer(1)])
        assert not store.path("customers", DAY, "delta-abc").exists()
        with pytest.raises(FileNotFoundError, match=r"materialize commercetools/customers for .* first"):
            list(store.read_chunks("customers", DAY, "delta-abc", source_asset="commercetools/customers"))
    assert [chunk.ids for chunk in store.read_chunks("customers", DAY, "delta-abc")] == [["id-0001"]]


def test_an_interrupted_write_leaves_no_dataset_and_keeps_the_previous_one(location: Location) -> None:
    store = location.store
    with pytest.raises(RuntimeError, match="commercetools went away"), store.writer("customers", DAY) as writer:
        writer.write([customer(1), customer(2)])
        raise RuntimeError("commercetools went away")
    assert location.stored() == []  # no dataset, no temporary file or object
    with pytest.raises(FileNotFoundError):
        list(store.read_chunks("customers", DAY))

    with store.writer("customers", DAY) as writer:
        writer.write([customer(1)])
    with pytest.raises(RuntimeError), store.writer("customers", DAY) as writer:
        writer.write([customer(7), customer(8)])
        raise RuntimeError("interrupted while re-staging the day")
    assert [chunk.ids for chunk in store.read_chunks("customers", DAY)] == [["id-0001"]]
    assert location.stored() == [f"customers/{DAY}/full.parquet"]


def test_an_interrupted_large_write_aborts_its_multipart_upload(
    s3_staging: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past a block, s3fs uploads parts of a multipart upload while the writing goes on: an interrupted write
    aborts it, so that no object appears and no part is left behind."""
    store = DatasetStore(s3_staging)
    monkeypatch.setattr(store.root.fs, "default_block_size", 5 * 2**20)  # S3's smallest part, to keep this quick
    client = s3_client(s3_endpoint)
    noise = random.Random(1)
    with pytest.raises(RuntimeError, match="interrupted"), store.writer("customers", DAY) as writer:
        while not client.list_multipart_uploads(Bucket=S3_BUCKET).get("Uploads"):
            writer.write([customer(n, blob=noise.randbytes(2**17).hex()) for n in range(4)])  # ~0.5 MiB a page
        raise RuntimeError("interrupted")
    assert not client.list_multipart_uploads(Bucket=S3_BUCKET).get("Uploads")
    assert not store.path("customers", DAY).exists()

    with store.writer("customers", DAY) as writer:  # and a large dataset is written through such an upload
        for n in range(12):
            writer.write([customer(n, blob=noise.randbytes(2**17).hex())])
    assert sum(len(chunk) for chunk in store.read_chunks("customers", DAY)) == 12


def test_gone_ids_are_kept_beside_their_dataset_until_a_full_dataset_supersedes_the_deltas(location: Location) -> None:
    store = location.store
    assert store.read_gone("customers", DAY, "delta-abc") == []
    store.write_gone("customers", DAY, "delta-abc", ["b", "a", "b"])
    assert store.read_gone("customers", DAY, "delta-abc") == ["a", "b"]
    for name in ("delta-abc", "delta-def", FULL):
        with store.writer("customers", DAY, name) as writer:
            writer.write([customer(1)])
    with store.writer("customers", "2026-03-15", "delta-abc") as writer:  # another day's delta stays
        writer.write([customer(2)])
    assert len(location.stored()) == 5

    assert store.remove_deltas("customers", DAY) == 3
    assert location.stored() == [f"customers/{DAY}/full.parquet", "customers/2026-03-15/delta-abc.parquet"]
    assert store.read_gone("customers", DAY, "delta-abc") == []


def test_the_location_is_a_path_or_a_url_and_never_carries_credentials(tmp_path: Path) -> None:
    assert DatasetStore(str(tmp_path)).location("customers") == str(tmp_path / "customers")
    assert DatasetStore(tmp_path).root == tmp_path
    assert DatasetStore(f"file://{tmp_path}").root == tmp_path  # a file:// URL is the local directory
    assert DatasetStore("s3://bucket/staging/").location("customers") == "s3://bucket/staging/customers"
    assert DatasetStore("gs://bucket/staging").location("customers") == "gs://bucket/staging/customers"
    for url in ("s3://AKIA:s3cr3t@bucket/staging", "az://container/staging?sig=s3cr3t"):
        with pytest.raises(ValueError, match="must not carry credentials") as raised:
            DatasetStore(url)
        assert "s3cr3t" not in str(raised.value)


def test_datasets_staged_before_the_retention_are_pruned_and_a_reader_is_told_to_stage_again(
    location: Location,
) -> None:
    store = location.store
    now = datetime.now(UTC)
    for day, name in ((DAY, FULL), (DAY, "delta-abc"), ("2026-03-15", FULL), ("2026-03-16", FULL)):
        with store.writer("customers", day, name) as writer:
            writer.write([customer(1)])
    store.write_gone("customers", DAY, "delta-abc", ["id-0002"])
    # Staged 8 days ago, rewritten today (ctfluent-forget took a record out): its staging counts, not its file's time.
    with DatasetWriter(store.path("customers", "2026-03-17"), staged_at=now - RETENTION - timedelta(days=1)) as old:
        old.write([customer(3)])
    for key in (
        f"customers/{DAY}/full.parquet",
        f"customers/{DAY}/delta-abc.parquet",
        "customers/2026-03-15/full.parquet",
    ):
        location.age(key, RETENTION + timedelta(hours=1))
    location.age("customers/2026-03-16/full.parquet", RETENTION - timedelta(hours=1))  # within the retention

    assert store.prune(now - RETENTION) == [
        f"customers/{DAY}/delta-abc.gone.json",  # with its dataset, although written later
        f"customers/{DAY}/delta-abc.parquet",
        f"customers/{DAY}/full.parquet",
        "customers/2026-03-15/full.parquet",
        "customers/2026-03-17/full.parquet",
    ]
    assert location.stored() == ["customers/2026-03-16/full.parquet"]
    assert store.prune(now - RETENTION) == []
    # A Fluent step re-executed after its day was pruned: a clear failure naming what to run.
    with pytest.raises(FileNotFoundError) as missing:
        list(store.read_chunks("customers", DAY, source_asset="commercetools/customers"))
    assert "deleted staging_retention_days after it was staged" in str(missing.value)
    assert f"commercetools/customers for {DAY}" in str(missing.value)


def test_a_persons_records_are_taken_out_of_a_dataset_which_keeps_its_pages_and_staging_time(
    location: Location,
) -> None:
    store = location.store
    staged_at = datetime.now(UTC) - timedelta(days=2)
    with DatasetWriter(store.path("orders", DAY), staged_at=staged_at) as writer:
        for page in ([customer(1), customer(2)], [customer(3)], [customer(4), customer(5), customer(6)]):
            writer.write(page)
    dataset = Dataset("orders", DAY, FULL)
    assert store.datasets() == [dataset]
    store.write_gone("orders", DAY, FULL, ["id-0002", "id-0009"])

    assert store.remove_records(dataset, {"id-0002", "id-0003", "id-0005", "id-0404"}) == 3
    pages = [(chunk.ids, chunk.versions, chunk.records()) for chunk in store.read_chunks("orders", DAY)]
    assert pages == [(["id-0001"], [1], [customer(1)]), (["id-0004", "id-0006"], [4, 6], [customer(4), customer(6)])]
    assert store.remove_gone_ids(dataset, {"id-0002", "id-0003"}) == 1
    assert store.read_gone("orders", DAY, FULL) == ["id-0009"]
    assert location.stored() == [f"orders/{DAY}/full.gone.json", f"orders/{DAY}/full.parquet"]  # nothing left over
    # The retention still counts from the staging: pruned with everything staged then.
    assert store.prune(staged_at + timedelta(seconds=1)) == [
        f"orders/{DAY}/full.gone.json",
        f"orders/{DAY}/full.parquet",
    ]


def test_a_dataset_staged_anew_while_a_person_is_taken_out_is_read_again(
    location: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run re-staging the day while ctfluent-forget rewrites it: the rewrite must not put the older copy back."""
    store = location.store
    with store.writer("customers", DAY) as writer:
        writer.write([customer(1), customer(2)])
    write_rows = DatasetWriter.write_rows
    restaged: list[int] = []

    def restage_once(self: DatasetWriter, table: Any) -> None:
        if not restaged:
            restaged.append(1)
            with store.writer("customers", DAY) as again:  # the run's writer, with more records
                again.write([customer(1), customer(2), customer(3)])
        write_rows(self, table)

    monkeypatch.setattr(DatasetWriter, "write_rows", restage_once)
    assert store.remove_records(Dataset("customers", DAY, FULL), {"id-0002"}) == 1
    assert [chunk.ids for chunk in store.read_chunks("customers", DAY)] == [["id-0001", "id-0003"]]
    assert location.stored() == [f"customers/{DAY}/full.parquet"]


def test_a_dataset_without_the_persons_records_is_left_as_it_is(location: Location) -> None:
    store = location.store
    with store.writer("customers", DAY) as writer:
        writer.write([customer(1)])
    path = store.path("customers", DAY)
    before = path.stat().st_mtime
    location.age(f"customers/{DAY}/full.parquet", timedelta(days=1))
    assert store.remove_records(Dataset("customers", DAY, FULL), {"id-0404"}) == 0
    assert path.stat().st_mtime < before  # not rewritten


@pytest.mark.parametrize(
    ("encryption", "key_id", "expected"),
    [
        ("sse-s3", None, {"ServerSideEncryption": "AES256"}),
        (
            "sse-kms",
            "alias/ctfluent-staging",
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/ctfluent-staging"},
        ),
        ("sse-kms", None, {"ServerSideEncryption": "aws:kms"}),
        ("none", None, {}),
    ],
)
def test_staged_objects_are_written_with_the_server_side_encryption_configured(
    encryption: str,
    key_id: str | None,
    expected: dict[str, str],
    s3_staging: str,
    s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every kind of object written: a dataset (one PUT), a large one (a multipart upload), the gone ids, a rewrite."""
    monkeypatch.setenv("CTFLUENT_STAGING_DIR", s3_staging)
    monkeypatch.setenv("CTFLUENT_STAGING_ENCRYPTION", encryption)
    if key_id:
        monkeypatch.setenv("CTFLUENT_STAGING_KMS_KEY_ID", key_id)
    store = DatasetStore.from_settings(read_settings())
    monkeypatch.setattr(store.root.fs, "default_block_size", 5 * 2**20)  # S3's smallest part, to keep this quick
    noise = random.Random(2)
    with store.writer("customers", DAY) as writer:
        writer.write([customer(1), customer(2)])
    with store.writer("customers", "2026-03-15") as writer:
        for n in range(48):  # ~6 MiB: past a block, so a multipart upload
            writer.write([customer(n, blob=noise.randbytes(2**16).hex())])
    store.write_gone("customers", DAY, FULL, ["id-0003"])
    store.remove_records(Dataset("customers", DAY, FULL), {"id-0002"})

    client = s3_client(s3_endpoint)
    prefix = s3_staging.removeprefix(f"s3://{S3_BUCKET}/")
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=S3_BUCKET, Prefix=prefix)["Contents"])
    assert len(keys) == 3
    for key in keys:
        head = client.head_object(Bucket=S3_BUCKET, Key=key)
        assert {name: head[name] for name in ("ServerSideEncryption", "SSEKMSKeyId") if name in head} == expected, key
    assert [chunk.ids for chunk in store.read_chunks("customers", DAY)] == [["id-0001"]]  # read back as usual


def test_server_side_encryption_is_refused_where_it_cannot_apply(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="applies to an s3:// staging location only"):
        DatasetStore(tmp_path, "sse-s3")
    with pytest.raises(ValueError, match="applies to an s3:// staging location only"):
        DatasetStore("gs://bucket/staging", "sse-kms")
    with pytest.raises(ValueError, match="staging_kms_key_id is set but staging_encryption is 'sse-s3'"):
        DatasetStore("s3://bucket/staging", "sse-s3", "alias/key")
    assert DatasetStore("s3://bucket/staging", "sse-kms", "alias/key").location("customers") == (
        "s3://bucket/staging/customers"  # the key id is not part of the location shown
    )
