"""`reelmind recommend-offline` end to end on a slice of MovieLens, and its input validation."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from reelmind.cli import main
from reelmind.recsys.offline import OfflineInputError, recommend_offline

MOVIELENS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "ml-latest-small"


@pytest.fixture(scope="module")
def slice_files(tmp_path_factory):
    if not (MOVIELENS / "ratings.csv").is_file():
        pytest.skip(f"{MOVIELENS} is absent (the shared dataset sits beside the checkout on project machines)")
    folder = tmp_path_factory.mktemp("ml-slice")
    with (MOVIELENS / "ratings.csv").open() as f:
        ratings = [r for r in csv.DictReader(f) if int(r["userId"]) <= 100 and float(r["rating"]) >= 4]
    with (MOVIELENS / "movies.csv").open() as f:
        movies = list(csv.DictReader(f))[:3000]
    known = {m["movieId"] for m in movies}
    ratings = [r for r in ratings if r["movieId"] in known]
    with (folder / "items.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["item_id", "title", "text"])
        for m in movies:
            writer.writerow([m["movieId"], m["title"], m["genres"].replace("|", ", ")])
    with (folder / "train.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["user_id", "item_id", "timestamp"])
        for r in ratings:
            writer.writerow([r["userId"], r["movieId"], r["timestamp"]])
    return folder, ratings, known


@pytest.mark.slow  # the shared real media
@pytest.mark.parametrize("model", ["hybrid", "content", "popularity"])
def test_k_rows_per_user_never_their_train_items(slice_files, model):
    folder, ratings, known = slice_files
    out = folder / f"recs-{model}.csv"
    assert main(["recommend-offline", "--items", str(folder / "items.csv"), "--interactions",
                 str(folder / "train.csv"), "--k", "10", "--out", str(out), "--model", model]) == 0
    seen = defaultdict(set)
    for r in ratings:
        seen[r["userId"]].add(r["movieId"])
    recs = defaultdict(list)
    with out.open() as f:
        for row in csv.DictReader(f):
            recs[row["user_id"]].append(row)
    assert set(recs) == set(seen)
    for user, rows in recs.items():
        assert [int(r["rank"]) for r in rows] == list(range(1, 11))
        assert not ({r["item_id"] for r in rows} & seen[user])
        assert {r["item_id"] for r in rows} <= known
    if model == "content":  # items nobody rated reach users through what they are about
        cold = known - {r["movieId"] for r in ratings}
        assert any(r["item_id"] in cold for rows in recs.values() for r in rows), "cold items are recommendable"


@pytest.mark.slow  # the shared real media
def test_hybrid_ranks_cold_items_by_content(slice_files):
    """The hybrid's tuned weights may keep cold items out of a short list; among cold items it still ranks them,
    with content reasons (the evaluation's cold setting)."""
    from reelmind.recsys import ranking
    from reelmind.recsys.offline import read_items, read_train

    folder, ratings, known = slice_files
    items = read_items(folder / "items.csv")
    train = read_train(folder / "train.csv", items)
    model = ranking.fit("hybrid", train, ranking.with_text_vectors(items))
    cold = sorted(known - {r["movieId"] for r in ratings})
    picks = model.recommend_batch(list(train.user_ids)[:20], k=5, candidates=cold)
    assert all(len(p) == 5 and {r.item_id for r in p} <= set(cold) for p in picks.values())
    assert all(r.reason for p in picks.values() for r in p)


def test_bad_inputs_name_the_file_and_row(tmp_path):
    items = tmp_path / "items.csv"
    items.write_text("item_id,title,text\n1,Alien,space horror\n2,Heat,crime\n")
    train = tmp_path / "train.csv"
    train.write_text("user_id,item_id,timestamp\nu1,1,1700000000\nu1,3,1700000001\n")
    with pytest.raises(OfflineInputError, match=rf"{train}:3: unknown item_id '3'"):
        recommend_offline(items, train, 5, tmp_path / "out.csv")
    train.write_text("user_id,item_id,timestamp\nu1,1,last tuesday\n")
    with pytest.raises(OfflineInputError, match=rf"{train}:2: timestamp 'last tuesday'"):
        recommend_offline(items, train, 5, tmp_path / "out.csv")
    train.write_text("user,item\nu1,1\n")
    with pytest.raises(OfflineInputError, match="header lacks required column"):
        recommend_offline(items, train, 5, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.slow  # the shared dataset and the real text model
def test_the_evaluation_and_recommend_offline_give_the_same_lists(tmp_path):
    """One path: the evaluation of a split, and recommend-offline on that split's training data exported to CSV,
    fit and rank through the same function with the same inputs, so every user gets the same list."""
    from reelmind.recsys import evaluate, movielens
    from reelmind.recsys.data import Items, item_document
    from reelmind.recsys.splits import evaluation_split

    if not (MOVIELENS / "ratings.csv").is_file():
        pytest.skip(f"{MOVIELENS} is absent (the shared dataset sits beside the checkout on project machines)")
    data = movielens.load(MOVIELENS, with_tags=False)
    n_items = 1500
    items = Items(data.items.ids[:n_items], data.items.titles[:n_items], data.items.texts[:n_items])
    keep = (data.cols < n_items) & (data.users.astype(int) <= 80)
    positives = movielens.MovieLens(items, data.users[keep], data.cols[keep], data.times[keep],
                                    data.ratings[keep]).interactions()
    split = evaluation_split(positives, seed=42)
    train = split.train
    assert (np.diff(train.matrix.indptr) > 0).all(), "every user keeps training positives (same users both ways)"
    from reelmind.recsys import ranking

    _, evaluated = evaluate.ranked("hybrid", split, ranking.with_text_vectors(items), k=20)

    with (tmp_path / "items.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["item_id", "title", "text"])
        for item_id, title, text in zip(items.ids, items.titles, items.texts):
            writer.writerow([item_id, title, text])
    with (tmp_path / "train.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["user_id", "item_id", "timestamp", "weight"])
        for row, user in enumerate(train.user_ids):
            for at in range(train.matrix.indptr[row], train.matrix.indptr[row + 1]):
                writer.writerow([user, train.item_ids[train.matrix.indices[at]], repr(float(train.last_seen.data[at])),
                                 repr(float(train.matrix.data[at]))])
    assert item_document(items.titles[0], items.texts[0]) == items.texts[0]  # no title twice
    recommend_offline(tmp_path / "items.csv", tmp_path / "train.csv", 20, tmp_path / "recs.csv")
    offline = defaultdict(list)
    with (tmp_path / "recs.csv").open() as f:
        for row in csv.DictReader(f):
            offline[row["user_id"]].append(row["item_id"])
    assert set(offline) == set(evaluated)
    for user, picks in evaluated.items():
        assert offline[user] == [p.item_id for p in picks], user
