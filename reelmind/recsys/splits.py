"""Holding out positives: the one splitter behind the offline evaluation and the hybrid's validation draws.

A split holds out a share of the items whole, as items nobody has interacted with yet ("cold": every positive on
them becomes a held-out positive), and from each user's other positives a share, at random (seeded) or their
latest ones. What is left is the training data. Stored zero weights (skips: seen, not liked) of kept items stay
in training; they are never held out, because they are not positives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reelmind.recsys.data import Interactions

# The evaluation protocol (reelmind.recsys.evaluate): 10% of the catalogue held out as cold items, and each user's
# remaining positives split 80/20 into train and test.
EVALUATION_COLD_FRACTION = 0.1
EVALUATION_TEST_FRACTION = 0.2


@dataclass(frozen=True)
class SplitOptions:
    """`held_fraction`: share of each user's positives (on items kept in training) held out, rounded; a user
    whose share rounds to none, or who has fewer than `min_positives` positives, keeps them all. `cold_fraction`:
    share of the items held out whole, drawn from the whole catalogue when `cold_from_catalogue` (the evaluation:
    any item can be new), else only from items someone interacted with (validation: holding out an item nobody
    touched teaches nothing). `temporal`: hold out each user's latest positives instead of a random choice.
    `latest_share` (when not `temporal`): this share of each user's held-out positives is their latest ones, the
    rest drawn at random from the others (validation that asks both "what next" and "what else")."""

    held_fraction: float
    cold_fraction: float = 0.0
    cold_from_catalogue: bool = False
    temporal: bool = False
    min_positives: int = 0
    latest_share: float = 0.0


@dataclass(frozen=True, eq=False)
class Split:
    """Training interactions and what was held out of them, per user row of `train`."""

    train: Interactions
    held_warm: list[set[int]]  # per user: held-out positives on items kept in training (columns)
    held_cold: list[set[int]]  # per user: their positives on the items held out whole
    cold: np.ndarray           # bool mask of the item columns held out whole
    temporal: bool

    @property
    def name(self) -> str:
        return "temporal" if self.temporal else "random"

    @property
    def warm(self) -> np.ndarray:
        return ~self.cold

    def held(self, row: int) -> set[int]:
        return self.held_warm[row] | self.held_cold[row]


def split(inter: Interactions, options: SplitOptions, seed: int, users: np.ndarray | None = None) -> Split:
    """Split `inter` as `options` say, drawing from one generator seeded with `seed` (cold items first, then each
    user in row order, so a split is reproducible). `users` (a mask of rows): only those users give up a share of
    their positives (one fold of a split over users); cold items are held out for everyone."""
    rng = np.random.default_rng(seed)
    m, t = inter.matrix, inter.last_seen  # one CSR structure: entries line up
    cold = np.zeros(inter.n_items, bool)
    pool = np.arange(inter.n_items) if options.cold_from_catalogue else np.flatnonzero(inter.item_counts() > 0)
    if options.cold_fraction > 0 and len(pool):
        cold[rng.choice(pool, size=int(round(options.cold_fraction * len(pool))), replace=False)] = True
    keep = ~cold[m.indices]
    held_warm: list[set[int]] = []
    held_cold: list[set[int]] = []
    for row in range(inter.n_users):
        entries = np.arange(m.indptr[row], m.indptr[row + 1])
        on_cold = cold[m.indices[entries]]
        held_cold.append(set(m.indices[entries[on_cold & (m.data[entries] > 0)]].tolist()))
        positive = entries[~on_cold & (m.data[entries] > 0)]
        n_held = int(round(options.held_fraction * len(positive)))
        if n_held == 0 or len(positive) < options.min_positives or (users is not None and not users[row]):
            held_warm.append(set())
            continue
        n_latest = n_held if options.temporal else int(round(options.latest_share * n_held))
        if n_latest == 0:
            chosen = rng.choice(positive, size=n_held, replace=False)
        else:
            by_time = positive[np.argsort(t.data[positive], kind="stable")]
            earlier = by_time[:len(by_time) - n_latest]
            chosen = by_time[len(by_time) - n_latest:]
            if n_held > n_latest:
                chosen = np.concatenate([chosen, rng.choice(earlier, size=n_held - n_latest, replace=False)])
        keep[chosen] = False
        held_warm.append(set(m.indices[chosen].tolist()))
    rows = np.repeat(np.arange(inter.n_users), np.diff(m.indptr))
    train = Interactions.from_arrays(inter.user_ids, inter.item_ids, rows[keep], m.indices[keep], m.data[keep],
                                     t.data[keep])
    return Split(train, held_warm, held_cold, cold, options.temporal)


def evaluation_split(inter: Interactions, seed: int = 42, temporal: bool = False) -> Split:
    """The evaluation protocol's split of every positive: EVALUATION_COLD_FRACTION of the catalogue held out as
    cold items, each user's other positives split by EVALUATION_TEST_FRACTION at random or by time."""
    options = SplitOptions(held_fraction=EVALUATION_TEST_FRACTION, cold_fraction=EVALUATION_COLD_FRACTION,
                           cold_from_catalogue=True, temporal=temporal)
    return split(inter, options, seed)
