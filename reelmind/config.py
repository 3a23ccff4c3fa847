"""One place that configures ReelMind: a settings file, `REELMIND_*` environment variables, then flags.

Precedence, lowest first: the defaults below, `reelmind.toml` (in the working directory, or the file named by
`REELMIND_CONFIG`), `REELMIND_<FIELD>` environment variables (upper-case field names), and finally explicit
overrides from the command line. Everything is a frozen dataclass so a flow run's configuration can be logged,
hashed and passed between processes.

Each setting declares what a good value is (`setting(default, check)`); a bad value, or an unknown key in the file,
is refused with one line naming the setting and where the value came from, e.g.
`REELMIND_WORKERS=abc: workers must be an integer >= 1`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reelmind.errors import ReelMindError

CONFIG_FILE_NAME = "reelmind.toml"
ENV_PREFIX = "REELMIND_"
CONFIG_ENV = ENV_PREFIX + "CONFIG"
# The settings file may hold them at the top level or under this table.
FILE_TABLE = "reelmind"
# Whisper's language codes: two letters (ISO 639-1) or three where there is none (e.g. "haw", "yue").
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")
TRUE_WORDS, FALSE_WORDS = frozenset({"1", "true", "yes", "on"}), frozenset({"0", "false", "no", "off"})
# How each type of setting is named in a message ("workers must be an integer >= 1").
KIND_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string", tuple: "a list"}
_CHECK = "check"


class SettingsError(ReelMindError, ValueError):
    """A setting with a bad value, an unknown setting, or a settings file that cannot be read: one line."""


@dataclass(frozen=True)
class Check:
    """What a setting's value must be: `rule` says it after "must be" (`{kind}` is the type's words)."""
    rule: str
    ok: Callable[[Any], bool]


def at_least(low: float) -> Check:
    return Check(f"{{kind}} >= {low}", lambda v: v >= low)


def above(low: float) -> Check:
    return Check(f"{{kind}} > {low}", lambda v: v > low)


def one_of(*choices: str) -> Check:
    return Check(f"one of {', '.join(choices)}", lambda v: v in choices)


LANGUAGE_CODES = Check("{kind} of language codes such as en, zh (2 or 3 lower-case letters)",
                       lambda v: all(LANGUAGE_CODE.fullmatch(code) for code in v))


def setting(default: Any, check: Check | None = None) -> Any:
    """A field whose values are checked by `check` (the type is always checked)."""
    return field(default=default, metadata={_CHECK: check} if check else {})


@dataclass(frozen=True)
class Settings:
    # Storage: any LanceDB URI (a folder, or object storage such as s3://bucket/path).
    db: str = "./data/lancedb"
    # Local folder for thumbnails (kept) and per-video working files (removed after a file is stored).
    # Empty: a `data` folder beside a local database, `./data` for object storage.
    data_dir: str = ""
    # Converted and joined model files (the bundled Whisper weights are assembled here on first use).
    cache_dir: str = str(Path.home() / ".cache" / "reelmind")

    # Backends are registered by name (reelmind.registry); `*_model` is a model id or local path, "" = default.
    speech_backend: str = "faster-whisper"
    speech_model: str = ""
    vision_backend: str = "efficientnet-lite0"
    vision_model: str = ""
    caption_backend: str = "labels"
    caption_model: str = ""
    text_backend: str = "multilingual-e5-small"
    text_model: str = ""

    # Languages the platform carries; spoken-language detection picks the likeliest of these. Empty: any.
    # Why: Whisper base mistakes robotic or very short Mandarin for Thai or Korean; a platform knows its languages.
    languages: tuple[str, ...] = setting(("en", "zh"), LANGUAGE_CODES)
    # Largest inputs accepted; a file past them is refused at probe with one line, before any model runs. 4 hours
    # holds a long podcast or a feature film; a file claiming more is more likely broken or hostile (a 32 KB file
    # claiming 5 hours took 100 s and 4.4 GB). 4K UHD is the largest picture platforms serve.
    max_duration_s: float = setting(4 * 3600.0, above(0))
    max_pixels: int = setting(3840 * 2160, at_least(1))
    # Time limit of each model stage of a file (audio, speech, frames, vision), growing with its duration:
    # stage_timeout_s + stage_timeout_per_media_s * duration. Whisper base on CPU runs 5-8x faster than real time
    # here, so twice real time leaves 10x slack for a slower or busier machine; the fixed part covers model loading
    # and short files. Past it the file fails with a one-line reason and the batch goes on.
    stage_timeout_s: float = setting(300.0, above(0))
    stage_timeout_per_media_s: float = setting(2.0, at_least(0))
    # Picture sampling: a frame per shot, at least one every `frame_interval_s`, at most `max_frames` per video.
    max_frames: int = setting(16, at_least(1))
    # Why > 0: sampling steps through each shot by this interval; 0 would never reach the shot's end.
    frame_interval_s: float = setting(10.0, above(0))
    # PySceneDetect ContentDetector threshold (its default, 27, on HSV-difference scores from 0 to 255).
    shot_threshold: float = setting(27.0, above(0))
    ocr: bool = True
    # Files processed at once. Models run one call at a time each, so 2 keeps both cores busy with different
    # stages (speech on one file while frames of another are described) without thrashing.
    workers: int = setting(2, at_least(1))
    # Where ingest tasks and the recommend flow's slices of users run: "threads" (this process) or "dask" (a Dask
    # cluster: the scheduler at `dask_address`, or, with no address, a local cluster of `workers` processes).
    task_runner: str = setting("threads", one_of("threads", "dask"))
    dask_address: str = ""
    # After ingests, recommendations are refreshed once, this many seconds after the first one finishes.
    recommend_delay_s: float = setting(60.0, at_least(0))
    # A file modified this recently is checked again after this many seconds to see whether it is still growing.
    settle_s: float = setting(2.0, at_least(0))
    # Privacy: with this on, every user id entering ReelMind (events, recommend --user, forget-user) is stored as
    # a keyed hash of it (reelmind.privacy.store_user_id), so the database never holds the raw id.
    pseudonymise_user_ids: bool = False
    # That hash's key, e.g. from REELMIND_USER_ID_KEY: a secret, so kept out of reprs (and logs), and checked where
    # it is used, whose message does not echo it. A new key orphans every stored id.
    user_id_key: str = field(default="", repr=False)
    # The HTTP API's key (REELMIND_API_KEY; reelmind.api): when set, every route but /health needs it. A secret,
    # kept out of reprs like user_id_key. Empty: no key (the API binds to loopback by default).
    api_key: str = field(default="", repr=False)

    def resolved_data_dir(self) -> Path:
        if self.data_dir:
            return Path(self.data_dir)
        if "://" in self.db:
            return Path("data")
        return Path(self.db).parent

    @property
    def thumbnails_dir(self) -> Path:
        return self.resolved_data_dir() / "thumbnails"

    @property
    def work_dir(self) -> Path:
        return self.resolved_data_dir() / "work"

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes` (strings are parsed as the environment's are); a bad value is a SettingsError."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return self._with({k: (v, f"{k}={v!r}") for k, v in changes.items()})

    def _with(self, values: dict[str, tuple[Any, str]]) -> Settings:
        """A copy with each setting's (value, where it came from: named in the message if it is bad)."""
        return dataclasses.replace(self, **{name: _coerce(name, value, source)
                                            for name, (value, source) in values.items()})


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _coerce(name: str, value: Any, source: str) -> Any:
    """`value` as the setting's type, checked; a string is parsed (the environment's values are all strings)."""
    if name not in _FIELDS:
        raise SettingsError(f"unknown setting {name!r}; known: {', '.join(sorted(_FIELDS))}")
    kind = type(_FIELDS[name].default)
    check = _FIELDS[name].metadata.get(_CHECK)
    try:
        parsed = PARSERS[kind](value)
        good = check is None or check.ok(parsed)
    except (TypeError, ValueError):
        good = False
    if not good:
        rule = (check.rule if check else "{kind}").format(kind=KIND_WORDS[kind])
        raise SettingsError(f"{source}: {name} must be {rule}")
    return parsed


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if isinstance(value, str) and word in TRUE_WORDS | FALSE_WORDS:
        return word in TRUE_WORDS
    raise ValueError(value)


def _number(value: Any) -> float:
    """A finite number from a number or its text; a boolean is not one (TOML's `true` is no worker count)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(value)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def _parse_int(value: Any) -> int:
    number = _number(value)
    if not number.is_integer():  # 2.5 workers is a mistake to report, not to truncate
        raise ValueError(value)
    return int(number)


def _parse_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(value)
    return value


def _parse_list(value: Any) -> tuple[str, ...]:
    """A comma-separated string (the environment's form) or a list of strings (the file's)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    if not all(isinstance(v, str) for v in items):
        raise ValueError(value)
    return tuple(v.strip() for v in items if v.strip())


PARSERS: dict[type, Callable[[Any], Any]] = {bool: _parse_bool, int: _parse_int, float: _number, str: _parse_str,
                                             tuple: _parse_list}


def _config_path(config_file: str | os.PathLike | None, env: dict[str, str]) -> Path | None:
    """The settings file to read: one named explicitly must exist; the default one may be absent."""
    if config_file:
        named, source = Path(config_file), str(config_file)
    elif env.get(CONFIG_ENV):
        named, source = Path(env[CONFIG_ENV]), f"{CONFIG_ENV}={env[CONFIG_ENV]}"
    else:
        default = Path(CONFIG_FILE_NAME)
        return default if default.is_file() else None
    if not named.is_file():
        raise SettingsError(f"{source}: no such file" if not named.exists() else f"{source}: not a file")
    return named


def _file_values(path: Path) -> dict[str, tuple[Any, str]]:
    """The file's settings, each with where it came from; an unknown key is refused, naming it and the file."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise SettingsError(f"{path}: cannot be read ({exc.strerror})") from None
    # With a [reelmind] table, the settings are in it and any other top-level key is a mistake.
    values, others = (data.pop(FILE_TABLE), data) if isinstance(data.get(FILE_TABLE), dict) else (data, {})
    unknown = sorted((set(values) - set(_FIELDS)) | set(others))
    if unknown:
        raise SettingsError(f"{path}: unknown setting {unknown[0]!r}; known: {', '.join(sorted(_FIELDS))}")
    return {name: (value, f"{path}: {name} = {_toml_repr(value)}") for name, value in values.items()}


def _toml_repr(value: Any) -> str:
    """A value as the file spells it (JSON writes TOML's strings, numbers, booleans and arrays the same way)."""
    return json.dumps(value, ensure_ascii=False, default=str)


def load_settings(config_file: str | os.PathLike | None = None, env: dict[str, str] | None = None,
                  **overrides: Any) -> Settings:
    """Settings from defaults, the settings file, `REELMIND_*` variables and `overrides`, in that order."""
    env = dict(os.environ if env is None else env)
    settings = Settings()
    path = _config_path(config_file, env)
    if path is not None:
        settings = settings._with(_file_values(path))
    from_env = {name: (env[var], f"{var}={env[var]}") for name in _FIELDS
                if (var := ENV_PREFIX + name.upper()) in env}
    return settings._with(from_env).replace(**overrides)
