"""The deployments the control room serves: what a coordinator can start from the UI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flows.after_rain_patrol import after_rain_patrol
from flows.county_response import county_batch, county_response
from flows.deliver_outbox import acknowledge_task, deliver_outbox
from flows.drill import drill
from flows.epidemic_response import epidemic_response, followup_answers
from flows.flood_response import flood_response
from flows.params import QUICK_RUN_LEVEL, TOWNS, quick_run
from flows.rain_watch import rain_watch
from flows.report_upward import report_upward_all
from flows.whatif import what_if_flow
from sanqing.feeds.config import load_feeds
from sanqing.models import utcnow
from sanqing.plans import load_plan

#: Flow runs one served process runs at once. A run waiting for an answer (approval,
#: roll call, patrol) holds its slot, so leave room for several towns waiting at once
#: and still the rain watch and the report schedule.
DEFAULT_SERVE_LIMIT = 16
#: How long the deliverer's run stays on, and how often one starts (minutes).
DELIVERER_WATCH_MINUTES = 60
#: The first deliverer of a serve starts this long after the deployments are built.
DELIVERER_FIRST_AFTER_S = 10


def deployments() -> list[Any]:
    """Every form is titled in Chinese and Quick run starts with ``parameters``: the
    only town (several: the officer picks one), level Ⅲ for a manual flood start.

    flood-response and epidemic-response (forms), drill, after-rain-patrol, report-upward,
    deliver-outbox, acknowledge, rain-watch, county-response and county-batch (the towns
    of a county run on a work pool; ``prefect.yaml`` declares the same deployments)."""
    return [
        flood_response.to_deployment(
            name="flood-response",
            parameters=quick_run(level=QUICK_RUN_LEVEL.value),
            description="防汛应急响应：选择乡镇和响应级别（或填写预警），启动预案。",
            tags=["flood"],
        ),
        epidemic_response.to_deployment(
            name="epidemic-response",
            parameters=quick_run(),
            description="疫情防控应急响应：选择乡镇和响应级别，启动或继续预案（响应期间每日运行一次）。",
            tags=["epidemic"],
        ),
        followup_answers.to_deployment(
            name="followup-answers",
            parameters=quick_run(),
            description="健康监测随访登记：录入随访结果（健康/有症状/联系不上）。",
            tags=["epidemic"],
        ),
        drill.to_deployment(
            name="drill", description="应急演练：按演练脚本运行防汛预案。", tags=["drill"]
        ),
        after_rain_patrol.to_deployment(
            name="after-rain-patrol",
            parameters=quick_run(),
            description="雨后巡查：巡查确认安全后结束应急响应（终报）。",
            tags=["flood"],
        ),
        report_upward_all.to_deployment(
            name="report-upward",
            interval=timedelta(minutes=load_plan().defaults.report_check_minutes),
            description="定时续报：数字有变化即续报；超时未核实的转移户报第一书记。",
            tags=["report"],
        ),
        *delivery_deployments(),
        what_if_flow.to_deployment(
            name="what-if",
            parameters=quick_run(),
            description="预演：按级别或预警测算需转移的群众、安置缺口、干部包保和抢险机械（不写台账，不发通知）。",
            tags=["flood", "what-if"],
        ),
        rain_watch.to_deployment(
            name="rain-watch",
            interval=timedelta(minutes=load_feeds().poll_minutes),
            description="雨情值守：轮询预警信息源，自动启动、调整或结束响应。",
            tags=["watch"],
        ),
        *county_deployments(),
    ]


def delivery_deployments() -> list[Any]:
    """deliver-outbox (one long-running deliverer an hour) and acknowledge (叫应登记)."""
    return [
        deliver_outbox.to_deployment(
            name="deliver-outbox",
            # One run an hour that stays on (送达值守) and sends when something is due:
            # the run list is not a deliverer every minute. The next hour's run waits
            # for this one's slot (concurrency 1; leases guard the rest).
            schedule=deliverer_schedule(),
            parameters={"watch_minutes": DELIVERER_WATCH_MINUTES},
            concurrency_limit=1,
            description="发送待发通知（每小时一次，持续值守）：失败重试、过期报告；未叫应的任务单重发并逐级上报。",
            tags=["delivery"],
        ),
        acknowledge_task.to_deployment(
            name="acknowledge",
            parameters=quick_run(),  # the cadre must be named: Quick run is refused
            description="叫应登记：干部回复收到后登记，停止重发和上报。",
            tags=["delivery"],
        ),
    ]


def deliverer_schedule() -> Any:
    """Hourly, anchored a few seconds from now: the first deliverer starts with serve,
    not an hour later (an interval's runs fall on its anchor plus whole intervals)."""
    from prefect.client.schemas.schedules import IntervalSchedule

    return IntervalSchedule(
        interval=timedelta(minutes=DELIVERER_WATCH_MINUTES),
        anchor_date=utcnow() + timedelta(seconds=DELIVERER_FIRST_AFTER_S),
    )


def county_deployments() -> list[Any]:
    """county-response, and county-batch: the towns of a county run on a work pool."""
    return [
        county_response.to_deployment(
            name="county-response",
            parameters={"towns": TOWNS, "level": QUICK_RUN_LEVEL.value},
            description="全县防汛应急响应：各乡镇同时启动本镇防汛预案。",
            tags=["flood", "county"],
        ),
        county_batch.to_deployment(
            name="county-batch",
            description="全县响应的一批乡镇：由全县响应在工作节点上启动。",
            tags=["flood", "county"],
        ),
    ]


def serve_all(limit: int = DEFAULT_SERVE_LIMIT) -> None:
    """Create the machines' concurrency limits, then serve every deployment until interrupted."""
    from prefect import serve

    from tasks.resources import create_machine_limits

    create_machine_limits()
    serve(*deployments(), limit=limit)
