"""The `reelmind` command: exit statuses, JSON output, the summary, in-process on real data."""

from __future__ import annotations

import json
import shutil

import pytest

from reelmind.cli import main
from reelmind.records import VideoRecord

from helpers import shared_media


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
