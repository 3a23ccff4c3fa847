"""Every recommender by name: the one list the CLI, `recommend-offline`, the evaluation and the recommend flow read.

A name maps to a class, the parameters it is made with, and a line for people. Adding a recommender is one entry
here; its tests (tests/recsys_contract.py) and the `--model` choices follow from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from reelmind.recsys.base import Recommender
from reelmind.recsys.cf import ALSRecommender, EASERecommender
from reelmind.recsys.content import ContentRecommender
from reelmind.recsys.hybrid import HybridRecommender
from reelmind.recsys.popularity import PopularityRecommender, RandomRecommender


@dataclass(frozen=True)
class Registered:
    cls: type[Recommender]
    description: str
    params: Mapping[str, object] = field(default_factory=dict)

    def make(self) -> Recommender:
        """An unfitted model with the registered parameters."""
        return self.cls(**self.params)


RECOMMENDERS: Mapping[str, Registered] = MappingProxyType({
    "random": Registered(RandomRecommender, "a seeded random ranking (the floor)"),
    "popularity": Registered(PopularityRecommender, "what is popular lately, the same for everyone"),
    "ease": Registered(EASERecommender, "item-item collaborative filtering (EASE, closed form)"),
    "als": Registered(ALSRecommender, "matrix factorisation (implicit ALS)"),
    "content": Registered(ContentRecommender, "items like what the user watched and said, by their text"),
    "hybrid": Registered(HybridRecommender, "popularity, EASE, ALS and content, fused and re-ranked (the product)"),
    # the collaborative filtering model the product ships as a single model
    "cf": Registered(EASERecommender, "the product's collaborative filtering model (EASE)"),
})


def names() -> tuple[str, ...]:
    return tuple(RECOMMENDERS)


def lookup(name: str) -> Registered:
    if name not in RECOMMENDERS:
        raise ValueError(f"unknown recommender {name!r}; known: {', '.join(RECOMMENDERS)}")
    return RECOMMENDERS[name]


def make(name: str) -> Recommender:
    """An unfitted model of the recommender registered as `name`; `clone(**params)` changes its parameters."""
    return lookup(name).make()
