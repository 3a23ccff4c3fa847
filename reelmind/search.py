"""Semantic search over videos and their moments, in Chinese or English.

A query is embedded once and compared with three things: each video's merged document, each transcript segment
(what was said, and when) and each sampled frame's words (labels or caption plus on-screen text, and when). A
video scores its best match; the moment shown is its best-matching segment or frame. With a joint image-text
vision model (CLIP) frames are also matched on their pictures.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from reelmind import registry
from reelmind.config import Settings
from reelmind.store import Store, sql_in, sql_str

# Longest query accepted: a long paragraph. The embedder reads 512 tokens at most anyway, and tokenising 100 KB
# took 25 s; a search box never sends that much, a client that does gets an error.
MAX_QUERY_CHARS = 2_000
# Candidates fetched per source before fusing: enough that the top k videos have their best moment.
CANDIDATES_PER_RESULT = 8
# A moment must beat the whole document by this much to be what the video is found by; below it, the moment shown
# is still the best one, but the score is the document's (a title match should not lose to a stray phrase).
MOMENT_MARGIN = 0.0
# With filters, candidates are fetched by similarity and then filtered, so more are fetched: a filter that keeps
# one video in FILTERED_OVERFETCH * CANDIDATES_PER_RESULT still fills the results.
FILTERED_OVERFETCH = 8


@dataclass(frozen=True)
class SearchFilters:
    """Which videos a search may return; None (or False for the flags) leaves that property open.
    `published_*` compare with the sidecar's ISO 8601 `published_at` as text (dates sort as text)."""
    language: str | None = None
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    uploader: str | None = None
    published_after: str | None = None
    published_before: str | None = None
    has_speech: bool = False
    has_screen_text: bool = False

    def where(self) -> str | None:
        """The filters as a SQL condition on the `videos` table (values quoted by `sql_str`), or None."""
        terms = []
        if self.language:
            terms.append(f"language = {sql_str(self.language)}")
        if self.min_duration_s is not None:
            terms.append(f"duration_s >= {float(self.min_duration_s)!r}")
        if self.max_duration_s is not None:
            terms.append(f"duration_s <= {float(self.max_duration_s)!r}")
        if self.uploader:
            terms.append(f"uploader = {sql_str(self.uploader)}")
        if self.published_after:
            terms.append(f"published_at >= {sql_str(self.published_after)}")
        if self.published_before:
            terms.append(f"published_at <= {sql_str(self.published_before)}")
        if self.has_speech:
            terms.append("n_segments > 0")
        if self.has_screen_text:
            terms.append("ocr_text != ''")
        return " AND ".join(terms) or None


@dataclass(frozen=True)
class SearchHit:
    video_id: str
    path: str
    title: str
    score: float
    start: float | None
    end: float | None
    text: str
    match: str  # "speech", "screen" (frame text or picture) or "document"
    thumbnail_path: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def search(query: str, settings: Settings, k: int = 5, filters: SearchFilters | None = None) -> list[SearchHit]:
    """The `k` videos that best match `query` (among those `filters` allow), each with its best moment."""
    query = query.strip()
    if not query:
        raise ValueError("empty query")
    if len(query) > MAX_QUERY_CHARS:
        raise ValueError(f"query is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}")
    store = Store.open(settings.db)
    text_model = registry.load("text", settings.text_backend, settings.text_model)
    store.check_query_model("videos", "text_vector", text_model.model_id, text_model.dim)
    q = text_model.embed_queries([query])[0]
    where = filters.where() if filters else None
    n = max(k * CANDIDATES_PER_RESULT, 20) * (FILTERED_OVERFETCH if where else 1)
    documents = store.nearest("videos", "text_vector", q, n)
    moments = [("speech", r) for r in store.nearest("segments", "vector", q, n)]
    moments += [("screen", r) for r in store.nearest("frames", "text_vector", q, n)]
    if registry.backend_class("vision", settings.vision_backend).embeds_text:
        vision = registry.load("vision", settings.vision_backend, settings.vision_model)
        pictures = store.nearest("frames", "visual_vector", vision.embed_texts([query])[0], n)
        moments += [("screen", r) for r in pictures]

    committed = store.video_revisions([r["id"] for r in documents] + [r["video_id"] for _, r in moments])
    if where:
        allowed = {r["id"] for r in store.videos(["id"], where=f"({where}) AND id IN {sql_in(committed)}")} \
            if committed else set()
        committed = {video_id: row for video_id, row in committed.items() if video_id in allowed}
    best: dict[str, SearchHit] = {}
    for row in documents:
        if row["id"] in committed and committed[row["id"]]["rev"] == row["rev"]:
            best[row["id"]] = SearchHit(row["id"], row["path"], row["title"], row["score"], None, None, "",
                                        "document", row.get("thumbnail_path") or "")
    moment_of: dict[str, tuple[float, str, dict]] = {}
    for kind, row in moments:
        video = committed.get(row["video_id"])
        if video is None or video["rev"] != row["rev"]:
            continue  # an uncommitted or superseded ingest
        if row["video_id"] not in moment_of or row["score"] > moment_of[row["video_id"]][0]:
            moment_of[row["video_id"]] = (row["score"], kind, row)
    for video_id, (score, kind, row) in moment_of.items():
        video = committed[video_id]
        if kind == "speech":
            start, end, text, thumb = row["start"], row["end"], row["text"], video.get("thumbnail_path") or ""
        else:
            start = end = row["time_s"]
            text = row["ocr_text"] or row["caption"]
            thumb = row["thumbnail_path"]
        document = best.get(video_id)
        doc_score = document.score if document else -1.0
        fused = max(score, doc_score)
        match = kind if score + MOMENT_MARGIN >= doc_score else "document"
        best[video_id] = SearchHit(video_id, video["path"], video["title"], fused, start, end, text, match, thumb)
    return sorted(best.values(), key=lambda h: -h.score)[:k]
