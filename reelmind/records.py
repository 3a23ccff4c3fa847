"""The rows ReelMind stores, declared once: every table's Arrow schema, key and views derive from these records.

Each record is a frozen dataclass whose fields carry their Arrow type (`column`), or say which embedding space
fills them (`vector`: the dimension comes from the model, recorded in the table's metadata by `reelmind.store`).
A field marked `internal` is bookkeeping (revisions, hashes, vectors) and stays out of the public views that the
CLI's `--json` and tables show. JSON-valued fields (`models`, `stage_seconds`) are dicts in Python and strings in
LanceDB.

To add a column: add a field here, with a default of None (rows written before it have none), and raise
SCHEMA_VERSION; `Store` adds the column to older tables in place when it opens them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

# 1: the layout written up to commit de74ac6, with no version stamped; 2: the version is stamped on each table.
SCHEMA_VERSION = 2
# Where a table's schema version lives: the metadata of its key column. LanceDB 0.40 can rewrite a column's
# metadata in place (update_field_metadata) but not the schema's, and an upgrade must stamp existing tables.
VERSION_METADATA_KEY = "reelmind.schema_version"
# The event types a user can send; what each one means to the recommender is in reelmind.recsys.data.
EVENT_TYPES = ("view", "like", "share", "skip", "comment", "search")
# Events that carry the user's own words, and those that need no video.
TEXT_EVENTS = ("comment", "search")
VIDEOLESS_EVENTS = ("search",)

_ARROW, _SPACE, _INTERNAL, _JSON = "arrow", "vector_space", "internal", "json"


def column(arrow_type: pa.DataType, *, internal: bool = False, default: Any = dataclasses.MISSING) -> Any:
    return field(default=default, metadata={_ARROW: arrow_type, _INTERNAL: internal})


def json_column(*, default_factory=dict) -> Any:
    """A dict stored as a JSON string."""
    return field(default_factory=default_factory, metadata={_ARROW: pa.string(), _JSON: True, _INTERNAL: False})


def vector(space: str) -> Any:
    """An embedding of the `space` ("text" or "visual") model; None where there is nothing to embed."""
    return field(default=None, metadata={_SPACE: space, _INTERNAL: True})


_STR, _F64, _F32, _I32, _I64, _BOOL = pa.string(), pa.float64(), pa.float32(), pa.int32(), pa.int64(), pa.bool_()
_STRS = pa.list_(pa.string())
_BYTES = pa.large_binary()  # large: a fitted model's arrays run to hundreds of MB (int32 offsets stop at 2 GB)
_UTC = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class VectorSpec:
    """Which model filled a vector column, and its dimension."""
    model_id: str
    dim: int


class Record:
    """Conversions every record shares: to and from LanceDB rows, and the public view."""

    table: ClassVar[str]
    key: ClassVar[str]

    @classmethod
    def fields(cls) -> tuple[dataclasses.Field, ...]:
        return dataclasses.fields(cls)

    @classmethod
    def column_names(cls) -> list[str]:
        return [f.name for f in cls.fields()]

    @classmethod
    def public_columns(cls) -> list[str]:
        return [f.name for f in cls.fields() if not f.metadata.get(_INTERNAL)]

    @classmethod
    def vector_spaces(cls) -> dict[str, str]:
        """Vector column -> embedding space."""
        return {f.name: f.metadata[_SPACE] for f in cls.fields() if _SPACE in f.metadata}

    @classmethod
    def arrow_schema(cls, spaces: Mapping[str, VectorSpec] | None = None) -> pa.Schema:
        """The table's schema; `spaces` gives each embedding space's model (required when the record has vectors).
        The key column carries the schema version."""
        fields = []
        for f in cls.fields():
            if _SPACE in f.metadata:
                if not spaces or f.metadata[_SPACE] not in spaces:
                    raise ValueError(f"{cls.table}.{f.name}: no model given for the {f.metadata[_SPACE]} space")
                arrow = pa.list_(pa.float32(), spaces[f.metadata[_SPACE]].dim)
            else:
                arrow = f.metadata[_ARROW]
            meta = {VERSION_METADATA_KEY: str(SCHEMA_VERSION)} if f.name == cls.key else None
            fields.append(pa.field(f.name, arrow, metadata=meta))
        return pa.schema(fields)

    def to_row(self) -> dict[str, Any]:
        row = {}
        for f in self.fields():
            value = getattr(self, f.name)
            if f.metadata.get(_JSON):
                value = json.dumps(value, ensure_ascii=False)
            elif _SPACE in f.metadata and value is not None:
                value = np.asarray(value, np.float32).tolist()
            row[f.name] = value
        return row

    @classmethod
    def to_arrow(cls, records: list[Record], schema: pa.Schema) -> pa.Table:
        """Many records as one Arrow table of `schema` (the table's): what `to_row` gives, column by column, with
        each vector column stacked as one float32 array (2,000 segments: 0.03 s, against 0.12 s through `to_row`)."""
        columns = []
        for f in schema:
            spec = next(x for x in cls.fields() if x.name == f.name)
            values = [getattr(r, f.name) for r in records]
            if _SPACE in spec.metadata and values and all(v is not None for v in values):
                flat = np.asarray(values, np.float32).reshape(-1)
                columns.append(pa.FixedSizeListArray.from_arrays(pa.array(flat), f.type.list_size))
                continue
            if spec.metadata.get(_JSON):
                values = [json.dumps(v, ensure_ascii=False) for v in values]
            elif _SPACE in spec.metadata:
                values = [None if v is None else np.asarray(v, np.float32) for v in values]
            columns.append(pa.array(values, f.type))
        return pa.Table.from_arrays(columns, schema=schema)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Record:
        """A record from a stored row (extra keys such as a search's `_distance` are ignored; a column the row
        lacks takes its default)."""
        values = {}
        for f in cls.fields():
            if f.name not in row:
                continue
            value = row[f.name]
            if f.metadata.get(_JSON):
                value = json.loads(value) if value else {}
            elif isinstance(value, np.ndarray):
                value = value.tolist()
            values[f.name] = value
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        """The public view: no internal columns, times as ISO 8601."""
        return self.public_view(self.to_row())

    @classmethod
    def public_view(cls, row: Mapping[str, Any]) -> dict[str, Any]:
        """The public view of a stored row (which may hold only the public columns): JSON-ready."""
        view = {}
        for f in cls.fields():
            if f.metadata.get(_INTERNAL):
                continue
            value = row.get(f.name)
            if f.metadata.get(_JSON):
                value = json.loads(value) if value else {}
            view[f.name] = _jsonable(value)
        return view


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@dataclass(frozen=True)
class VideoRecord(Record):
    """One media file: what it is, what was said and shown in it, and its embeddings. `rev` is the revision its
    segments and frames carry; this row is written last, so it is the commit (see reelmind.store)."""
    table: ClassVar[str] = "videos"
    key: ClassVar[str] = "id"

    id: str = column(_STR)  # first 16 hex digits of the content's SHA-256
    rev: str = column(_STR, internal=True)
    path: str = column(_STR)
    content_hash: str = column(_STR, internal=True)
    sidecar_hash: str = column(_STR, internal=True)
    size_bytes: int = column(_I64)
    title: str = column(_STR)
    description: str = column(_STR)
    tags: list[str] = column(_STRS)
    uploader: str = column(_STR)
    published_at: str = column(_STR)
    duration_s: float = column(_F64)
    container: str = column(_STR)
    has_audio: bool = column(_BOOL)
    has_video: bool = column(_BOOL)
    width: int | None = column(_I32)
    height: int | None = column(_I32)
    fps: float | None = column(_F32)
    audio_codec: str | None = column(_STR)
    video_codec: str | None = column(_STR)
    language: str | None = column(_STR)
    transcript: str = column(_STR)
    captions: list[str] = column(_STRS)
    caption_source: str = column(_STR)
    ocr_text: str = column(_STR)  # distinct on-screen lines joined with " / "
    document: str = column(_STR, internal=True)  # what the text vector embeds: metadata + transcript + screen
    n_frames: int = column(_I32)
    n_segments: int = column(_I32)
    thumbnail_path: str = column(_STR)
    text_vector: list[float] | None = vector("text")
    visual_vector: list[float] | None = vector("visual")  # mean of the frames' vectors; None without picture
    models: dict = json_column()  # backends and model ids that produced this row
    stage_seconds: dict = json_column()  # seconds spent per ingest stage
    ingested_at: datetime | None = column(_UTC, default=None)


@dataclass(frozen=True)
class SegmentRecord(Record):
    """One transcript segment: a moment that search can land on."""
    table: ClassVar[str] = "segments"
    key: ClassVar[str] = "id"

    id: str = column(_STR)  # "<video id>:<idx>"
    video_id: str = column(_STR)
    rev: str = column(_STR, internal=True)
    idx: int = column(_I32)
    start: float = column(_F64)
    end: float = column(_F64)
    text: str = column(_STR)
    vector: list[float] | None = vector("text")


@dataclass(frozen=True)
class FrameRecord(Record):
    """One sampled frame: its picture's embedding, labels or caption, on-screen text and thumbnail."""
    table: ClassVar[str] = "frames"
    key: ClassVar[str] = "id"

    id: str = column(_STR)  # "<video id>:<milliseconds>"
    video_id: str = column(_STR)
    rev: str = column(_STR, internal=True)
    time_s: float = column(_F64)
    shot: int = column(_I32)
    thumbnail_path: str = column(_STR)
    labels: list[str] = column(_STRS)
    caption: str = column(_STR)
    caption_source: str = column(_STR)
    ocr_text: str = column(_STR)
    visual_vector: list[float] | None = vector("visual")
    text_vector: list[float] | None = vector("text")  # of the caption, or the on-screen text


@dataclass(frozen=True)
class FailureRecord(Record):
    """A file that could not be ingested, and why (the latest reason per path)."""
    table: ClassVar[str] = "failures"
    key: ClassVar[str] = "path"

    path: str = column(_STR)
    reason: str = column(_STR)
    stage: str = column(_STR)
    failed_at: datetime = column(_UTC)


@dataclass(frozen=True)
class EventRecord(Record):
    """One thing a user did. `event_id` hashes the content, so importing the same event twice adds it once."""
    table: ClassVar[str] = "events"
    key: ClassVar[str] = "event_id"

    event_id: str = column(_STR)
    user_id: str = column(_STR)
    video_id: str = column(_STR)  # "" for events about no video (a search)
    event: str = column(_STR)  # one of EVENT_TYPES
    watch_fraction: float | None = column(_F32)
    timestamp: datetime = column(_UTC)
    text: str | None = column(_STR)  # a comment's or a search's words


@dataclass(frozen=True)
class RecommendationRecord(Record):
    """One stored pick of the last recommend run."""
    table: ClassVar[str] = "recommendations"
    key: ClassVar[str] = "user_id"

    user_id: str = column(_STR)
    rank: int = column(_I32)
    video_id: str = column(_STR)
    score: float = column(_F32)
    reason: str = column(_STR)  # for people: "because you watched ..."
    source: str = column(_STR)  # the model or hybrid component the pick mostly came from
    model_version: str = column(_STR)
    generated_at: datetime = column(_UTC)


@dataclass(frozen=True)
class ModelRecord(Record):
    """A fitted recommender, kept with the database it was fitted on, as data that cannot run code when read
    (reelmind.recsys.saving): arrays, a JSON document and texts. Each recommend run replaces it in one commit."""
    table: ClassVar[str] = "models"
    key: ClassVar[str] = "name"

    name: str = column(_STR)  # what it serves: "recommender"
    version: str = column(_STR)  # the stored picks' model_version
    database: str = column(_STR)  # the database it was fitted on: it is served to no other
    active_users: list[str] = column(_STRS, internal=True)  # who the run stores picks for
    fitted_at: datetime = column(_UTC)
    document: str = column(_STR, internal=True)  # JSON: class, parameters, ids, scalars
    texts: str = column(_STR, internal=True)  # JSON: long texts by number (the LightGBM ranker)
    arrays: bytes = column(_BYTES, internal=True)  # npz, read with allow_pickle=False


RECORDS: dict[str, type[Record]] = {r.table: r for r in (VideoRecord, SegmentRecord, FrameRecord, FailureRecord,
                                                         EventRecord, RecommendationRecord, ModelRecord)}
