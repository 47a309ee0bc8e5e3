"""The flood plan for a whole county: every town's response as a subflow of one flow run,
or, with a Prefect server whose ``county-batch`` deployment is on a work pool, in batches of
towns as runs on the pool's workers (``flows.county_pool``)."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.logging import get_run_logger
from prefect.runtime import flow_run

from flows import county_pool
from flows.control import UNATTENDED, VILLAGE_TASKS, can_answer
from flows.flood_response import flood_response
from flows.params import (
    LevelOrWarning,
    drill_field,
    level_field,
    locale_field,
    plan_field,
    required,
    titled,
    warning_field,
)
from sanqing.response import COUNTY_VILLAGE_TASKS
from sanqing.warning import WarningInfo

#: Towns responding at the same time. Town work is mostly Python in one process (the
#: GIL): on 2 cores, 20 towns at once took ~50 s where 2 or 4 at once took ~40 s.
DEFAULT_CONCURRENT_TOWNS = 4


def concurrent_towns_field() -> Any:
    return titled(DEFAULT_CONCURRENT_TOWNS, "同时运行乡镇数", "本机同时运行的乡镇数", ge=1)


def _run_name() -> str:
    p = flow_run.parameters
    level = getattr(p.get("level"), "value", p.get("level")) or "auto"
    prefix = "drill" if p.get("drill") else "flood"
    return f"{prefix}-county-{level}-{len(p.get('towns') or [])}-towns"


@flow(name="county-response", flow_run_name=_run_name, log_prints=False)
def county_response(
    towns: list[str] = required("乡镇", "参加响应的乡镇（名称、区划代码或目录名）", min_length=1),
    level: LevelOrWarning = level_field(),
    warning: WarningInfo | None = warning_field(),
    drill: bool = drill_field(),
    locale: str = locale_field(),
    plan: str = plan_field(),
    max_concurrent_towns: int = concurrent_towns_field(),
    on_workers: bool = titled(True, "在工作节点运行", "有工作节点时各乡镇在工作节点上运行"),
) -> dict[str, Any]:
    """全县防汛应急响应：各乡镇同时启动本镇防汛预案。

    For the county duty officer (县防汛办): starts the flood plan of every
    listed town at once, at the given level or the level the plan gives the
    warning. Each town appears below this run as its own flood-response run
    (activation, inspections, relocations, notices, roads, report upward).
    A town that fails does not hold up the others: the result lists, per
    town, its figures or its error, and `failed` names the towns to follow
    up by telephone. Running it again for the same warning changes nothing.
    With a work pool (``county-batch`` deployed, workers online), the towns run
    in batches on the workers, one batch per worker; `on_workers` off keeps
    them in this process.
    """
    if not towns:
        raise ValueError("name at least one town")
    workers = county_pool.pool_workers() if on_workers else None
    if workers is not None:  # a server with the county-batch deployment on a work pool
        parameters = {
            "level": getattr(level, "value", level),
            "warning": warning.model_dump(mode="json") if warning else None,
            "drill": drill,
            "locale": locale,
            "plan": plan,
            "max_concurrent_towns": max_concurrent_towns,
            "attended": can_answer(),  # the towns answer to whoever this run answers to
        }
        key = county_pool.county_key(level, warning, drill, plan)
        by_town = county_pool.respond_on_workers(towns, max(1, workers), parameters, key)
    else:
        run = partial(
            flood_response, level=level, warning=warning, drill=drill, locale=locale, plan=plan
        )
        by_town = respond_in_parallel(towns, run, max_concurrent_towns)
    return county_figures(towns, by_town)


def county_figures(towns: list[str], by_town: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The county's sums over the towns that responded; the failed towns named."""
    failed = [town for town, r in by_town.items() if not r["ok"]]
    if failed:
        get_run_logger().error("%d of %d towns failed: %s", len(failed), len(towns), failed)
    # (a town whose warning was cancelled meanwhile opened nothing: no figures to add)
    ok = [r["figures"] for r in by_town.values() if r["ok"] and r["figures"].get("activation_id")]
    return {
        "towns": by_town,
        "failed": failed,
        "households_to_relocate": sum(f["households_to_relocate"] for f in ok),
        "people_to_relocate": sum(f["people_to_relocate"] for f in ok),
        "notices": sum(sum(f["notices_by_channel"].values()) for f in ok),
    }


def _batch_name() -> str:
    p = flow_run.parameters
    return f"county-batch-{len(p.get('towns') or [])}-towns"


@flow(name="county-batch", flow_run_name=_batch_name, log_prints=False)
def county_batch(
    towns: list[str] = required("乡镇", "本批乡镇（由全县响应填写）", min_length=1),
    level: LevelOrWarning = level_field(),
    warning: WarningInfo | None = warning_field(),
    drill: bool = drill_field(),
    locale: str = locale_field(),
    plan: str = plan_field(),
    max_concurrent_towns: int = concurrent_towns_field(),
    attended: bool = titled(True, "有人值守", "全县响应有人值守时，各乡镇等待审批和点名"),
) -> dict[str, dict[str, Any]]:
    """一批乡镇的防汛应急响应（全县响应在工作节点上运行时的一批）。

    Started by the county flow on a work pool: runs these towns' flood plans as
    subflows of this run, a few at once, and publishes each town's figures or
    error as an artifact the county flow reads back. `attended` off: the county
    run has no control room behind it, so the towns wait for no answer either.
    """
    run = partial(
        flood_response, level=level, warning=warning, drill=drill, locale=locale, plan=plan
    )
    token = UNATTENDED.set(not attended)
    try:
        by_town = respond_in_parallel(towns, run, max_concurrent_towns)
    finally:
        UNATTENDED.reset(token)
    create_markdown_artifact(
        markdown=county_pool.figures_markdown(by_town),
        description=county_pool.FIGURES_ARTIFACT,
    )
    return by_town


def respond_in_parallel(
    towns: list[str], run: Callable[..., Any], max_concurrent_towns: int
) -> dict[str, dict[str, Any]]:
    """Each town's response as a subflow of this run, several at once; per town its
    figures or its error (one town's failure is reported, not propagated). A town's
    village steps run as one task each (``COUNTY_VILLAGE_TASKS``)."""
    # Each thread runs its town as a subflow of this run: it needs this run's context.
    workers = max(1, min(max_concurrent_towns, len(towns)))
    token = VILLAGE_TASKS.set(COUNTY_VILLAGE_TASKS)  # copied into every town's context
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="town") as pool:
            futures = {
                town: pool.submit(contextvars.copy_context().run, run, town=town, return_state=True)
                for town in towns
            }
    finally:
        VILLAGE_TASKS.reset(token)
    by_town: dict[str, Any] = {}
    for town, future in futures.items():
        try:
            state = future.result()
            if not state.is_completed():
                raise RuntimeError(state.message or state.name)
            by_town[town] = {"ok": True, "figures": state.result()}
        except Exception as exc:  # one town's failure is reported, not propagated
            by_town[town] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return by_town
