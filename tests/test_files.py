"""Atomic writes: the target holds the old content or the new, never a part, and no temporary file is left."""

from __future__ import annotations

import pytest

from reelmind.files import atomic_path, write_text_atomic


def test_write_replaces_whole_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "deep" / "state.json"
    write_text_atomic(target, "old")
    write_text_atomic(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in target.parent.iterdir()] == ["state.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "model.bin"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]


def test_the_temporary_name_keeps_the_suffix(tmp_path):
    with atomic_path(tmp_path / "audio.wav") as tmp:
        assert tmp.suffix == ".wav" and tmp.parent == tmp_path
        tmp.write_bytes(b"RIFF")
    assert (tmp_path / "audio.wav").read_bytes() == b"RIFF"
