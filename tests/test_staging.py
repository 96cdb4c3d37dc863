"""The staged datasets (`ctfluent_dagster/staging.py`) on a local directory and on S3 (a real S3 server over HTTP:
moto in server mode, started by the `s3_endpoint` fixture): the same behaviour on both."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from ctfluent_dagster.staging import FULL, DatasetStore, StagedChunk
from tests.support import S3_BUCKET, s3_client

DAY = "2026-03-14"


@dataclass
class Location:
    store: DatasetStore
    stored: Callable[[], list[str]]  # what is at the location now: paths relative to its root, sorted


def customer(n: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"id-{n:04d}", "version": n, "lastModifiedAt": f"{DAY}T12:00:00.000Z", "email": f"é{n}@x", **extra}


@pytest.fixture(params=["local", "s3"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Location:
    if request.param == "local":
        root = tmp_path / "staging"
        return Location(
            DatasetStore(str(root)), lambda: sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        )
    url: str = request.getfixturevalue("s3_staging")
    prefix = url.removeprefix(f"s3://{S3_BUCKET}/")
    client = s3_client(request.getfixturevalue("s3_endpoint"))

    def stored() -> list[str]:
        listing = client.list_objects_v2(Bucket=S3_BUCKET, Prefix=f"{prefix}/")
        return sorted(o["Key"].removeprefix(f"{prefix}/") for o in listing.get("Contents", []))

    return Location(DatasetStore(url), stored)


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
        with pytest.raises(FileNotFoundError, match="materialize the commercetools asset first"):
            list(store.read_chunks("customers", DAY, "delta-abc"))
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
