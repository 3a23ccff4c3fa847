"""Errors a user can cause reach them as one line, `error: <what>: <why>`, with a non-zero exit and no traceback."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from reelmind.cli import main
from reelmind.store import Store

from helpers import free_port

# An unreachable object store must be reported in seconds, not after minutes of retries.
S3_ERROR_WITHIN_S = 30


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.rstrip("\n")


def test_db_pointing_at_a_file(tmp_path, capsys):
    db = tmp_path / "notes.txt"
    db.write_text("not a database\n")
    for argv in (["videos"], ["failures"], ["search", "anything"], ["events", "list"], ["upgrade"]):
        assert main([*argv, "--db", str(db)]) == 1, argv
        assert _error_line(capsys) == f"error: {db}: is a file, not a database folder", argv


def test_db_under_a_file(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a database\n")
    db = tmp_path / "notes.txt" / "lancedb"
    assert main(["videos", "--db", str(db)]) == 1
    assert _error_line(capsys) == f"error: {db}: cannot open the database (Not a directory)"


@pytest.fixture()
def read_only_db(tmp_path):
    """A database with a table, which nobody may write, root included: chattr's immutable flag binds root too."""
    db = tmp_path / "lancedb"
    Store(str(db)).record_failure(str(tmp_path / "old.mp4"), "an earlier failure", "probe")
    if shutil.which("chattr") is None or subprocess.run(["chattr", "-R", "+i", str(db)],
                                                        capture_output=True).returncode:
        pytest.skip("chattr +i is not available here: cannot make a folder read-only for root")
    yield db
    subprocess.run(["chattr", "-R", "-i", str(db)], check=True)


def test_ingest_into_a_read_only_database(read_only_db, tmp_path, capsys):
    assert main(["ingest", str(tmp_path / "clip.mp4"), "--db", str(read_only_db)]) == 1
    assert _error_line(capsys) == f"error: {read_only_db}: cannot ingest into a database that cannot be written " \
                                  f"({read_only_db} is read-only)"


def test_unreachable_object_store(monkeypatch, capsys):
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    for name, value in {"AWS_ENDPOINT": endpoint, "AWS_ALLOW_HTTP": "true", "AWS_ACCESS_KEY_ID": "test",
                        "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    started = time.monotonic()
    assert main(["videos", "--db", "s3://bucket/lancedb"]) == 1
    assert time.monotonic() - started < S3_ERROR_WITHIN_S
    line = _error_line(capsys)
    assert line.startswith("error: s3://bucket/lancedb: cannot open the database (") and len(line) < 300, line


def test_missing_sentence_transformers_model(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("REELMIND_TEXT_BACKEND", "sentence-transformers")
    monkeypatch.setenv("REELMIND_TEXT_MODEL", "/nonexistent")
    assert main(["search", "anything", "--db", str(tmp_path / "lancedb")]) == 1
    assert _error_line(capsys) == "error: text model /nonexistent: no such file or folder"


def test_event_timestamps_out_of_range(tmp_path, capsys):
    for timestamp in ("inf", "-1e20", "nan", "1e20", "9999-12-31T00:00:00"):
        assert main(["events", "add", "--user", "u", "--event", "search", "--text", "hi",
                     f"--timestamp={timestamp}", "--db", str(tmp_path / "lancedb")]) == 1, timestamp
        line = _error_line(capsys)
        assert line.startswith(f"error: timestamp {timestamp!r} is not between 1970-01-01 and "), line
