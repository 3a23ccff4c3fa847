"""The product side of recommendations: LanceDB in (videos, events), LanceDB out (`recommendations`).

- `load_catalog`: every committed video as an `Items` row: title, merged document, text and visual vectors;
- `load_feedback`: the event log as implicit-feedback `Interactions` (weights from event type and watch fraction,
  times for recency) plus each user's own words (comments, searches) for the interest profile;
- `fit`: a recommender from `reelmind.recsys.registry`, saved in the database's `models` table (arrays, JSON and
  LightGBM text: nothing that runs code when read) so on-demand requests reuse it; `load_fitted` serves it to that
  database only;
- `write_recommendations`: the top k of every active user, replacing the previous run's rows in one commit (a
  table overwrite is a single new LanceDB version: readers see the old rows or the new ones, never a mix). The
  users are ranked in slices (`rank_slice`, or `rank_users` from the saved model: one worker's task when the flow
  runs on a Dask cluster), each staged in a table of its own, then `publish_recommendations` swaps them in;
- `recommend_for`: a user's stored picks when the last run stored at least as many as asked for and the user did
  nothing since, else picks computed on demand from the saved model with their newest events folded in.
"""

from __future__ import annotations

import hashlib
import logging
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from reelmind.config import Settings
from reelmind.errors import ReelMindError
from reelmind.records import TEXT_EVENTS, EventRecord, ModelRecord, RecommendationRecord
from reelmind.recsys import ranking
from reelmind.recsys.base import Recommender
from reelmind.recsys.data import Interactions, Items, event_weight
from reelmind.recsys.saving import OutdatedModelError, SavedModel
from reelmind.store import Store, sql_str, table_schema

LOG = logging.getLogger(__name__)
# The `models` row that on-demand requests are served from.
MODEL_NAME = "recommender"
# Before a new model is saved, the `models` table's older versions are deleted (each holds a whole model), except the
# current one, which a reader may have opened just before the save, and any saved in the last minute.
KEEP_OLD_VERSIONS = timedelta(minutes=1)
# A user is active when they did anything in this many days before the newest event in the log.
ACTIVE_DAYS = 30
DAY_S = 86_400
# Active users ranked per slice of a run: a slice is one task of the recommend flow, a Dask worker's unit of work
# on a cluster. 20,000 users rank in ~40 s at 20k videos (2.1 ms a user at d79246a) and stage 400k picks (~30 MB):
# long enough to amortise loading the model on a worker, short enough that 100k users make 5 tasks to share out.
SLICE_USERS = 20_000
# Staged slices live in tables named STAGING_PREFIX + run version + slice number until the run publishes them.
STAGING_PREFIX = "recommendations-staging-"


class ModelError(ReelMindError):
    """A saved model that cannot be served here (fitted for another database, or unreadable)."""


@dataclass(frozen=True)
class FittedModel:
    """What the recommend flow saves: the fitted model and what it was fitted on."""
    model: object
    version: str
    active_users: tuple[str, ...]
    fitted_at: datetime


def load_catalog(store: Store) -> Items:
    rows = sorted(store.videos(["id", "title", "document", "text_vector", "visual_vector", "ingested_at"]),
                  key=lambda r: r["id"])
    if not rows:
        raise ValueError(f"no videos in {store.uri}: ingest some first")
    visual_dim = next((len(r["visual_vector"]) for r in rows if r["visual_vector"] is not None), 0)
    visual = None
    if visual_dim:
        # Audio-only items have no picture: a zero visual vector is "no opinion" to a cosine.
        visual = np.array([r["visual_vector"] if r["visual_vector"] is not None else np.zeros(visual_dim)
                           for r in rows], dtype=np.float32)
    return Items(ids=[r["id"] for r in rows], titles=[r["title"] for r in rows],
                 texts=[r["document"] or r["title"] for r in rows],
                 text_vectors=np.array([r["text_vector"] for r in rows], dtype=np.float32), visual_vectors=visual,
                 created_at=np.array([r["ingested_at"].timestamp() for r in rows]))


# Event columns the recommender reads (not the event ids).
FEEDBACK_COLUMNS = ("user_id", "video_id", "event", "watch_fraction", "timestamp", "text")


def load_feedback(store: Store, items: Items) -> tuple[Interactions, dict[str, list[str]], tuple[str, ...]]:
    """(interactions, each user's own words, active users). Events on videos no longer stored are left out. Read
    as Arrow columns and turned into arrays without a Python object per event: at 5M events, one dict per event
    took minutes and gigabytes."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = store.table(EventRecord.table)
    events = table.search().select(list(FEEDBACK_COLUMNS)).limit(None).to_arrow() if table is not None else None
    if events is None or events.num_rows == 0:
        return Interactions.from_records([], item_ids=items.ids, user_ids=[]), {}, ()
    events = events.take(pc.sort_indices(events, [("timestamp", "ascending")]))  # stable: ties keep stored order
    times = events["timestamp"].combine_chunks().cast(pa.int64()).to_numpy() / 1e6  # microseconds
    users = events["user_id"].combine_chunks().dictionary_encode()  # codes in order of first appearance
    rows, user_ids = users.indices.to_numpy(), users.dictionary.to_pylist()
    kinds = events["event"].combine_chunks().dictionary_encode()
    fractions = events["watch_fraction"].combine_chunks().to_numpy(zero_copy_only=False)  # NaN where none
    weights = np.zeros(len(rows))
    for code, kind in enumerate(kinds.dictionary.to_pylist()):
        mine = kinds.indices.to_numpy() == code
        if kind.strip().lower() != "view":
            weights[mine] = event_weight(kind)
        else:  # a view's weight follows its watch fraction: one call per distinct fraction
            distinct, at = np.unique(fractions[mine], return_inverse=True)
            weights[mine] = np.array([event_weight(kind, None if np.isnan(f) else float(f)) for f in distinct])[at]
    cols = pc.index_in(events["video_id"], value_set=pa.array(list(items.ids), pa.string()))
    cols = cols.combine_chunks().to_numpy(zero_copy_only=False)  # NaN: no video, or one no longer stored
    on_item = ~np.isnan(cols)
    interactions = Interactions.from_arrays(user_ids, items.ids, rows[on_item], cols[on_item].astype(np.int64),
                                            weights[on_item], times[on_item])
    said = pc.and_(pc.is_in(events["event"], value_set=pa.array(sorted(TEXT_EVENTS))),
                   pc.invert(pc.is_null(events["text"])))
    texts: dict[str, list[str]] = {}
    for row in events.filter(said).select(["user_id", "text"]).to_pylist():
        if row["text"]:
            texts.setdefault(row["user_id"], []).append(row["text"])
    recent = rows[np.searchsorted(times, times[-1] - ACTIVE_DAYS * DAY_S):]  # times are sorted
    _, first = np.unique(recent, return_index=True)
    active = tuple(user_ids[r] for r in recent[np.sort(first)])
    return interactions, texts, active


def database_of(store: Store) -> str:
    """What a saved model records as its database: the URI, a local folder as an absolute path (so a relative and
    an absolute path to one database agree)."""
    return store.uri.rstrip("/") if "://" in store.uri else str(Path(store.uri).resolve())


def fit(settings: Settings, model: str = "hybrid") -> FittedModel:
    store = Store.open(settings.db)
    if store.table(EventRecord.table) is not None:
        _index(store, EventRecord.table)  # its user_id index, for on-demand requests (and compaction)
    items = load_catalog(store)
    interactions, texts, active = load_feedback(store, items)
    if interactions.n_users == 0:
        model = "popularity"  # no events yet: nothing to personalise, and nobody to write picks for
    recommender = ranking.fit(model, interactions, items, texts)
    digest = hashlib.sha256(repr((model, items.ids, interactions.matrix.nnz, interactions.now)).encode())
    fitted = FittedModel(recommender, f"{model}-{digest.hexdigest()[:10]}", active, datetime.now(UTC))
    save_fitted(store, fitted)
    return fitted


def save_fitted(store: Store, fitted: FittedModel) -> None:
    """Replace the database's saved model in one commit: an on-demand reader sees the old model or the new one."""
    saved = fitted.model.save()
    store.drop_old_versions(ModelRecord, KEEP_OLD_VERSIONS)
    store.replace(ModelRecord, [ModelRecord(MODEL_NAME, fitted.version, database_of(store), list(fitted.active_users),
                                            fitted.fitted_at, saved.document_json(), saved.texts_json(),
                                            saved.npz())])


_loaded: dict[str, tuple[int, FittedModel]] = {}  # database -> (its `models` table version, the model read)


def load_fitted(settings: Settings) -> FittedModel | None:
    """The database's saved model (None when it has none yet, or only one saved by an older ReelMind in a format
    this one does not read), read once per process and again only when a newer one was saved. A model saved for
    another database is refused."""
    store = Store.open(settings.db)
    table = store.table(ModelRecord.table)
    if table is None:
        return None
    here, version = database_of(store), table.version
    cached = _loaded.get(here)
    if cached is not None and cached[0] == version:
        return cached[1]
    rows = table.search().where(f"name = {sql_str(MODEL_NAME)}").limit(None).to_list()
    if not rows:
        return None
    record = ModelRecord.from_row(rows[0])
    if record.database != here:
        raise ModelError(f"{here}: the saved model {record.version} was fitted for the database {record.database}, "
                         f"not this one; run the recommend flow on this database to fit its own")
    try:
        model = Recommender.load(SavedModel.from_parts(record.document, record.arrays, record.texts))
    except OutdatedModelError as exc:  # an upgrade, not damage: served as no model yet (stored picks still are)
        LOG.warning("%s: the saved model %s is outdated (%s); the next recommend run fits a new one", here,
                    record.version, exc)
        return None
    except (ValueError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{here}: the saved model {record.version} cannot be read ({' '.join(str(exc).split())}); "
                         f"run the recommend flow to fit it again") from None
    fitted = FittedModel(model, record.version, tuple(record.active_users), record.fitted_at)
    _loaded[here] = (version, fitted)
    return fitted


def forget_loaded(store: Store) -> None:
    """Drop the database's model read into this process: it may hold a user who has been forgotten."""
    _loaded.pop(database_of(store), None)


def user_slices(n_users: int) -> list[tuple[int, int]]:
    """[start, stop) bounds of the active users ranked per slice (SLICE_USERS each), in order."""
    return [(start, min(start + SLICE_USERS, n_users)) for start in range(0, n_users, SLICE_USERS)]


def staging_table(version: str, index: int) -> str:
    """The table a run's slice `index` stages its picks in (one writer per table: no commit ever conflicts, and a
    retried slice overwrites its own)."""
    return f"{STAGING_PREFIX}{version}-{index:05d}"


def staged_run(table: str) -> str | None:
    """The run version whose slice `table` is (`staging_table`'s inverse); None for any other table."""
    return table[len(STAGING_PREFIX):].rsplit("-", 1)[0] if table.startswith(STAGING_PREFIX) else None


def rank_slice(store: Store, fitted: FittedModel, index: int, start: int, stop: int, k: int) -> int | None:
    """Rank active users [start, stop) and stage their top k in the slice's table; returns the picks staged, None
    when the run was overtaken (a newer run saved its model, and its publish dropped this run's slices)."""
    recs = ranking.rank(fitted.model, fitted.active_users[start:stop], k)
    picks = [(str(user), rank, r) for user, mine in recs.items() for rank, r in enumerate(mine, 1)]
    data = pa.table({"user_id": [p[0] for p in picks], "rank": [p[1] for p in picks],
                     "video_id": [str(p[2].item_id) for p in picks], "score": [float(p[2].score) for p in picks],
                     "reason": [p[2].reason for p in picks], "source": [p[2].source for p in picks],
                     "model_version": [fitted.version] * len(picks),
                     "generated_at": pa.array([datetime.now(UTC)] * len(picks), pa.timestamp("us", "UTC"))},
                    schema=table_schema(RecommendationRecord))
    try:
        store.db.create_table(staging_table(fitted.version, index), data, mode="overwrite")
    except (OSError, RuntimeError, ValueError):
        if saved_version(store) != fitted.version:
            return None
        raise
    return len(picks)


def rank_users(settings: Settings, version: str, index: int, start: int, stop: int, k: int) -> int | None:
    """`rank_slice` with the saved model, for one slice of a run: what a worker (a Dask process, a thread) runs.
    None, staging nothing, when the run was overtaken (the saved model is no longer `version`: the newer run
    writes the picks)."""
    fitted = load_fitted(settings)
    if fitted is None or fitted.version != version:
        return None
    return rank_slice(Store.open(settings.db), fitted, index, start, stop, k)


def publish_recommendations(store: Store, version: str, slices: int) -> int | None:
    """Replace the stored picks with the `slices` staged by run `version`, in one commit, and drop the staged
    tables; returns the rows written, None when the run was overtaken (its model is no longer the saved one: a
    newer run's picks are its own to write). A failed commit keeps the run's staged slices, so a retry publishes
    them."""
    try:
        data = _staged(store, version, slices)
    except (OSError, RuntimeError, ValueError) as exc:  # a slice not ranked, or dropped while read
        if saved_version(store) == version:
            raise ModelError(f"{store.uri}: {' '.join(str(exc).split())[:200]}; run the recommend flow again") \
                from None
        data = None  # overtaken: a newer run saved its model, and its publish dropped this run's slices
    written = data is not None and store.replace(RecommendationRecord, data,
                                                 precondition=lambda: saved_version(store) == version)
    _drop_staging(store, published=version if written else None)
    if not written:
        return None
    _index(store, RecommendationRecord.table)  # the overwrite has no index: a user's picks by user_id
    return data.num_rows


def _staged(store: Store, version: str, slices: int) -> pa.Table:
    """The picks run `version` staged, slice after slice."""
    names = set(store.table_names())
    missing = [index for index in range(slices) if staging_table(version, index) not in names]
    if missing:
        raise ValueError(f"slices {missing[:5]} of run {version} were not ranked")
    if not slices:
        return table_schema(RecommendationRecord).empty_table()
    return pa.concat_tables([store.db.open_table(staging_table(version, index)).to_arrow()
                             for index in range(slices)])


def _drop_staging(store: Store, published: str | None) -> None:
    """Drop the staged slices of the run just `published` and of every run whose model is no longer the saved one
    (only the saved model's run can still publish). Under the commit lock: a model saved between reading which is
    current and dropping would lose its run's slices."""
    def stale(names: list[str]) -> list[str]:
        current = saved_version(store)
        runs = {name: staged_run(name) for name in names}
        return [name for name, run in runs.items() if run is not None and (run != current or run == published)]

    store.drop_tables(stale)


def write_recommendations(store: Store, fitted: FittedModel, k: int) -> int:
    """Every active user's top k, ranked slice by slice in this process and published in one commit (the picks
    of a model a newer run has replaced meanwhile are not: returns 0)."""
    slices = user_slices(len(fitted.active_users))
    for index, (start, stop) in enumerate(slices):
        if rank_slice(store, fitted, index, start, stop, k) is None:
            return 0
    return publish_recommendations(store, fitted.version, len(slices)) or 0


def _index(store: Store, table: str) -> None:
    """Create the table's missing indexes and compact it (reelmind.indexes). An index lost to a concurrent write
    (another run's overwrite) only makes reads slower until the next run: logged, not raised."""
    try:
        store.maintain([table])
    except (OSError, RuntimeError, ValueError) as exc:
        LOG.warning("%s: indexing %s failed, reads scan it until the next run: %s", store.uri, table,
                    " ".join(str(exc).split())[:200])


def saved_version(store: Store) -> str | None:
    """The version of the database's saved model (None without one)."""
    rows = store.rows(ModelRecord, ["version"], where=f"name = {sql_str(MODEL_NAME)}")
    return rows[0]["version"] if rows else None


def stored_recommendations(store: Store, user_id: str, k: int | None) -> list[dict]:
    rows = store.rows(RecommendationRecord, where=f"user_id = {sql_str(user_id)}")
    return sorted(rows, key=lambda r: r["rank"])[:k] if k else sorted(rows, key=lambda r: r["rank"])


def events_since_fit(store: Store, model: Recommender, user_id: str) -> tuple[np.ndarray, ...] | None:
    """The user's history as the events table holds it now (columns, weights, times), when it differs from what
    `model` was fitted on: events stored after the fit (POST /events, `reelmind events add`). None when nothing
    changed. Events on videos the model does not know (ingested since) are left out."""
    records = [(user_id, e["video_id"], event_weight(e["event"], e["watch_fraction"]), e["timestamp"].timestamp())
               for e in store.rows(EventRecord, ["video_id", "event", "watch_fraction", "timestamp"],
                                   where=f"user_id = {sql_str(user_id)}")
               if e["video_id"] and e["video_id"] in model.items.index]
    if not records:
        return None
    now = Interactions.from_records(records, item_ids=model.items.ids, user_ids=[user_id])
    cols, weights = now.matrix.indices, now.matrix.data
    fitted_cols, fitted_weights = model.interactions.row_of(user_id)
    order = np.argsort(fitted_cols)
    if np.array_equal(cols, fitted_cols[order]) and np.allclose(weights, fitted_weights[order], atol=1e-5):
        return None
    return cols, weights, now.last_seen.data


def recommend_for(settings: Settings, user_id: str, k: int = 10, interests: str | None = None) -> list[dict]:
    """The stored picks of the last run when it stored at least k for this user and they did nothing since;
    otherwise (a user it did not cover, events stored after the fit, new stated interests, or more picks than
    the run stored) picks computed now from the saved model, with the user's newest events folded in (a video
    watched since is excluded, a like moves their profile): fewer than k only when the catalogue runs out (a new
    user gets popularity plus their interests)."""
    store = Store.open(settings.db)
    fitted = load_fitted(settings)
    fresh = events_since_fit(store, fitted.model, user_id) if fitted else None
    if not interests and fresh is None:
        stored = stored_recommendations(store, user_id, k)
        if len(stored) == k:
            return [{**r, "computed": "stored"} for r in stored]
    if fitted is None:
        fitted = fit(settings)
        fresh = events_since_fit(store, fitted.model, user_id)
    model = fitted.model.with_user(user_id, *fresh) if fresh else fitted.model
    picks = model.recommend(user_id, k=k, interests=interests)
    return [{"user_id": user_id, "rank": rank, "video_id": r.item_id, "score": float(r.score), "reason": r.reason,
             "source": r.source, "model_version": fitted.version, "computed": "on demand"}
            for rank, r in enumerate(picks, 1)]
