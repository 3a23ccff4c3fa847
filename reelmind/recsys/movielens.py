"""MovieLens in the layout of ml-latest-small, and the evaluation splits.

Items are movies; an item's text is its title, its genres and the tags users gave it. Positives are ratings >= 4.
`split` holds out 10% of the items entirely as cold items (none of their ratings are seen in training), and splits
each user's remaining positives 80/20 into train and test, at random (seeded) or by time (each user's last 20%).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reelmind.recsys.data import Interactions, Items

POSITIVE_RATING = 4.0
COLD_FRACTION = 0.1
TEST_FRACTION = 0.2


@dataclass(frozen=True)
class MovieLens:
    items: Items
    users: np.ndarray      # per positive rating: user id
    cols: np.ndarray       # per positive rating: item column
    times: np.ndarray      # per positive rating: Unix seconds
    ratings: np.ndarray


@dataclass(frozen=True)
class Split:
    name: str
    train: Interactions
    test_warm: dict[str, set[int]]   # user -> warm item columns held out
    test_cold: dict[str, set[int]]   # user -> cold item columns they liked
    warm: np.ndarray                  # bool mask of warm item columns
    cold: np.ndarray                  # bool mask of cold item columns


def load(folder: str | Path) -> MovieLens:
    folder = Path(folder)
    for name in ("movies.csv", "ratings.csv"):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name}: missing (expected the ml-latest-small layout)")
    tags: dict[str, list[str]] = defaultdict(list)
    if (folder / "tags.csv").is_file():
        with (folder / "tags.csv").open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                tags[row["movieId"]].append(row["tag"])
    ids, titles, texts = [], [], []
    with (folder / "movies.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            genres = row["genres"].replace("|", ", ") if row["genres"] != "(no genres listed)" else ""
            unique_tags = list(dict.fromkeys(t.strip() for t in tags.get(row["movieId"], []) if t.strip()))
            ids.append(row["movieId"])
            titles.append(row["title"])
            texts.append(". ".join(p for p in (row["title"], genres, ", ".join(unique_tags[:20])) if p))
    index = {m: i for i, m in enumerate(ids)}
    users, cols, times, ratings = [], [], [], []
    with (folder / "ratings.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rating = float(row["rating"])
            if rating >= POSITIVE_RATING and row["movieId"] in index:
                users.append(row["userId"])
                cols.append(index[row["movieId"]])
                times.append(float(row["timestamp"]))
                ratings.append(rating)
    return MovieLens(Items(ids, titles, texts), np.array(users), np.array(cols), np.array(times), np.array(ratings))


def split(data: MovieLens, seed: int = 42, temporal: bool = False) -> Split:
    rng = np.random.default_rng(seed)
    n_items = len(data.items)
    cold = np.zeros(n_items, bool)
    cold[rng.choice(n_items, size=int(round(COLD_FRACTION * n_items)), replace=False)] = True
    user_ids = sorted(set(data.users.tolist()), key=int)
    train_rows, test_warm, test_cold = [], defaultdict(set), defaultdict(set)
    by_user: dict[str, list[int]] = defaultdict(list)
    for i, user in enumerate(data.users):
        by_user[user].append(i)
    for user in user_ids:
        entries = np.array(by_user[user])
        is_cold = cold[data.cols[entries]]
        for i in entries[is_cold]:
            test_cold[user].add(int(data.cols[i]))
        warm_entries = entries[~is_cold]
        n_test = int(round(TEST_FRACTION * len(warm_entries)))
        if temporal:
            order = warm_entries[np.argsort(data.times[warm_entries], kind="stable")]
            held = order[len(order) - n_test:] if n_test else order[:0]
        else:
            held = rng.choice(warm_entries, size=n_test, replace=False) if n_test else warm_entries[:0]
        held_set = set(held.tolist())
        for i in warm_entries:
            if i in held_set:
                test_warm[user].add(int(data.cols[i]))
            else:
                train_rows.append(i)
    train_rows = np.array(train_rows)
    user_index = {u: r for r, u in enumerate(user_ids)}
    rows = np.array([user_index[u] for u in data.users[train_rows]])
    train = Interactions.from_arrays(user_ids, data.items.ids, rows, data.cols[train_rows], np.ones(len(train_rows)),
                                     data.times[train_rows])
    return Split("temporal" if temporal else "random", train, dict(test_warm), dict(test_cold), ~cold, cold)
