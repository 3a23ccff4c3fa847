"""The ingest flow on the project's own fixtures: transcripts, languages, on-screen text, bilingual search,
metadata-only updates."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jiwer
import pytest

from reelmind.records import FrameRecord
from reelmind.search import search
from reelmind.store import Store

from helpers import FIXTURES, settings_for

EXPECTED = json.loads((FIXTURES / "expected.json").read_text())


def _squash(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


@pytest.fixture(scope="module")
def stored(fixtures_db):
    db, report = fixtures_db
    assert report.failures == []
    store = Store.open(db)
    return {Path(row["path"]).name: row for row in store.videos()}


def test_all_fixtures_ingested_with_the_right_streams(stored):
    assert set(stored) == set(EXPECTED)
    for name, expected in EXPECTED.items():
        row = stored[name]
        assert (row["has_audio"], row["has_video"]) == (expected["has_audio"], expected["has_video"]), name
        assert row["duration_s"] == pytest.approx(expected["duration_s"], abs=0.3), name
        assert row["language"] == expected["language"], name
        assert (row["n_frames"] > 0) == expected["has_video"], name
        assert row["title"] == json.loads((FIXTURES / f"{name}.json").read_text())["title"]


@pytest.mark.parametrize("name", ["tomato_soup_recipe.mp4", "gardening_podcast.mp3"])
def test_english_transcripts(stored, name):
    from whisper.normalizers import EnglishTextNormalizer

    normalise = EnglishTextNormalizer()
    error = jiwer.wer(normalise(EXPECTED[name]["transcript"]), normalise(stored[name]["transcript"]))
    assert error <= 0.15, stored[name]["transcript"]


def test_mandarin_transcript_is_simplified_chinese(stored):
    text = stored["space_station_mandarin.mp4"]["transcript"]
    reference = EXPECTED["space_station_mandarin.mp4"]["transcript"]
    # espeak-ng's robotic Mandarin is hard even for people; the opening words must come through. Only the greeting
    # is required verbatim: the next word sits on a knife edge (太空 "space" or its near-homophone 台空, depending
    # on BLAS threads and what else runs: both seen in full-suite and demo runs of the same code and clip).
    assert "欢迎收看" in text and jiwer.cer(reference, text) <= 0.6, text


def test_no_sound_track_means_no_transcript(stored):
    row = stored["quarterly_report_silent.mp4"]
    assert row["transcript"] == "" and row["n_segments"] == 0


@pytest.mark.parametrize("name", [n for n, e in EXPECTED.items() if e["on_screen_text"]])
def test_on_screen_text_is_read(stored, name):
    read = _squash(stored[name]["ocr_text"])
    for line in EXPECTED[name]["on_screen_text"]:
        assert _squash(line) in read, (line, stored[name]["ocr_text"])
    assert stored[name]["caption_source"] == "labels+ocr"


def test_frames_follow_the_shots(fixtures_db, stored):
    db, _ = fixtures_db
    row = stored["tomato_soup_recipe.mp4"]
    frames = Store.open(db).children(FrameRecord, row["id"], row["rev"])
    cuts = EXPECTED["tomato_soup_recipe.mp4"]["scene_starts_s"]
    assert len({f["shot"] for f in frames}) == len(cuts)
    for cut in cuts:  # a frame shortly after every cut
        assert any(cut <= f["time_s"] <= cut + 1.0 for f in frames), (cut, [f["time_s"] for f in frames])


@pytest.mark.parametrize("query, expected", [
    ("how do I make tomato soup", "tomato_soup_recipe.mp4"),
    ("pruning apple trees", "gardening_podcast.mp3"),
    ("火箭发射", "space_station_mandarin.mp4"),
    ("参观国际空间站", "space_station_mandarin.mp4"),
    ("rocket launch into space", "space_station_mandarin.mp4"),   # English query, Chinese video
    ("番茄汤的做法", "tomato_soup_recipe.mp4"),                        # Chinese query, English video
])
def test_bilingual_search_finds_the_right_fixture_first(fixtures_db, query, expected):
    db, _ = fixtures_db
    hits = search(query, settings_for(db), k=4)
    assert Path(hits[0].path).name == expected, [(Path(h.path).name, round(h.score, 3)) for h in hits]


def test_text_shown_on_screen_is_searchable(fixtures_db):
    """The silent slides have no sound at all: only OCR can find them, and the moment is the slide's time."""
    db, _ = fixtures_db
    hits = search("expand to Asia next quarter", settings_for(db), k=3)
    top = hits[0]
    assert Path(top.path).name == "quarterly_report_silent.mp4"
    assert top.match == "screen" and "Asia" in top.text
    assert 4.9 <= top.start <= 7.5  # the third slide starts at 4.96 s


def test_changed_sidecar_updates_without_models(prefect_api, tmp_path):
    from flows.ingest import ingest

    media = tmp_path / "podcast.mp3"
    shutil.copy(FIXTURES / "gardening_podcast.mp3", media)
    sidecar = tmp_path / "podcast.mp3.json"
    sidecar.write_text(json.dumps({"title": "Garden hour", "tags": ["garden"]}))
    db = str(tmp_path / "lancedb")
    first = ingest([str(media)], db=db)
    assert [v.action for v in first.videos] == ["full"]
    before = Store.open(db).video(first.videos[0].video_id)

    sidecar.write_text(json.dumps({"title": "Roses and apple trees", "description": "Pruning in winter",
                                   "tags": ["garden", "roses"]}))
    second = ingest([str(media)], db=db)
    assert [v.action for v in second.videos] == ["metadata"] and second.videos[0].stage_seconds == {}
    after = Store.open(db).video(first.videos[0].video_id)
    assert after.title == "Roses and apple trees" and after.tags == ["garden", "roses"]
    assert after.rev == before.rev and after.transcript == before.transcript
    assert after.text_vector != before.text_vector and "Pruning in winter" in after.document
    assert [Path(h.path).name for h in search("roses and apple trees", settings_for(db), k=1)] == ["podcast.mp3"]
