"""prefect.yaml (a county's work pool) and flows/deployments.py (``sanqing serve``) declare
the same deployments: same names, same entrypoints, same flows."""

from __future__ import annotations

import yaml

from flows.county_pool import BATCH_DEPLOYMENT
from flows.deployments import deployments
from sanqing.settings import REPO_ROOT


def declared() -> dict[str, str]:
    doc = yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    return {d["name"]: d["entrypoint"] for d in doc["deployments"]}


def test_prefect_yaml_and_the_served_deployments_are_the_same() -> None:
    served = {d.name: d.entrypoint for d in deployments()}
    assert declared() == served
    flows = {f"{d.flow_name}/{d.name}" for d in deployments()}
    assert BATCH_DEPLOYMENT in flows


def test_every_deployment_of_prefect_yaml_is_on_the_sanqing_pool() -> None:
    doc = yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    assert {d["work_pool"]["name"] for d in doc["deployments"]} == {"sanqing"}
