"""Batch mode for any dataset: ITEMS.csv + TRAIN.csv in, RECS.csv out.

    reelmind recommend-offline --items ITEMS.csv --interactions TRAIN.csv --k K --out RECS.csv [--model hybrid]

ITEMS.csv: `item_id,title,text` (text is embedded with the product's text model). TRAIN.csv:
`user_id,item_id,timestamp[,weight]`, timestamps in Unix seconds or ISO 8601. RECS.csv: `user_id,rank,item_id,score`,
K rows for every user in TRAIN.csv (fewer only when the catalogue has fewer unseen items). Items never seen in
TRAIN.csv are cold items and can be recommended; a user's TRAIN items never are. Inputs are checked whole first;
a bad row stops the run with a message naming the file and the row, and no output is written. `--model` is any
name in reelmind.recsys.registry.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from reelmind.events import parse_timestamp
from reelmind.files import atomic_path
from reelmind.recsys import ranking, registry
from reelmind.recsys.data import Interactions, Items, item_document


class OfflineInputError(ValueError):
    """A bad input file: the message names the file and the row."""

    pass


def _rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict]]:
    if not path.is_file():
        raise OfflineInputError(f"{path}: file not found")
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise OfflineInputError(f"{path}: header lacks required column(s) {', '.join(missing)}")
        return [(n, row) for n, row in enumerate(reader, start=2)]


def read_items(path: str | Path) -> Items:
    path = Path(path)
    ids, titles, texts = [], [], []
    for n, row in _rows(path, ("item_id", "title", "text")):
        item_id = (row["item_id"] or "").strip()
        if not item_id:
            raise OfflineInputError(f"{path}:{n}: empty item_id")
        if item_id in ids:
            raise OfflineInputError(f"{path}:{n}: duplicate item_id {item_id!r}")
        ids.append(item_id)
        titles.append((row["title"] or "").strip())
        texts.append(item_document(row["title"] or "", row["text"] or ""))
    if not ids:
        raise OfflineInputError(f"{path}: no items")
    return Items(ids, titles, texts)


def read_train(path: str | Path, items: Items) -> Interactions:
    path = Path(path)
    records = []
    for n, row in _rows(path, ("user_id", "item_id", "timestamp")):
        user, item = (row["user_id"] or "").strip(), (row["item_id"] or "").strip()
        if not user:
            raise OfflineInputError(f"{path}:{n}: empty user_id")
        if item not in items.index:
            raise OfflineInputError(f"{path}:{n}: unknown item_id {item!r} (not in the items file)")
        try:
            when = parse_timestamp(row["timestamp"]).timestamp()
        except ValueError as exc:
            raise OfflineInputError(f"{path}:{n}: {exc}") from None
        weight = row.get("weight")
        try:
            weight = 1.0 if weight in (None, "") else float(weight)
        except ValueError:
            raise OfflineInputError(f"{path}:{n}: weight {weight!r} is not a number") from None
        records.append((user, item, weight, when))
    if not records:
        raise OfflineInputError(f"{path}: no interactions")
    return Interactions.from_records(records, item_ids=items.ids)


def recommend_offline(items_csv: str | Path, train_csv: str | Path, k: int, out_csv: str | Path,
                      model: str = "hybrid") -> int:
    """Write RECS.csv; returns the number of rows written."""
    if k < 1:
        raise OfflineInputError("k must be at least 1")
    needs_vectors = registry.lookup(model).cls.needs_text_vectors
    items = read_items(items_csv)
    train = read_train(train_csv, items)
    items = ranking.with_text_vectors(items) if needs_vectors else items
    _, recs = ranking.fit_and_rank(model, train, items, train.user_ids, k)
    rows = 0
    with atomic_path(out_csv) as tmp, tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["user_id", "rank", "item_id", "score"])
        for user in train.user_ids:
            for rank, r in enumerate(recs[user], 1):
                writer.writerow([user, rank, r.item_id, f"{r.score:.6f}" if np.isfinite(r.score) else "0"])
                rows += 1
    return rows
