"""Re-embed a database's texts with the configured text model, without running speech-to-text or vision again.

The stored texts are what the text vectors embed: each video's `document`, each segment's `text`, each frame's
caption (or, without one, its on-screen text), as the ingest embeds them. The visual vectors stay as they are.

A new model may have another dimension, so each table gets a new schema. Per table, committed rows only (rows of an
uncommitted revision are dropped):
1. rows are re-embedded in batches into a staging table `<table>__reindex`, whose schema metadata names the target
   model (staging for another model is discarded); a staged row that equals its current row but for the new
   vector is reused, so an interrupted reindex resumes where it stopped;
2. the table is replaced from its staging rows in one commit (`Store.swap_table`), children first and `videos`
   last, then the staging tables are dropped. A table already holding the target model's vectors is done.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import lancedb
import pyarrow as pa

from reelmind import registry
from reelmind.config import Settings
from reelmind.pipeline import models_config
from reelmind.records import FrameRecord, Record, SegmentRecord, VectorSpec, VideoRecord
from reelmind.store import Store, table_schema, vector_specs

STAGING_SUFFIX = "__reindex"
# Texts per embedding call and per staging write: large enough that the model and LanceDB's commits are
# amortised (a LanceDB commit costs milliseconds), small enough that an interruption loses little work.
DEFAULT_BATCH_SIZE = 256
# Children before `videos`: a database is only seen as reindexed once its last table, `videos`, is replaced.
RECORDS_IN_ORDER: tuple[type[Record], ...] = (SegmentRecord, FrameRecord, VideoRecord)
TEXT_SPACE = "text"
# The backend kind that embeds texts (reelmind.registry), also the key of its model in a video's `models`.
TEXT_KIND = "text"

# (table name, rows done, rows to do in that table): called after each staged batch.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ReindexReport:
    model_id: str
    dim: int
    embedded: dict[str, int]  # rows re-embedded by this call, per table
    reused: dict[str, int]  # rows an interrupted earlier call had staged, per table
    seconds: float


def text_of(record: type[Record], row: dict) -> str:
    """What the row's text vector embeds, as the ingest embeds it (reelmind.pipeline.store_file)."""
    if record is VideoRecord:
        return row["document"] or ""
    if record is SegmentRecord:
        return row["text"] or ""
    return row["caption"] or row["ocr_text"] or ""


def text_column(record: type[Record]) -> str:
    return next(column for column, space in record.vector_spaces().items() if space == TEXT_SPACE)


def target_spec(settings: Settings) -> VectorSpec:
    """The configured text model and its dimension (the model is loaded: its dimension is known only then)."""
    model = registry.load(TEXT_KIND, settings.text_backend, settings.text_model)
    return VectorSpec(model.model_id, model.dim)


def needs_reindex(store: Store, settings: Settings) -> str | None:
    """Why the database's text vectors need re-embedding with the configured text model, in one line; None when
    every table holds that model's vectors."""
    target = target_spec(settings)
    stale = _stale(store, target)
    if not stale:
        return None
    held = "; ".join(f"{name}.{text_column(record)} holds {spec.model_id} (dim {spec.dim})"
                     for name, (record, spec) in stale.items())
    return f"{held}; the configured text model is {target.model_id} (dim {target.dim})"


def reindex(store: Store, settings: Settings, batch_size: int = DEFAULT_BATCH_SIZE,
            progress: Progress | None = None) -> ReindexReport:
    """Re-embed every table whose text vectors are of another model than the configured one (see the module)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, not {batch_size}")
    started = time.perf_counter()
    model = registry.load(TEXT_KIND, settings.text_backend, settings.text_model)
    target = VectorSpec(model.model_id, model.dim)
    embedded, reused = {}, {}
    videos = store.table(VideoRecord.table)
    # Read before the committed revisions: a video committed after it makes each swap refuse, rather than keep a
    # video whose children were dropped as uncommitted.
    guard = {VideoRecord.table: videos.version} if videos is not None else {}
    committed = _committed_revisions(store)
    for record in RECORDS_IN_ORDER:
        if record.table in _stale(store, target):
            done = _reindex_table(store, record, settings, model, committed, guard, batch_size, progress)
            embedded[record.table], reused[record.table] = done
    for record in RECORDS_IN_ORDER:
        _drop_staging(store, record)
    if embedded:
        store.maintain(list(embedded))  # a swapped table is a new table: no index until it is built again
    return ReindexReport(model.model_id, model.dim, embedded, reused, round(time.perf_counter() - started, 3))


def _stale(store: Store, target: VectorSpec) -> dict[str, tuple[type[Record], VectorSpec]]:
    """Tables whose text vectors are recorded as another model's, with that model."""
    stale = {}
    for record in RECORDS_IN_ORDER:
        table = store.table(record.table)
        spec = vector_specs(table).get(text_column(record)) if table is not None else None
        if spec is not None and spec != target:
            stale[record.table] = (record, spec)
    return stale


def _committed_revisions(store: Store) -> dict[str, str]:
    """Video id -> its committed revision: the only children worth re-embedding."""
    return {r["id"]: r["rev"] for r in store.videos(["id", "rev"])}


def _reindex_table(store: Store, record: type[Record], settings: Settings, model, committed: dict[str, str],
                   guard: dict[str, int], batch_size: int, progress: Progress | None) -> tuple[int, int]:
    """Stage the table's rows with new vectors, then swap it for them; returns (rows embedded, rows reused).
    `guard`: versions of the tables `committed` was read from."""
    table = store.table(record.table)
    # Read before the rows: a write after it makes the swap refuse rather than lose it. The guard's own version of
    # `videos` comes last so it wins: it is older, from before `committed` was read.
    versions = {record.table: table.version, **guard}
    schema = table_schema(record, _spaces(table, record, VectorSpec(model.model_id, model.dim)))
    staging = _open_staging(store, record, schema)
    rows = _current_rows(store, record, committed)
    staged = _staged_rows(staging, record)
    fresh = [row for row in rows if not _is_staged(record, row, staged.get(row[record.key]), settings, model)]
    done = len(rows) - len(fresh)
    if progress:
        progress(record.table, done, len(rows))
    for batch in _batches(fresh, batch_size):
        vectors = model.embed_passages([text_of(record, row) for row in batch])
        new_rows = [_with_vector(record, row, vector, settings, model) for row, vector in zip(batch, vectors)]
        staging.merge_insert(record.key).when_matched_update_all().when_not_matched_insert_all().execute(
            pa.Table.from_pylist(new_rows, schema=schema))
        done += len(batch)
        if progress:
            progress(record.table, done, len(rows))
    final = _staged_rows(staging, record)
    store.swap_table(record, pa.Table.from_pylist([final[row[record.key]] for row in rows], schema=schema), versions)
    return len(fresh), len(rows) - len(fresh)


def _spaces(table: lancedb.table.Table, record: type[Record], target: VectorSpec) -> dict[str, VectorSpec]:
    """The table's embedding spaces after the reindex: the target text model, the others as they are."""
    specs = vector_specs(table)
    spaces = {space: specs[column] for column, space in record.vector_spaces().items() if column in specs}
    return {**spaces, TEXT_SPACE: target}


def _open_staging(store: Store, record: type[Record], schema: pa.Schema) -> lancedb.table.Table:
    """The record's staging table for this schema, whose metadata names the target model; staging with another
    schema (another model) is discarded."""
    name = record.table + STAGING_SUFFIX
    if name in store.table_names():
        staging = store.db.open_table(name)
        if staging.schema.equals(schema, check_metadata=True):
            return staging
        store.db.drop_table(name)
    return store.db.create_table(name, schema=schema)


def _drop_staging(store: Store, record: type[Record]) -> None:
    name = record.table + STAGING_SUFFIX
    if name in store.table_names():
        store.db.drop_table(name)


def _current_rows(store: Store, record: type[Record], committed: dict[str, str]) -> list[dict]:
    """The table's rows of committed revisions (for `videos`, every row: each is its own commit)."""
    rows = store.rows(record)
    if record is VideoRecord:
        return rows
    return [row for row in rows if committed.get(row["video_id"]) == row["rev"]]


def _staged_rows(staging: lancedb.table.Table, record: type[Record]) -> dict[str, dict]:
    """The staged rows by key (some may be of rows gone since: they are not carried over)."""
    return {row[record.key]: row for row in staging.search().limit(None).to_list()}


def _is_staged(record: type[Record], row: dict, staged: dict | None, settings: Settings, model) -> bool:
    """Whether `staged` is `row` re-embedded: equal to it in everything but the new vector (a row changed since it
    was staged, e.g. a metadata edit, is embedded again)."""
    if staged is None:
        return False
    column = text_column(record)
    return _with_vector(record, row, staged[column], settings, model) == staged


def _with_vector(record: type[Record], row: dict, vector, settings: Settings, model) -> dict:
    """The row with its text vector from `model`; a video's `models` says so, so the next ingest sees the video
    as made with the configured models and does not run it again."""
    new = {**row, text_column(record): [float(x) for x in vector]}
    if record is VideoRecord:
        models = json.loads(row["models"]) if row["models"] else {}
        models[TEXT_KIND] = model.model_id
        if isinstance(models.get("config"), dict):
            models["config"] = {**models["config"], TEXT_KIND: models_config(settings)[TEXT_KIND]}
        new["models"] = json.dumps(models, ensure_ascii=False)
    return new


def _batches(rows: Sequence[dict], size: int) -> Iterator[Sequence[dict]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]
