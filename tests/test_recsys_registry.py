"""One registry of recommenders: what the CLI, recommend-offline, the evaluation and the recommend flow read."""

from __future__ import annotations

import pytest

from reelmind.cli import build_parser
from reelmind.recsys import registry
from reelmind.recsys.base import Recommender
from reelmind.recsys.cf import EASERecommender
from reelmind.recsys.evaluate import COMPONENTS, EVALUATED


def test_every_entry_is_a_recommender_declaring_its_capabilities():
    assert {"random", "popularity", "ease", "als", "content", "hybrid", "cf"} <= set(registry.names())
    for name, entry in registry.RECOMMENDERS.items():
        assert issubclass(entry.cls, Recommender) and entry.description
        assert isinstance(entry.cls.personalised, bool) and isinstance(entry.cls.needs_text_vectors, bool)
        assert isinstance(registry.make(name), entry.cls)


def test_cf_is_the_ease_model():
    assert isinstance(registry.make("cf"), EASERecommender)


def test_unknown_name_is_one_line_naming_the_known_ones():
    with pytest.raises(ValueError) as error:
        registry.make("svd")
    message = str(error.value)
    assert "\n" not in message and "'svd'" in message and all(name in message for name in registry.names())


def test_recommend_offline_offers_every_registered_model():
    args = build_parser().parse_args(["recommend-offline", "--items", "i.csv", "--interactions", "t.csv", "--k", "5",
                                      "--out", "o.csv", "--model", "als"])
    assert args.model == "als"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["recommend-offline", "--items", "i.csv", "--interactions", "t.csv", "--k", "5",
                                   "--out", "o.csv", "--model", "svd"])


def test_the_evaluation_measures_the_registered_models_and_the_hybrids_components():
    """No dataset settings: the evaluation fits what recommend-offline and the recommend flow fit."""
    assert set(EVALUATED) <= set(registry.names())
    assert set(COMPONENTS) == set(registry.make("hybrid").components) and set(COMPONENTS) <= set(EVALUATED)
