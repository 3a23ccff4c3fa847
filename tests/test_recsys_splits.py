"""The one splitter (evaluation protocol and hybrid validation draws) and the ranking metrics."""

from __future__ import annotations

import numpy as np
import pytest

from reelmind.recsys.data import Interactions
from reelmind.recsys.metrics import coverage, ndcg_at_k, recall_at_k
from reelmind.recsys.splits import SplitOptions, evaluation_split, split


def log(n_users: int = 30, n_items: int = 40, per_user: int = 10, seed: int = 0) -> Interactions:
    rng = np.random.default_rng(seed)
    records = [(f"u{u}", f"i{j}", 1.0, 1_700_000_000 + 60 * t)
               for u in range(n_users) for t, j in enumerate(rng.choice(n_items, per_user, replace=False))]
    return Interactions.from_records(records, item_ids=[f"i{j}" for j in range(n_items)])


def entries(inter: Interactions, row: int) -> set[int]:
    return set(inter.matrix[row].indices.tolist())


@pytest.mark.parametrize("temporal", [False, True])
def test_evaluation_split_holds_out_cold_items_whole_and_a_fifth_of_each_user(temporal):
    inter = log()
    s = evaluation_split(inter, seed=42, temporal=temporal)
    assert s.cold.sum() == 4 and s.name == ("temporal" if temporal else "random")
    assert s.train.matrix[:, s.cold].nnz == 0
    for row in range(inter.n_users):
        everything = entries(inter, row)
        on_cold = {c for c in everything if s.cold[c]}
        assert s.held_cold[row] == on_cold
        assert len(s.held_warm[row]) == round(0.2 * (len(everything) - len(on_cold)))
        assert entries(s.train, row) == everything - on_cold - s.held_warm[row]
        if temporal and s.held_warm[row]:
            times = {c: t for c, t in zip(inter.last_seen[row].indices, inter.last_seen[row].data)}
            kept = everything - on_cold - s.held_warm[row]
            assert min(times[c] for c in s.held_warm[row]) >= max(times[c] for c in kept)


def test_split_is_reproducible_and_seeded():
    inter = log()
    a, b, c = (evaluation_split(inter, seed=seed) for seed in (1, 1, 2))
    assert a.held_warm == b.held_warm and (a.cold == b.cold).all()
    assert a.held_warm != c.held_warm


def test_validation_options_spare_small_histories_unchosen_users_and_untouched_items():
    inter = log(n_items=60, per_user=4)  # 30 x 4 positives over 60 items: some items nobody touched
    users = np.arange(inter.n_users) % 2 == 0
    s = split(inter, SplitOptions(held_fraction=0.5, cold_fraction=0.2, min_positives=5), seed=0, users=users)
    assert not any(s.held_warm)  # 4 positives each, fewer than 5
    assert not (s.cold & (inter.item_counts() == 0)).any()
    s = split(inter, SplitOptions(held_fraction=0.5), seed=0, users=users)
    assert all(bool(held) == chosen for held, chosen in zip(s.held_warm, users))


def test_skips_stay_in_training_and_are_never_held_out():
    records = [("u", f"i{j}", 1.0, 1_700_000_000 + j) for j in range(5)] + [("u", "i5", 0.0, 1_700_000_010)]
    inter = Interactions.from_records(records, item_ids=[f"i{j}" for j in range(6)])
    s = split(inter, SplitOptions(held_fraction=0.4, temporal=True), seed=0)
    assert s.held_warm[0] == {3, 4} and 5 in entries(s.train, 0)


def test_metrics_on_a_known_ranking():
    ranked = [[0, 1, 2], [5, -1, -1]]
    relevant = [{1, 9}, {5}]
    assert recall_at_k(ranked, relevant, 2) == pytest.approx((1 / 2 + 1) / 2)
    assert ndcg_at_k(ranked, relevant, 2) == pytest.approx(((1 / np.log2(3)) / (1 + 1 / np.log2(3)) + 1) / 2)
    assert recall_at_k(ranked, [set(), set()], 2) == 0.0
    assert coverage(ranked, 10) == pytest.approx(4 / 10)  # 0, 1, 2 and 5; padding is no item


def test_a_latest_share_holds_out_each_users_latest_positives_and_the_rest_at_random():
    inter = log(n_users=40, n_items=60, per_user=20)
    s = split(inter, SplitOptions(held_fraction=0.4, latest_share=0.5), seed=3)
    random_parts = []
    for row in range(inter.n_users):
        times = dict(zip(inter.last_seen[row].indices.tolist(), inter.last_seen[row].data.tolist()))
        by_time = sorted(times, key=times.get)
        assert len(s.held_warm[row]) == 8
        assert set(by_time[-4:]) <= s.held_warm[row]  # the latest four: half of the eight held out
        random_parts.append(frozenset(s.held_warm[row] - set(by_time[-4:])))
        assert all(c in by_time[:-4] for c in random_parts[-1])
    # the other half is drawn, not the next-latest: it is spread over the earlier positives
    assert any(part != frozenset(by_time[-8:-4]) for part in random_parts)
    assert split(inter, SplitOptions(held_fraction=0.4, latest_share=0.5), seed=3).held_warm == s.held_warm
