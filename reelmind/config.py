"""One place that configures ReelMind: a settings file, `REELMIND_*` environment variables, then flags.

Precedence, lowest first: the defaults below, `reelmind.toml` (in the working directory, or the file named by
`REELMIND_CONFIG`), `REELMIND_<FIELD>` environment variables (upper-case field names), and finally explicit
overrides from the command line. Everything is a frozen dataclass so a flow run's configuration can be logged,
hashed and passed between processes.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_FILE_NAME = "reelmind.toml"
ENV_PREFIX = "REELMIND_"


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
    languages: tuple[str, ...] = ("en", "zh")
    # Picture sampling: a frame per shot, at least one every `frame_interval_s`, at most `max_frames` per video.
    max_frames: int = 16
    frame_interval_s: float = 10.0
    # PySceneDetect ContentDetector threshold (its default, 27, on HSV-difference scores from 0 to 255).
    shot_threshold: float = 27.0
    ocr: bool = True
    # Files processed at once. Models run one call at a time each, so 2 keeps both cores busy with different
    # stages (speech on one file while frames of another are described) without thrashing.
    workers: int = 2
    # Where ingest tasks run: "threads" (this process) or "dask" (a Dask cluster: the scheduler at `dask_address`,
    # or, with no address, a local cluster of `workers` processes).
    task_runner: str = "threads"
    dask_address: str = ""
    # After ingests, recommendations are refreshed once, this many seconds after the first one finishes.
    recommend_delay_s: float = 60.0
    # A file modified this recently is checked again after this many seconds to see whether it is still growing.
    settle_s: float = 2.0

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
        changes = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **{k: _coerce(self, k, v) for k, v in changes.items()})


def _coerce(settings: Settings, name: str, value: Any) -> Any:
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    if name not in fields:
        raise ValueError(f"unknown setting {name!r}; known: {', '.join(sorted(fields))}")
    default = getattr(Settings(), name)
    if isinstance(default, bool):
        if isinstance(value, str):
            return value.strip().lower() in {"1", "true", "yes", "on"}
        return bool(value)
    if isinstance(default, tuple):
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return tuple(value)
    return type(default)(value)


def load_settings(config_file: str | os.PathLike | None = None, env: dict[str, str] | None = None,
                  **overrides: Any) -> Settings:
    """Settings from defaults, the settings file, `REELMIND_*` variables and `overrides`, in that order."""
    env = dict(os.environ if env is None else env)
    settings = Settings()
    path = Path(config_file or env.get(ENV_PREFIX + "CONFIG") or CONFIG_FILE_NAME)
    if path.is_file():
        with path.open("rb") as f:
            data = tomllib.load(f)
        settings = settings.replace(**data.get("reelmind", data))
    from_env = {f.name: env[ENV_PREFIX + f.name.upper()] for f in dataclasses.fields(Settings)
                if ENV_PREFIX + f.name.upper() in env}
    return settings.replace(**from_env).replace(**overrides)
