"""The four kinds of model backend: what each must do, what it returns, and what it can do before it is loaded.

A backend is a subclass of its kind's base below, registered by name with `reelmind.registry.register`, which
refuses a class that is not a subclass or leaves an abstract method unimplemented. The constructor takes the model
(an id or a local path, "" for the backend's default) and any options as arguments: backends never read settings.
Capabilities are class attributes, so a caller can ask what a backend does without loading its model
(`registry.backend_class("vision", name).embeds_text`). Every instance has a `model_id`, stored with the data it
produced so a table knows how it was made.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    language: str | None
    language_probability: float
    segments: tuple[Segment, ...] = field(default_factory=tuple)
    model_id: str = ""

    @property
    def text(self) -> str:
        joiner = "" if self.language in ("zh", "ja") else " "
        return joiner.join(s.text for s in self.segments).strip()


@dataclass(frozen=True)
class FrameVision:
    vectors: np.ndarray  # (n, dim) float32, L2-normalised
    labels: list[list[tuple[str, float]]]  # per frame, (label, probability), best first


@dataclass(frozen=True)
class Caption:
    text: str
    source: str


class Backend(ABC):
    # The model id of an instance made with no model given, where it is known without loading ("" where it is not).
    default_model_id: ClassVar[str] = ""
    model_id: str


class SpeechBackend(Backend):
    @abstractmethod
    def transcribe(self, samples: np.ndarray, languages: tuple[str, ...] = ()) -> Transcript:
        """Timed segments of 16 kHz mono `samples`; the language is the likeliest of `languages` (empty: any)."""


class VisionBackend(Backend):
    # Whether `embed_texts` puts text in the space of the frame vectors, so search can match pictures to words.
    embeds_text: ClassVar[bool] = False
    dim: int

    @abstractmethod
    def describe(self, images: list[np.ndarray]) -> FrameVision:
        """A vector and labels for each RGB uint8 image, of any size."""

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not embed text (embeds_text is False)")


class CaptionBackend(Backend):
    # The `caption_source` its captions carry, so a stored caption says what made it.
    source: ClassVar[str]

    @abstractmethod
    def caption(self, images: list[np.ndarray], labels: list[list[tuple[str, float]]],
                screen_text: list[list[str]]) -> list[Caption]:
        """A caption per image, given its visual labels and the lines of text read on it."""


class TextBackend(Backend):
    dim: int

    @abstractmethod
    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32 vectors of stored texts, L2-normalised."""

    @abstractmethod
    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32 vectors of search queries, L2-normalised, comparable with the passages'."""


BASES: dict[str, type[Backend]] = {"speech": SpeechBackend, "vision": VisionBackend, "caption": CaptionBackend,
                                   "text": TextBackend}
KINDS = tuple(BASES)
