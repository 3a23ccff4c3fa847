"""The deployments are declared twice by necessity (prefect.yaml for `prefect deploy`, flows/service.py for
`reelmind serve`): these checks keep the two in agreement."""

from __future__ import annotations

import yaml

from flows.service import EVALUATE_CRON, INGEST_CONCURRENCY, RECOMMEND_CRON, UPLOAD_EVENT, UPLOAD_PARAMETERS

from helpers import REPO


def _declared() -> dict[str, dict]:
    return {d["name"]: d for d in yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]}


def test_schedules_agree():
    declared = _declared()
    assert [s["cron"] for s in declared["recommend"]["schedules"]] == [RECOMMEND_CRON]
    assert [s["cron"] for s in declared["evaluate"]["schedules"]] == [EVALUATE_CRON]


def test_the_upload_trigger_agrees():
    [trigger] = _declared()["ingest"]["triggers"]
    assert trigger["expect"] == [UPLOAD_EVENT]
    assert trigger["parameters"] == UPLOAD_PARAMETERS
    assert _declared()["ingest"]["concurrency_limit"] == INGEST_CONCURRENCY


def test_entrypoints_exist():
    import importlib

    for name, deployment in _declared().items():
        module, _, function = deployment["entrypoint"].partition(":")
        flow = getattr(importlib.import_module(module.removesuffix(".py").replace("/", ".")), function)
        assert flow.name == name
