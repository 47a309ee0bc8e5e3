"""A county's towns on a Prefect work pool: batches of towns as runs of ``county-batch``.

A process worker needs ~2.5 s of CPU to start one flow-run process (Prefect's import
and run setup), so one process per town costs more than a whole county's target on two
cores. The county flow therefore splits its towns into one batch per online worker of
the pool and starts each batch as a run of the ``county-batch`` deployment; the batch
runs its towns as in-process subflows (each its own flood-response run, tracked and
retried on its own) and publishes each town's figures as an artifact of the batch run
(aggregates only: counts and names of villages, no household). Figures come back
through the Prefect API, so workers on other machines need no shared result storage.

A rerun never runs a town twice: batch runs carry a tag derived from the county key
(the warning, or level, drill, plan and day); towns that already completed in a batch
run with that tag are not started again, their figures are read back from it. Towns
that failed are started again, in a batch of their own.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from prefect.logging import get_run_logger

from sanqing.plans import Level
from sanqing.warning import WarningInfo

#: The deployment a county's batches run as (``prefect.yaml`` and ``flows/deployments.py``).
BATCH_DEPLOYMENT = "county-batch/county-batch"
#: Description of the artifact a batch run writes per town; the county reads it back.
FIGURES_ARTIFACT = "county-town-figures"
#: A batch run the server no longer has (deleted in the UI while the county waited).
MISSING = "MISSING"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED", MISSING}
#: The most rows the server returns for one read.
READ_LIMIT = 200


def pool_workers() -> int | None:
    """Online workers of the county-batch deployment's work pool; None when there is no
    such deployment on a work pool (the embedded default, a test harness, ``serve``)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import WorkerFilter, WorkerFilterStatus
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name(BATCH_DEPLOYMENT)
            if not deployment.work_pool_name:
                return None
            online = client.read_workers_for_work_pool(
                deployment.work_pool_name,
                worker_filter=WorkerFilter(status=WorkerFilterStatus(any_=["ONLINE"])),
            )
    except ObjectNotFound:
        return None
    return len(online)


def county_key(level: Level | None, warning: WarningInfo | None, drill: bool, plan: str) -> str:
    """What makes two county runs the same response: the warning, else level and day."""
    if warning is not None:
        what = f"{warning.sender}|{warning.identifier}"
    else:
        day = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
        what = f"{getattr(level, 'value', level)}|{day}"
    return hashlib.sha1(f"{what}|{drill}|{plan}".encode()).hexdigest()[:16]


def split(towns: list[str], batches: int) -> list[list[str]]:
    """Towns dealt round-robin into at most ``batches`` non-empty batches."""
    n = max(1, min(batches, len(towns)))
    return [towns[i::n] for i in range(n)]


def respond_on_workers(
    towns: list[str], workers: int, parameters: dict[str, Any], key: str
) -> dict[str, dict[str, Any]]:
    """Run the towns not yet done under ``key`` as batches on the pool; per town its
    figures or its error, the towns done before included."""
    tag = f"county-{key}"
    by_town = {t: r for t, r in done_before(tag).items() if t in towns}
    pending = [t for t in towns if t not in by_town]
    log = get_run_logger()
    if len(pending) < len(towns):
        log.info("%d of %d towns already done under %s", len(towns) - len(pending), len(towns), tag)
    if not pending:
        return {t: by_town[t] for t in towns}
    batches = split(pending, workers)
    runs = {start_batch(batch, parameters, tag): batch for batch in batches}
    log.info("%d towns in %d batch runs on the pool", len(pending), len(runs))
    states = wait_for(list(runs))
    figures = town_results(list(runs))
    for run_id, batch in runs.items():
        for town in batch:
            by_town[town] = figures.get(town) or {
                "ok": False,
                "error": f"batch run {run_id} ended {states[run_id]} without this town's figures",
            }
    return {t: by_town[t] for t in towns}


def start_batch(batch: list[str], parameters: dict[str, Any], tag: str) -> UUID:
    """One run of county-batch, once per county key and set of towns."""
    from prefect.deployments import run_deployment

    members = hashlib.sha1(",".join(sorted(batch)).encode()).hexdigest()[:12]
    run = run_deployment(
        BATCH_DEPLOYMENT,
        parameters=parameters | {"towns": batch},
        timeout=0,
        tags=[tag],
        idempotency_key=f"{tag}:{members}",
    )
    return UUID(str(getattr(run, "id", run)))  # a FlowRun: run_deployment is sync here


def wait_for(
    run_ids: list[UUID], poll_s: float = 0.25, slow_after_s: float = 120, slow_poll_s: float = 2
) -> dict[UUID, str]:
    """Until every run is final; the state type of each (``MISSING``: gone from the server).

    One read for up to 200 runs a poll, four polls a second: the county's figures follow
    its last batch by a quarter second. After two minutes (towns waiting for the
    commander) every two seconds. A run the server no longer has (deleted in the UI)
    ends the wait for it: its towns are named failed, never waited for.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    started = time.monotonic()
    with get_client(sync_client=True) as client:
        while True:
            states: dict[UUID, str] = dict.fromkeys(run_ids, MISSING)
            for i in range(0, len(run_ids), READ_LIMIT):
                wanted = FlowRunFilter(id=FlowRunFilterId(any_=run_ids[i : i + READ_LIMIT]))
                for run in client.read_flow_runs(flow_run_filter=wanted, limit=READ_LIMIT):
                    states[run.id] = run.state.type.value if run.state else "PENDING"
            if all(s in FINAL for s in states.values()):
                return states
            time.sleep(poll_s if time.monotonic() - started < slow_after_s else slow_poll_s)


def done_before(tag: str) -> dict[str, dict[str, Any]]:
    """Towns that completed in an earlier batch run of this county key, with their figures."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    with get_client(sync_client=True) as client:
        earlier = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[tag]))
        )
    results = town_results([r.id for r in earlier])
    return {t: r for t, r in results.items() if r["ok"]}


def town_results(run_ids: list[UUID]) -> dict[str, dict[str, Any]]:
    """Per town, the result the batch runs published (a completed one over a failed one)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    if not run_ids:
        return {}
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=run_ids)),
            limit=READ_LIMIT,  # one artifact per batch run
        )
    out: dict[str, dict[str, Any]] = {}
    for artifact in artifacts:
        if artifact.description != FIGURES_ARTIFACT or not isinstance(artifact.data, str):
            continue
        for town, result in figures_from_markdown(artifact.data).items():
            if result["ok"] or town not in out:
                out[town] = result
    return out


def figures_markdown(by_town: dict[str, dict[str, Any]]) -> str:
    """The batch's results as the artifact shows them: a line per town, then the JSON."""
    lines = [
        f"- {town}: " + ("ok" if r["ok"] else f"failed ({r['error']})")
        for town, r in by_town.items()
    ]
    body = json.dumps(by_town, ensure_ascii=False, default=str)
    return "\n".join(
        ["## 各乡镇结果 / towns of this batch", "", *lines, "", "```json", body, "```"]
    )


def figures_from_markdown(markdown: str) -> dict[str, dict[str, Any]]:
    start = markdown.index("```json\n") + len("```json\n")
    end = markdown.rindex("\n```")
    loaded: dict[str, dict[str, Any]] = json.loads(markdown[start:end])
    return loaded
