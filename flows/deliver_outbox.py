"""Delivering the outbox on a schedule: every pending notice and report, through its channel."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from prefect import flow
from prefect.logging import get_run_logger

from flows.params import locale_field, plan_field, required, titled, town_field
from sanqing.db import init_db
from sanqing.delivery import outbox_counts
from sanqing.delivery.due import work_due
from sanqing.models import utcnow
from sanqing.plans import load_plan
from tasks import records
from tasks.delivery_steps import chase_acknowledgements, deliver, fallback


@flow(name="deliver-outbox", flow_run_name="deliver-outbox")
def deliver_outbox(
    activation_id: str | None = titled(None, "应急响应编号", "只发这次响应的通知；不填：全部"),
    settle_s: float = titled(0, "等待秒数", "开始发送前等待（秒）", ge=0),
    locale: str = locale_field(),
    plan: str = plan_field(),
    watch_minutes: float = titled(0, "值守分钟", "持续值守多少分钟（0：发完即止）", ge=0),
    poll_s: float = titled(30, "检查间隔（秒）", "值守时每隔多少秒检查一次待发通知", gt=0),
) -> dict[str, Any]:
    """发送待发通知：短信、群机器人、广播、县级报告接收端，失败重试，过期报告。

    Sends every pending message of the outbox through its channel (the
    endpoints in the settings; files where none is set), once per idempotency
    key, with retries and backoff. The reports upward to the county go first;
    every channel is sent at its own pace, so a slow or failing one (thousands
    of SMS, a gateway that hangs) does not hold up the others. Cadre tasks not acknowledged in time are resent or handed up the
    chain first (叫应). Residents whose SMS failed or expired go on their cadre's
    call list, which goes out in the same run. Returns the outbox counts per channel.

    With ``watch_minutes`` the run stays on that long (送达值守) and looks every
    ``poll_s`` seconds, passing again only when a message or a 叫应 step is due: the
    control room's one deliverer an hour, not a run a minute.
    """
    init_db()  # a worker may be the first process to meet an older database
    _one_pass(activation_id, settle_s, locale, plan)
    if watch_minutes > 0:
        _watch(activation_id, settle_s, locale, plan, watch_minutes * 60, poll_s)
    return outbox_counts(activation_id)


def _watch(
    activation_id: str | None,
    settle_s: float,
    locale: str,
    the_plan: str,
    seconds: float,
    poll_s: float,
) -> None:
    """Look every ``poll_s`` for ``seconds``; a pass only when something is due (no idle runs)."""
    within = timedelta(minutes=load_plan(the_plan).defaults.acknowledgement.within_minutes)
    end = time.monotonic() + seconds
    since = utcnow()
    passes = 0
    while time.monotonic() + poll_s < end:
        time.sleep(poll_s)
        now = utcnow()
        if work_due(now=now, since=since, ack_within=within):
            _one_pass(activation_id, settle_s, locale, the_plan)
            passes += 1
        since = now
    get_run_logger().info("送达值守结束：本轮共发送 %d 次", passes)


def _one_pass(activation_id: str | None, settle_s: float, locale: str, plan: str) -> None:
    """Chase unanswered tasks, send what is due, put failed residents on call lists."""
    logger = get_run_logger()
    chased = chase_acknowledgements(plan)
    if chased["resent"] or chased["forwarded"]:
        logger.warning("tasks not acknowledged: %(resent)d resent, %(forwarded)d handed up", chased)
    first = deliver(activation_id, settle_s)
    if fallback(locale):
        first = deliver(activation_id, settle_s)
    if first["down"]:
        logger.warning("channels down, retried later: %s", ", ".join(first["down"]))
    if first["expired"]:
        logger.warning("%d messages expired undelivered (see the timeline)", first["expired"])


@flow(name="acknowledge", flow_run_name="ack-{town}")
def acknowledge_task(
    cadre: str = required("干部", "回复“收到”的干部：姓名或编号"),
    town: str = town_field(),
    note: str = titled("", "备注", "电话回复的情况"),
) -> int:
    """叫应登记：干部回复收到任务单后，在此登记，停止重发和逐级上报。

    Records that a cadre acknowledged their tasks (a call back, a reply in the
    group): the task lists sent to them, and those handed to them from others,
    stop being resent or handed up.
    """
    return records.acknowledge(town, cadre, note)
