"""Speech to text on real clips, with both Whisper backends and the offline weights."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict

import jiwer
import pytest

from reelmind import registry
from reelmind.audio import extract_audio, load_wav
from reelmind.config import load_settings

from helpers import shared_media

JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


def wer(reference: str, hypothesis: str) -> float:
    from whisper.normalizers import EnglishTextNormalizer

    normalise = EnglishTextNormalizer()
    return jiwer.wer(normalise(reference), normalise(hypothesis))


def whisper(backend: str, model: str = ""):
    return registry.load("speech", backend, model, cache_dir=load_settings().cache_dir)


def samples_of(name: str, tmp_path):
    return load_wav(extract_audio(shared_media(name), tmp_path / "audio.wav"))


@pytest.mark.slow  # the shared real media
@pytest.mark.parametrize("backend", ["faster-whisper", "openai-whisper"])
def test_jfk_word_error_rate(backend, tmp_path):
    transcript = whisper(backend).transcribe(samples_of("jfk.flac", tmp_path), languages=("en", "zh"))
    assert transcript.language == "en"
    assert wer(JFK, transcript.text) <= 0.10, transcript.text
    starts = [s.start for s in transcript.segments]
    assert starts == sorted(starts) and transcript.segments[-1].end <= 11.5


@pytest.mark.slow  # the shared real media
def test_long_speech_is_decoded_in_chunks_with_sentence_sized_moments(tmp_path):
    import numpy as np

    from reelmind.speech import WINDOW_S

    jfk = samples_of("jfk.flac", tmp_path)
    repeats = 8  # 88 s, about 64 s of speech: three chunks
    transcript = whisper("faster-whisper").transcribe(np.concatenate([jfk] * repeats), languages=("en", "zh"))
    assert transcript.language == "en"
    assert wer(" ".join([JFK] * repeats), transcript.text) <= 0.10, transcript.text
    starts = [s.start for s in transcript.segments]
    assert starts == sorted(starts) and transcript.segments[-1].end <= 11.5 * repeats
    assert len(transcript.segments) >= repeats and max(s.end - s.start for s in transcript.segments) <= WINDOW_S + 0.5


@pytest.mark.slow  # the shared real media
def test_files_transcribed_at_once_share_the_model_copies_and_get_their_own_transcripts(tmp_path):
    """Concurrent callers (the ingest flow's files in flight) queue their chunks for the same copies of the model,
    each file in its own language, with the transcripts they get alone."""
    from reelmind.speech import ChunkDecoder

    model = whisper("faster-whisper")
    clips = {"jfk.flac": "en", "chinese_zijide_jiao.flac": "zh", "multilingual.mp3": None}
    samples = {name: samples_of(name, tmp_path / name.split(".")[0]) for name in clips}
    samples["multilingual.mp3"] = samples["multilingual.mp3"][:16000 * 40]
    alone = {name: model.transcribe(audio, languages=("en", "zh")) for name, audio in samples.items()}

    model.chunks = ChunkDecoder(model.model, replicas=2)
    decoded = []  # the copy (its worker thread) that took each chunk
    decode = model.chunks._decode_batch
    model.chunks._decode_batch = lambda chunks: decoded.append(threading.current_thread().name) or decode(chunks)
    with ThreadPoolExecutor(len(samples)) as pool:
        together = dict(zip(samples, pool.map(lambda a: model.transcribe(a, languages=("en", "zh")),
                                              samples.values())))
    assert set(decoded) == {"whisper-0", "whisper-1"}, decoded
    for name, language in clips.items():
        assert together[name].language == alone[name].language
        if language:
            assert together[name].language == language
        assert together[name].text == alone[name].text, name


@pytest.mark.slow  # the shared real media
def test_a_files_chunks_spread_over_the_model_copies_decode_as_on_one(tmp_path):
    """A file's chunks go to whichever copy of the model is free; the language read from its first chunk on one
    copy is the one its later chunks on the other are decoded in, so the transcript is the one a single copy
    gives."""
    import numpy as np

    from reelmind.speech import ChunkDecoder, speech_regions

    model = whisper("faster-whisper")
    samples = np.concatenate([samples_of("jfk.flac", tmp_path)] * 8)  # three chunks
    regions = speech_regions(samples)
    shared = ChunkDecoder(model.model, replicas=2)
    copies = []
    generate = shared._generate
    shared._generate = lambda chunks, encoded: copies.append(threading.current_thread().name) or \
        generate(chunks, encoded)
    split = shared.transcribe(samples, regions, ("en", "zh"))
    whole = ChunkDecoder(model.model, replicas=1).transcribe(samples, regions, ("en", "zh"))
    assert set(copies) == {"whisper-0", "whisper-1"} and split[0] == "en", (copies, split[0])
    assert split == whole


def test_a_chunk_that_fails_fails_its_own_file_only_and_the_decoder_goes_on():
    """The copies' workers outlive a bad chunk: its file gets the error, the other file its transcript, and the
    next file is decoded."""
    import numpy as np

    from reelmind.speech import ChunkDecoder

    class Model:  # stands in for faster-whisper's model: the decoder's own logic is under test
        pass

    decoder = ChunkDecoder(Model(), replicas=2)

    def decode_batch(chunks):
        out = []
        for chunk in chunks:
            if np.isnan(chunk.audio).any():
                raise ValueError("bad samples")
            chunk.file.language = "en"
            chunk.file.known.set()
            out.append(([(0.0, chunk.duration_s, f"said at {chunk.offset_s:.0f}")], None))
        return out

    decoder._decode_batch = decode_batch
    good, bad = np.zeros(16000 * 50, np.float32), np.full(16000 * 50, np.nan, np.float32)
    regions = [(0.0, 25.0), (26.0, 50.0)]
    with ThreadPoolExecutor(2) as pool:
        outcomes = [pool.submit(decoder.transcribe, audio, regions) for audio in (bad, good)]
    with pytest.raises(ValueError, match="bad samples"):
        outcomes[0].result()
    assert [text for _s, _e, text in outcomes[1].result()[2]] == ["said at 0", "said at 25"]
    assert decoder.transcribe(good, regions)[0] == "en"


def test_a_window_that_stops_early_is_decoded_again_from_its_last_timestamp():
    from reelmind.speech import timed_pieces

    ts = 1000  # the first timestamp token: <|0.00|>; one step is 0.02 s

    def t(seconds):
        return ts + int(round(seconds / 0.02))

    said_all = [t(0), 1, 2, t(4), t(4), 3, t(9)]
    assert timed_pieces(said_all, ts, 0.02, 20.0) == ([(0.0, 4.0, [1, 2]), (4.0, 9.0, [3])], None)
    stopped = [t(0), 1, 2, t(17), t(17)]  # 3 s of audio after 17 s left unsaid
    assert timed_pieces(stopped, ts, 0.02, 20.0) == ([(0.0, 17.0, [1, 2])], 17.0)
    open_piece = [t(0), 1, t(10), t(10), 2, 3]  # cut off mid-sentence: decoded again from 10 s
    assert timed_pieces(open_piece, ts, 0.02, 20.0) == ([(0.0, 10.0, [1])], 10.0)
    open_at_the_end = [t(0), 1, t(19.8), t(19.8), 2]  # too little audio left for a window of its own: kept
    assert timed_pieces(open_at_the_end, ts, 0.02, 20.0) == ([(0.0, 19.8, [1]), (19.8, 20.0, [2])], None)


@pytest.mark.slow  # the shared real media
def test_music_gives_no_text(tmp_path):
    """Big Buck Bunny's opening is music and effects: voice-activity detection keeps Whisper from inventing lines."""
    samples = samples_of("big_buck_bunny_0_30.webm", tmp_path)
    transcript = whisper("faster-whisper").transcribe(samples, languages=("en", "zh"))
    assert transcript.segments == () and transcript.language is None


@pytest.mark.slow  # the shared real media
def test_mandarin_is_detected_and_simplified(tmp_path):
    samples = samples_of("chinese_zijide_jiao.flac", tmp_path)
    transcript = whisper("faster-whisper").transcribe(samples, languages=("en", "zh"))
    assert transcript.language == "zh"
    assert "自己的脚" in transcript.text  # reference: 砸自己的脚


@pytest.mark.slow  # the shared real media
def test_users_own_openai_whisper_checkpoint_loads(tmp_path):
    """A user's model path goes through the production loader: a tiny random Whisper built and saved here."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    dims = ModelDimensions(n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=2, n_audio_layer=1,
                           n_vocab=51865, n_text_ctx=448, n_text_state=64, n_text_head=2, n_text_layer=1)
    torch.manual_seed(0)
    path = tmp_path / "tiny-whisper.pt"
    model = Whisper(dims)
    # Whisper leaves the decoder's positional table as torch.empty (a checkpoint always fills it); uninitialised
    # memory made this test's probabilities NaN now and then.
    torch.nn.init.normal_(model.decoder.positional_embedding, std=0.02)
    torch.save({"dims": asdict(dims), "model_state_dict": model.state_dict()}, path)

    backend = whisper("openai-whisper", str(path))
    assert backend.model_id == f"openai-whisper:{path}"
    assert backend.model.dims.n_audio_state == 64
    probs = backend._language_probs(samples_of("jfk.flac", tmp_path)[:16000 * 5])
    assert "en" in probs and abs(sum(probs.values()) - 1.0) < 1e-3


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="no speech backend named 'nope'"):
        registry.load("speech", "nope")
