"""Speech to text on real clips, with both Whisper backends and the offline weights."""

from __future__ import annotations

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
def test_long_speech_is_decoded_in_batches_with_sentence_sized_moments(tmp_path, monkeypatch):
    import numpy as np

    from reelmind.speech import BATCH_MIN_SPEECH_S

    model = whisper("faster-whisper")
    calls = []
    batched = model.batched.transcribe
    monkeypatch.setattr(model.batched, "transcribe", lambda *a, **k: calls.append(k["batch_size"]) or batched(*a, **k))
    jfk = samples_of("jfk.flac", tmp_path)
    repeats = int(BATCH_MIN_SPEECH_S // 8) + 1  # about 8 s of the 11 are speech
    transcript = model.transcribe(np.concatenate([jfk] * repeats), languages=("en", "zh"))
    assert calls, "the batched pipeline was not used"
    assert wer(" ".join([JFK] * repeats), transcript.text) <= 0.10, transcript.text
    starts = [s.start for s in transcript.segments]
    assert starts == sorted(starts) and transcript.segments[-1].end <= 11.5 * repeats
    assert len(transcript.segments) >= repeats and max(s.end - s.start for s in transcript.segments) <= 30.5


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
