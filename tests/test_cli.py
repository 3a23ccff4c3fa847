"""The `reelmind` command: exit statuses, JSON output, the summary, in-process on real data."""

from __future__ import annotations

import json
import shutil

import pytest

from reelmind import registry
from reelmind.cli import ingest_summary, main
from reelmind.pipeline import VideoSummary
from reelmind.records import SegmentRecord, VectorSpec, VideoRecord
from reelmind.store import Store

from helpers import shared_media, video_record

# Titles and file names that rich would read as console markup if they reached it unescaped.
MARKUP_TITLE = "Cooking show [/bold] finale"
MARKUP_NAME = "[reverse]styled.mp4"


def test_usage_errors_exit_2(capsys):
    for argv in ([], ["ingest"], ["search"], ["search", "x", "--k", "0"], ["frobnicate"]):
        with pytest.raises(SystemExit) as caught:
            main(argv)
        assert caught.value.code == 2, argv


def test_search_json(shared_db, capsys):
    db, _ = shared_db
    assert main(["search", "ask not what your country can do", "--json", "--k", "2", "--db", db]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 2
    assert {"video_id", "path", "title", "score", "start", "end", "text"} <= set(hits[0])
    assert "jfk" in hits[0]["path"] and hits[0]["start"] is not None


def test_videos_json_lines(shared_db, capsys):
    db, _ = shared_db
    assert main(["videos", "--json", "--db", db]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 6
    for row in rows:
        assert set(row) == set(VideoRecord.public_columns()) | {"segments"}
    jfk = next(r for r in rows if r["path"].endswith("jfk.flac"))
    assert jfk["segments"][0]["start"] == pytest.approx(0.0, abs=0.5) and "fellow Americans" in jfk["transcript"]


def test_batch_with_bad_files_exits_1_and_keeps_the_good(prefect_api, tmp_path, capsys):
    folder = tmp_path / "batch"
    folder.mkdir()
    shutil.copy(shared_media("chinese_zijide_jiao.flac"), folder / "good.flac")
    (folder / "empty.mp4").touch()
    (folder / "notes.mp3").write_text("not audio at all\n" * 20)
    db = str(tmp_path / "lancedb")
    status = main(["ingest", str(folder), str(tmp_path / "missing.mp4"), "--db", db])
    captured = capsys.readouterr()
    assert status == 1
    errors = [line for line in captured.err.splitlines() if line.startswith("error: ")]
    assert sorted(errors) == sorted([
        f"error: {folder / 'empty.mp4'}: empty file (0 bytes)",
        f"error: {folder / 'notes.mp3'}: not a media file, or corrupt or truncated (FFmpeg cannot read its format)",
        f"error: {tmp_path / 'missing.mp4'}: file not found",
    ])
    assert "1 ok" in captured.out and "3 failed" in captured.out
    assert main(["failures", "--json", "--db", db]) == 0
    failures = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {f["path"] for f in failures} == {str(folder / "empty.mp4"), str(folder / "notes.mp3"),
                                            str(tmp_path / "missing.mp4")}
    assert main(["videos", "--json", "--db", db]) == 0
    assert [json.loads(line)["language"] for line in capsys.readouterr().out.splitlines()] == ["zh"]


@pytest.fixture()
def markup_db(tmp_path, monkeypatch):
    """A database of two videos whose title and file name look like rich markup, built without an ingest."""
    monkeypatch.setenv("COLUMNS", "250")  # one table row per line, so the texts are not wrapped
    model = registry.load("text", "multilingual-e5-small")
    spaces = {"text": VectorSpec(model.model_id, model.dim), "visual": VectorSpec("efficientnet-lite0:imagenet1k", 4)}
    store = Store(str(tmp_path / "lancedb"))
    for video_id, title, path in [("v1", MARKUP_TITLE, "/media/finale.mp4"),
                                  ("v2", "[reverse]styled", f"/media/{MARKUP_NAME}")]:
        vector = model.embed_passages([title])[0]
        video = video_record(video_id, path=path, title=title, transcript=f"[bold]{title}", n_segments=1,
                             text_vector=vector)
        segment = SegmentRecord(f"{video_id}:0", video_id, "r1", 0, 0.0, 1.0, f"[/red] {title}", vector)
        store.write_video(video, [segment], [], spaces)
    return store.uri


def test_videos_table_shows_markup_as_text(markup_db, capsys):
    assert main(["videos", "--db", markup_db]) == 0
    out = capsys.readouterr().out
    assert MARKUP_TITLE in out and "[reverse]styled" in out and f"[bold]{MARKUP_TITLE}" in out


def test_search_table_shows_markup_as_text(markup_db, capsys):
    assert main(["search", "cooking show finale [/bold]", "--k", "2", "--db", markup_db]) == 0
    out = capsys.readouterr().out
    assert "Search: cooking show finale [/bold]" in out and MARKUP_TITLE in out and MARKUP_NAME in out
    assert "[speech] [/red]" in out  # which part matched, then the moment's own text


def test_recommend_table_shows_markup_as_text(markup_db, capsys):
    assert main(["recommend", "--user", "[bold]newcomer", "--db", markup_db]) == 0
    out = capsys.readouterr().out
    assert "[bold]newcomer" in out and MARKUP_TITLE in out and "[reverse]styled" in out
    assert "why" in out and "score" not in out  # the model's internal score is for --json, not for people


def test_ingest_summary_shows_markup_as_text(capsys):
    from flows.ingest import Failure, IngestReport

    report = IngestReport([VideoSummary("v1", f"/media/{MARKUP_NAME}", MARKUP_TITLE, "full", 10.0, "en", 1, 0)],
                          [Failure("/media/[bold red]broken.mp4", "[/] unreadable", "probe")], 1.0)
    from rich.console import Console

    console = Console(width=250, record=True)
    console.print(ingest_summary(report))
    text = console.export_text()
    assert MARKUP_NAME in text and MARKUP_TITLE in text and "[bold red]broken.mp4" in text
