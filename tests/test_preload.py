"""Models are loaded in the background while Prefect starts, once: the stages then find them loaded."""

from __future__ import annotations

import time

import pytest

from reelmind import pipeline, registry

from helpers import settings_for


@pytest.mark.slow  # loads every model (about 5 s)
def test_preloading_loads_each_configured_model_once(tmp_path):
    settings = settings_for(str(tmp_path / "lancedb"))
    pipeline.start_preloading(settings).join(timeout=120)
    loaded = {kind: pipeline.backend(kind, settings) for kind in registry.KINDS}
    started = time.perf_counter()
    again = {kind: pipeline.backend(kind, settings) for kind in registry.KINDS}
    assert again == loaded and time.perf_counter() - started < 0.05  # the same instances, nothing loaded again


def test_a_model_that_cannot_load_is_left_to_the_stage_that_needs_it(tmp_path):
    settings = settings_for(str(tmp_path / "lancedb"), text_backend="sentence-transformers",
                            text_model=str(tmp_path / "missing-model"))
    pipeline.preload_models(settings)  # no exception here: the store stage reports it with its file
