"""MovieLens in the layout of ml-latest-small.

Items are movies; an item's text is its title, its genres and the tags users gave it. Positives are ratings >= 4.
The evaluation splits them with reelmind.recsys.splits.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reelmind.recsys.data import Interactions, Items, item_document

POSITIVE_RATING = 4.0


@dataclass(frozen=True)
class MovieLens:
    items: Items
    users: np.ndarray      # per positive rating: user id
    cols: np.ndarray       # per positive rating: item column
    times: np.ndarray      # per positive rating: Unix seconds
    ratings: np.ndarray

    def interactions(self) -> Interactions:
        """Every positive as one interaction of weight 1 at its rating's time; users in id order."""
        user_ids = sorted(set(self.users.tolist()), key=int)
        index = {u: r for r, u in enumerate(user_ids)}
        rows = np.array([index[u] for u in self.users])
        return Interactions.from_arrays(user_ids, self.items.ids, rows, self.cols, np.ones(len(self.cols)),
                                        self.times)


def load(folder: str | Path, with_tags: bool = True, positive_rating: float = POSITIVE_RATING) -> MovieLens:
    """The movies and their positive ratings (>= `positive_rating`); `with_tags=False` leaves the users' tags out of
    the item text (title and genres only: thin text, as in most catalogues)."""
    folder = Path(folder)
    for name in ("movies.csv", "ratings.csv"):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name}: missing (expected the ml-latest-small layout)")
    tags: dict[str, list[str]] = defaultdict(list)
    if with_tags and (folder / "tags.csv").is_file():
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
            texts.append(item_document(row["title"], ". ".join(p for p in (genres, ", ".join(unique_tags[:20])) if p)))
    index = {m: i for i, m in enumerate(ids)}
    users, cols, times, ratings = [], [], [], []
    with (folder / "ratings.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rating = float(row["rating"])
            if rating >= positive_rating and row["movieId"] in index:
                users.append(row["userId"])
                cols.append(index[row["movieId"]])
                times.append(float(row["timestamp"]))
                ratings.append(rating)
    return MovieLens(Items(ids, titles, texts), np.array(users), np.array(cols), np.array(times), np.array(ratings))
