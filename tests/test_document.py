"""Sidecar metadata: bad sidecars never stop a video, and nothing in one can make the ingest slow."""

from __future__ import annotations

import json

import pytest

from reelmind.document import (
    MAX_DESCRIPTION_CHARS,
    MAX_SIDECAR_BYTES,
    MAX_TAGS,
    MAX_TITLE_CHARS,
    load_metadata,
    sidecar_path,
)


@pytest.fixture()
def media(tmp_path):
    path = tmp_path / "Garden_hour-ep1.mp3"
    path.write_bytes(b"\0")
    return path


def _sidecar(media, content) -> None:
    sidecar_path(media).write_text(content if isinstance(content, str) else json.dumps(content))


@pytest.mark.parametrize("content, why", [
    ("{not json", "not valid JSON"),
    ([1, 2], "not a JSON object"),
    ({"title": {"nested": 1}}, "'title' must be a string, not dict"),
    ({"tags": "ok", "description": ["a"]}, "'description' must be a string, not list"),
    ({"tags": [{"x": 1}]}, "'tags' must be a list of strings"),
])
def test_a_bad_sidecar_leaves_the_file_name_and_says_why(media, content, why):
    _sidecar(media, content)
    meta = load_metadata(media)
    assert meta.title == "Garden hour ep1" and meta.tags == ()
    assert why in meta.problem and "\n" not in meta.problem and meta.sidecar_hash


def test_long_values_are_cut(media):
    _sidecar(media, {"title": "T" * 10_000, "description": "d" * 300_000, "tags": ["t" * 500] * 1000,
                     "uploader": "u\nx"})
    meta = load_metadata(media)
    assert len(meta.title) == MAX_TITLE_CHARS and len(meta.description) == MAX_DESCRIPTION_CHARS
    assert len(meta.tags) == MAX_TAGS and meta.uploader == "u x" and not meta.problem


def test_a_huge_sidecar_is_not_read(media):
    sidecar_path(media).write_bytes(b" " * (MAX_SIDECAR_BYTES + 1))
    meta = load_metadata(media)
    assert "over the" in meta.problem and meta.title == "Garden hour ep1"


def test_a_good_sidecar(media):
    _sidecar(media, {"title": "Garden hour", "tags": "roses, apple trees", "published_at": "2026-01-02"})
    meta = load_metadata(media)
    assert (meta.title, meta.tags, meta.published_at, meta.problem) == (
        "Garden hour", ("roses", "apple trees"), "2026-01-02", "")
