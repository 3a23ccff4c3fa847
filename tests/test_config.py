"""Settings: bad values and unknown keys are refused in one line that names the setting and where it came from."""

from __future__ import annotations

import pytest

from reelmind.cli import main
from reelmind.config import Settings, SettingsError, load_settings
from reelmind.frames import choose_times


def _load(tmp_path, env: dict[str, str] | None = None, toml: str | None = None, **overrides) -> Settings:
    """Settings from only what the test gives: no real environment, no reelmind.toml from the working directory."""
    config = tmp_path / "reelmind.toml"
    if toml is not None:
        config.write_text(toml)
    return load_settings(env={"REELMIND_CONFIG": str(config), **(env or {})} if toml is not None else env or {},
                         **overrides)


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("WORKERS", "abc", "workers must be an integer >= 1"),
    ("WORKERS", "0", "workers must be an integer >= 1"),
    ("WORKERS", "-2", "workers must be an integer >= 1"),
    ("WORKERS", "1.5", "workers must be an integer >= 1"),
    ("MAX_FRAMES", "0", "max_frames must be an integer >= 1"),
    ("FRAME_INTERVAL_S", "0", "frame_interval_s must be a number > 0"),
    ("FRAME_INTERVAL_S", "-1", "frame_interval_s must be a number > 0"),
    ("FRAME_INTERVAL_S", "nan", "frame_interval_s must be a number > 0"),
    ("FRAME_INTERVAL_S", "inf", "frame_interval_s must be a number > 0"),
    ("SHOT_THRESHOLD", "0", "shot_threshold must be a number > 0"),
    ("RECOMMEND_DELAY_S", "-1", "recommend_delay_s must be a number >= 0"),
    ("SETTLE_S", "soon", "settle_s must be a number >= 0"),
    ("TASK_RUNNER", "processes", "task_runner must be one of threads, dask"),
    ("OCR", "maybe", "ocr must be true or false"),
    ("LANGUAGES", "en,English", "languages must be a list of language codes"),
])
def test_a_bad_environment_value_names_the_variable_and_the_rule(tmp_path, name, value, expected):
    with pytest.raises(SettingsError) as caught:
        _load(tmp_path, env={f"REELMIND_{name}": value})
    message = str(caught.value)
    assert message.startswith(f"REELMIND_{name}={value}: {expected}"), message
    assert "\n" not in message


def test_good_environment_values_are_read(tmp_path):
    settings = _load(tmp_path, env={"REELMIND_WORKERS": "3", "REELMIND_FRAME_INTERVAL_S": "0.5", "REELMIND_OCR": "off",
                                    "REELMIND_LANGUAGES": "en, zh, yue", "REELMIND_RECOMMEND_DELAY_S": "0"})
    assert (settings.workers, settings.frame_interval_s, settings.ocr) == (3, 0.5, False)
    assert settings.languages == ("en", "zh", "yue") and settings.recommend_delay_s == 0.0


def test_a_bad_file_value_names_the_file_and_the_key(tmp_path):
    for toml, expected in [("[reelmind]\nworkers = 0\n", "workers = 0: workers must be an integer >= 1"),
                           ("max_frames = 2.5\n", "max_frames = 2.5: max_frames must be an integer >= 1"),
                           ("[reelmind]\nworkers = true\n", "workers = true: workers must be an integer >= 1"),
                           ("[reelmind]\ndb = 5\n", "db = 5: db must be a string"),
                           ('[reelmind]\nlanguages = ["en", 3]\n', "languages must be a list of language codes")]:
        with pytest.raises(SettingsError) as caught:
            _load(tmp_path, toml=toml)
        assert str(caught.value).startswith(f"{tmp_path / 'reelmind.toml'}: "), str(caught.value)
        assert expected in str(caught.value)


def test_unknown_keys_in_the_file_are_refused(tmp_path):
    with pytest.raises(SettingsError, match=r"reelmind\.toml: unknown setting 'wrokers'; known: api_key, cache_dir, "):
        _load(tmp_path, toml="[reelmind]\nwrokers = 4\n")
    with pytest.raises(SettingsError, match=r"reelmind\.toml: unknown setting 'extra'"):
        _load(tmp_path, toml="extra = 1\n[reelmind]\nworkers = 4\n")


def test_invalid_toml_names_the_file(tmp_path):
    with pytest.raises(SettingsError, match=r"reelmind\.toml: not valid TOML \("):
        _load(tmp_path, toml="[reelmind\nworkers = 4\n")


def test_a_missing_config_file_named_by_the_environment_is_an_error(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(SettingsError, match=f"^REELMIND_CONFIG={missing}: no such file$"):
        load_settings(env={"REELMIND_CONFIG": str(missing)})
    monkeypatch.chdir(tmp_path)  # no reelmind.toml here: the defaults, quietly
    assert load_settings(env={}) == Settings()


def test_overrides_are_checked_too(tmp_path):
    with pytest.raises(SettingsError, match=r"^workers=0: workers must be an integer >= 1$"):
        _load(tmp_path, workers=0)
    with pytest.raises(SettingsError, match=r"^unknown setting 'wrokers'"):
        Settings().replace(wrokers=3)
    assert Settings().replace(workers="4").workers == 4


def test_the_cli_prints_one_line_and_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REELMIND_FRAME_INTERVAL_S", "0")
    assert main(["videos", "--db", str(tmp_path / "db")]) == 2
    assert capsys.readouterr().err == "error: REELMIND_FRAME_INTERVAL_S=0: frame_interval_s must be a number > 0\n"


@pytest.mark.parametrize("interval", [0.0, -1.0, float("nan")])
def test_frame_sampling_refuses_an_interval_that_would_never_advance(interval):
    with pytest.raises(ValueError, match="frame interval must be a number of seconds > 0"):
        choose_times(60.0, [0.0], interval, 16)


def test_a_bad_flag_value_is_refused_the_same_way(tmp_path, capsys):
    assert main(["watch", str(tmp_path), "--settle", "-1", "--db", str(tmp_path / "db")]) == 2
    assert capsys.readouterr().err == "error: settle_s=-1.0: settle_s must be a number >= 0\n"
