"""What every recommender reads: who interacted with what (and how much, and when), and what the items are.

`Interactions` is a users x items matrix of implicit-feedback weights with the latest timestamp of each pair; it
is built with the full catalogue's item ids so that items nobody has touched yet (cold items) still have a column
and a content model can reach them. `Items` holds each item's title, text and vectors, row-aligned with those
columns. `event_weight` turns the product's event log (views with a watch fraction, likes, shares, ...) into the
weights that go into `Interactions`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from reelmind.records import EVENT_TYPES
from reelmind.vectors import l2_normalise

Id = Hashable
SECONDS_PER_DAY = 86_400.0

# --- Event weights: how much one event says "this user wants more like this item". ----------------------------
# A full view is the unit. Deliberate actions say more than watching: a like about twice a full view, a comment a
# bit more than a view (people also comment to disagree), a share the most (the user vouches for it in public).
VIEW_WEIGHT = 1.0
LIKE_WEIGHT = 2.0
COMMENT_WEIGHT = 1.5
SHARE_WEIGHT = 3.0
# Opening an item from search results: intent, but weaker than having watched it.
SEARCH_WEIGHT = 0.5
# A view under this fraction of the item is a skip: the first seconds decide, and 10% of a 30 s reel is 3 s.
SKIP_FRACTION = 0.1
# Skips weigh 0, not less: in a feed a skip is mostly "not now", and a negative weight would push down every
# item that co-occurs with this one for everyone. A skipped item is still recorded as seen, so it is not
# recommended again (a stored zero in `Interactions.matrix`).
SKIP_WEIGHT = 0.0
EVENT_WEIGHTS = {"view": VIEW_WEIGHT, "like": LIKE_WEIGHT, "comment": COMMENT_WEIGHT, "share": SHARE_WEIGHT,
                 "search": SEARCH_WEIGHT, "skip": SKIP_WEIGHT}
# Every event type a user can send (reelmind.records.EVENT_TYPES) has a weight: checked once, at import.
if set(EVENT_WEIGHTS) != set(EVENT_TYPES):
    raise ImportError(f"EVENT_WEIGHTS {sorted(EVENT_WEIGHTS)} do not match EVENT_TYPES {sorted(EVENT_TYPES)}")


def event_weight(event: str, watch_fraction: float | None = None) -> float:
    """The implicit-feedback weight of one event; a view counts in proportion to how much of the item was watched.

    A view with no watch fraction counts as a full view; one under `SKIP_FRACTION` is a skip. Unknown events are
    an error rather than a silent zero, so a new event type in the log is noticed.
    """
    event = event.strip().lower()
    if event not in EVENT_WEIGHTS:
        raise ValueError(f"unknown event {event!r}; known: {', '.join(EVENT_WEIGHTS)}")
    if event != "view":
        return EVENT_WEIGHTS[event]
    if watch_fraction is None:
        return VIEW_WEIGHT
    fraction = min(max(float(watch_fraction), 0.0), 1.0)
    return SKIP_WEIGHT if fraction < SKIP_FRACTION else VIEW_WEIGHT * fraction


def item_document(title: str, text: str) -> str:
    """The one text an item is embedded and matched by: its title, then its own text (description, genres, tags).
    A text that already begins with the title is taken as it is, so no path puts the title in twice."""
    title, text = " ".join((title or "").split()), " ".join((text or "").split())
    if not text or text == title:
        return title
    if not title or text.startswith(title):
        return text
    return f"{title}. {text}"


# Recency half-lives are a share of the log's own time span, so one default fits a feed of a few weeks and a
# ratings log of 20 years alike: popularity follows the last tenth of the log (a 2-month feed: 6 days), a user's
# interest profile the last half (tastes move slower than trends).
POPULARITY_HALF_LIFE_SHARE = 0.1
PROFILE_HALF_LIFE_SHARE = 0.5
MIN_HALF_LIFE_DAYS = 1.0
AUTO = "auto"  # a half-life parameter that asks for span_half_life_days


def resolve_half_life(value: float | str | None, interactions: Interactions, share: float) -> float | None:
    """A model's half-life parameter as days: AUTO becomes `share` of the log's span; a number or None (no decay)
    stays as it is."""
    return span_half_life_days(interactions, share) if value == AUTO else value


def span_half_life_days(interactions: Interactions, share: float) -> float:
    """`share` of the time between the log's first and last event, in days (at least MIN_HALF_LIFE_DAYS)."""
    times = interactions.last_seen.data
    span = float(times.max() - times.min()) if len(times) else 0.0
    return max(share * span / SECONDS_PER_DAY, MIN_HALF_LIFE_DAYS)


def recency_decay(age_s: np.ndarray | float, half_life_days: float | None) -> np.ndarray:
    """exp2(-age / half-life): 1 for now, 1/2 one half-life ago. `None` = no decay (every age weighs 1)."""
    age = np.maximum(np.asarray(age_s, dtype=np.float64), 0.0)
    if half_life_days is None:
        return np.ones_like(age)
    return np.exp2(-age / (half_life_days * SECONDS_PER_DAY))


@dataclass(frozen=True, eq=False)
class Items:
    """The catalogue: row i of every array is item `ids[i]`. Vectors, when present, are L2-normalised rows."""

    ids: tuple[Id, ...]
    titles: tuple[str, ...]
    texts: tuple[str, ...]
    text_vectors: np.ndarray | None = None
    visual_vectors: np.ndarray | None = None
    created_at: np.ndarray | None = None  # Unix seconds
    index: dict[Id, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ids", tuple(self.ids))
        object.__setattr__(self, "titles", tuple(self.titles))
        object.__setattr__(self, "texts", tuple(self.texts))
        n = len(self.ids)
        if len(self.titles) != n or len(self.texts) != n:
            raise ValueError(f"{n} item ids but {len(self.titles)} titles and {len(self.texts)} texts")
        for name in ("text_vectors", "visual_vectors", "created_at"):
            value = getattr(self, name)
            if value is not None:
                value = np.asarray(value, dtype=np.float64 if name == "created_at" else np.float32)
                if len(value) != n:
                    raise ValueError(f"{name} has {len(value)} rows for {n} items")
                if name != "created_at":
                    value = l2_normalise(value)
                object.__setattr__(self, name, value)
        index = {item_id: i for i, item_id in enumerate(self.ids)}
        if len(index) != n:
            raise ValueError("item ids are not unique")
        object.__setattr__(self, "index", index)

    @classmethod
    def restored(cls, ids: Sequence[Id], titles: Sequence[str], texts: Sequence[str],
                 text_vectors: np.ndarray | None, visual_vectors: np.ndarray | None,
                 created_at: np.ndarray | None) -> Items:
        """Saved items, their vectors kept bit for bit: normalising unit vectors again moves their last bits, and
        a loaded model must rank exactly as the saved one did."""
        items = cls(ids, titles, texts, text_vectors, visual_vectors, created_at)
        for name, value in (("text_vectors", text_vectors), ("visual_vectors", visual_vectors)):
            if value is not None:
                object.__setattr__(items, name, value)
        return items

    def __len__(self) -> int:
        return len(self.ids)

    def with_vectors(self, text_vectors: np.ndarray | None = None,
                     visual_vectors: np.ndarray | None = None) -> Items:
        return Items(self.ids, self.titles, self.texts,
                     self.text_vectors if text_vectors is None else text_vectors,
                     self.visual_vectors if visual_vectors is None else visual_vectors, self.created_at)


def csr_row(matrix: sparse.csr_matrix, row: int) -> tuple[np.ndarray, np.ndarray]:
    """(columns, values) of one row of a CSR matrix, as views: scipy's `matrix[row]` builds a new matrix each time
    (80 us; a full ranking run asks millions of times)."""
    start, end = matrix.indptr[row], matrix.indptr[row + 1]
    return matrix.indices[start:end], matrix.data[start:end]


def replace_row(matrix: sparse.csr_matrix, row: int, cols: np.ndarray, values: np.ndarray) -> sparse.csr_matrix:
    """A copy of `matrix` with row `row` holding exactly `values` at `cols` (stored zeros kept); `row` one past the
    last appends a row. One copy of the arrays, no rebuild: how a model takes in one user's newest events."""
    n_rows, n_cols = matrix.shape
    if not 0 <= row <= n_rows:
        raise ValueError(f"row {row} is outside a matrix of {n_rows} rows")
    order = np.argsort(cols, kind="stable")
    cols, values = np.asarray(cols, np.int64)[order], np.asarray(values)[order]
    start = matrix.indptr[row]
    end = matrix.indptr[row + 1] if row < n_rows else start
    data = np.concatenate([matrix.data[:start], values.astype(matrix.data.dtype), matrix.data[end:]])
    indices = np.concatenate([matrix.indices[:start], cols.astype(matrix.indices.dtype), matrix.indices[end:]])
    indptr = matrix.indptr.astype(np.int64) if row < n_rows else np.append(matrix.indptr, matrix.indptr[-1])
    indptr = indptr.copy()
    indptr[row + 1:] += len(cols) - (end - start)
    return sparse.csr_matrix((data, indices, indptr), (n_rows + (row == n_rows), n_cols))


@dataclass(frozen=True, eq=False)
class Interactions:
    """Implicit feedback: `matrix[u, i]` is user u's summed weight for item i, `last_seen[u, i]` its latest time.

    Both are CSR matrices with the same stored entries; a stored entry (even a zero, e.g. a skip) means "seen".
    Columns are the full catalogue in `item_ids` order, so cold items are empty columns, not missing ones.
    """

    user_ids: tuple[Id, ...]
    item_ids: tuple[Id, ...]
    matrix: sparse.csr_matrix  # float32 weights
    last_seen: sparse.csr_matrix  # float64 Unix seconds
    user_index: dict[Id, int] = field(init=False, repr=False)
    item_index: dict[Id, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "user_index", {u: r for r, u in enumerate(self.user_ids)})
        object.__setattr__(self, "item_index", {i: c for c, i in enumerate(self.item_ids)})
        if self.matrix.shape != (len(self.user_ids), len(self.item_ids)) or self.last_seen.shape != self.matrix.shape:
            raise ValueError(f"matrix shape {self.matrix.shape} does not match "
                             f"{len(self.user_ids)} users x {len(self.item_ids)} items")

    @classmethod
    def from_records(cls, records: Iterable[tuple[Id, Id, float, float]], item_ids: Sequence[Id],
                     user_ids: Sequence[Id] | None = None) -> Interactions:
        """From `(user_id, item_id, weight, timestamp_s)` records; repeated pairs add weights and keep the latest
        time. Negative sums are clipped to 0 (seen, no preference). `user_ids` fixes the row order (and may list
        users with no records); by default rows are users in order of first appearance."""
        item_index = {item_id: c for c, item_id in enumerate(item_ids)}
        if len(item_index) != len(item_ids):
            raise ValueError("item ids are not unique")
        users: dict[Id, int] = {u: r for r, u in enumerate(user_ids)} if user_ids is not None else {}
        rows, cols, weights, times = [], [], [], []
        for user_id, item_id, weight, timestamp in records:
            if item_id not in item_index:
                raise ValueError(f"item {item_id!r} is not in the catalogue")
            if user_id not in users:
                if user_ids is not None:
                    raise ValueError(f"user {user_id!r} is not in user_ids")
                users[user_id] = len(users)
            rows.append(users[user_id])
            cols.append(item_index[item_id])
            weights.append(weight)
            times.append(timestamp)
        return cls.from_arrays(list(users), list(item_ids), np.asarray(rows, np.int64), np.asarray(cols, np.int64),
                               np.asarray(weights, np.float64), np.asarray(times, np.float64))

    @classmethod
    def from_arrays(cls, user_ids: Sequence[Id], item_ids: Sequence[Id], rows: np.ndarray, cols: np.ndarray,
                    weights: np.ndarray, times: np.ndarray) -> Interactions:
        """Vectorised `from_records` over row/column indices (what the evaluation uses on 100k ratings)."""
        n_users, n_items = len(user_ids), len(item_ids)
        keys = np.asarray(rows, np.int64) * n_items + np.asarray(cols, np.int64)
        unique, inverse = np.unique(keys, return_inverse=True)
        summed = np.zeros(len(unique), np.float64)
        np.add.at(summed, inverse, weights)
        latest = np.full(len(unique), -np.inf)
        np.maximum.at(latest, inverse, times)
        # Built field by field (not via COO) so that stored zeros survive and both matrices share one structure.
        u_rows, u_cols = unique // n_items, unique % n_items
        indptr = np.concatenate([[0], np.cumsum(np.bincount(u_rows, minlength=n_users))]).astype(np.int64)
        matrix = sparse.csr_matrix((np.maximum(summed, 0.0).astype(np.float32), u_cols, indptr), (n_users, n_items))
        last_seen = sparse.csr_matrix((latest, u_cols.copy(), indptr.copy()), (n_users, n_items))
        return cls(tuple(user_ids), tuple(item_ids), matrix, last_seen)

    def with_user(self, user_id: Id, cols: np.ndarray, weights: np.ndarray, times: np.ndarray) -> Interactions:
        """These interactions with `user_id`'s row replaced by (`cols`, `weights`, `times`), or added at the end
        for a user not in them."""
        row = self.user_index.get(user_id, self.n_users)
        users = self.user_ids if row < self.n_users else self.user_ids + (user_id,)
        weights = np.maximum(np.asarray(weights, np.float64), 0.0)
        return Interactions(users, self.item_ids, replace_row(self.matrix, row, cols, weights),
                            replace_row(self.last_seen, row, cols, np.asarray(times, np.float64)))

    def subset_users(self, rows: np.ndarray) -> Interactions:
        """These interactions for the users at `rows` only (in that order), every item kept."""
        rows = np.asarray(rows, np.int64)
        m, t = self.matrix[rows], self.last_seen[rows]
        at = np.repeat(np.arange(len(rows)), np.diff(m.indptr))
        return Interactions.from_arrays([self.user_ids[r] for r in rows], self.item_ids, at, m.indices, m.data,
                                        t.data)

    def row_of(self, user_id: Id) -> tuple[np.ndarray, np.ndarray]:
        """(columns, weights) of a user's row; empty for a user not in these interactions."""
        row = self.user_index.get(user_id)
        if row is None:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return csr_row(self.matrix, row)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def now(self) -> float:
        """The reference time for recency: the latest event in the data, not the wall clock, so that a model
        fitted on a log is the same whenever it is fitted (and offline evaluations are reproducible)."""
        return float(self.last_seen.data.max()) if self.last_seen.nnz else 0.0

    def positive(self) -> sparse.csr_matrix:
        """The weights with stored zeros removed: what learning reads (a skip is not a positive)."""
        m = self.matrix.copy()
        m.eliminate_zeros()
        return m

    def latest_positives(self, row: int, n: int) -> np.ndarray:
        """Columns of user `row`'s `n` latest positives, latest first: what they are into now."""
        start, end = self.matrix.indptr[row], self.matrix.indptr[row + 1]
        positive = self.matrix.data[start:end] > 0  # matrix and last_seen share one structure
        cols, times = self.matrix.indices[start:end][positive], self.last_seen.data[start:end][positive]
        return cols[np.argsort(-times, kind="stable")[:n]]

    def seen(self, row: int) -> np.ndarray:
        """Column indices of everything user `row` has interacted with, skips included."""
        return csr_row(self.matrix, row)[0]

    def item_counts(self) -> np.ndarray:
        """Users with a positive weight for each item; 0 marks a cold item."""
        return np.bincount(self.positive().indices, minlength=self.n_items)
