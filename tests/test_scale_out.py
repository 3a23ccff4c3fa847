"""Scale-out paths with real components started on loopback: a Dask cluster, an S3-compatible object store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from reelmind import indexes
from reelmind.search import search
from reelmind.store import Store

from helpers import FIXTURES, free_port, settings_for

COMPARED = ["id", "title", "language", "transcript", "ocr_text", "n_frames", "n_segments", "captions"]


def _rows(db: str, **storage) -> dict[str, dict]:
    return {r["id"]: {k: r[k] for k in COMPARED} for r in Store(db, storage or None).videos(COMPARED)}


def test_dask_cluster_ingest_matches_the_default_runner(fixtures_db, tmp_path):
    from distributed import LocalCluster
    from prefect_dask import DaskTaskRunner

    from flows.ingest import ingest

    reference_db, _ = fixtures_db
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        db = str(tmp_path / "lancedb")
        report = ingest.with_options(task_runner=DaskTaskRunner(address=cluster.scheduler_address))(
            [str(FIXTURES)], db=db)
    assert report.failures == [] and len(report.videos) == 4
    assert _rows(db) == _rows(reference_db)



@pytest.fixture()
def s3(monkeypatch, tmp_path):
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # LanceDB's object store reads the standard AWS variables.
    for name, value in {"AWS_ENDPOINT": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REELMIND_DATA_DIR", str(tmp_path / "data"))  # thumbnails stay local, out of the checkout
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="reelmind")
    yield endpoint
    server.stop()


def test_lancedb_on_object_storage(prefect_api, s3, tmp_path, monkeypatch):
    import boto3

    from flows.ingest import ingest

    db = "s3://reelmind/library/lancedb"
    files = [str(FIXTURES / "tomato_soup_recipe.mp4"), str(FIXTURES / "quarterly_report_silent.mp4")]
    reports = [ingest([path], db=db) for path in files]  # two commits: two fragments per table to compact
    assert all(r.failures == [] and [v.action for v in r.videos] == ["full"] for r in reports)
    hits = search("expand to Asia", settings_for(db), k=2)
    assert Path(hits[0].path).name == "quarterly_report_silent.mp4" and hits[0].match == "screen"
    keys = [o["Key"] for o in boto3.client("s3", endpoint_url=s3, region_name="us-east-1")
            .list_objects_v2(Bucket="reelmind", Prefix="library/lancedb/")["Contents"]]
    assert any(k.startswith("library/lancedb/videos.lance/") for k in keys)
    again = ingest(files, db=db)
    assert {v.action for v in again.videos} == {"skip"}
    # the upkeep on the object store, through the tables' Lance datasets: compaction, indexes, old versions dropped
    monkeypatch.setattr(indexes, "KEEP_VERSIONS_FOR", timedelta(0))
    done = {m.table: m for m in Store.open(db).maintain()}
    assert set(done) == {"videos", "segments", "frames"}
    assert all(m.versions_after < m.versions_before for m in done.values())
    assert search("expand to Asia", settings_for(db), k=2)[0].path == hits[0].path
