"""Delivering the outbox on a schedule: every pending notice and report, through its channel."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.logging import get_run_logger

from flows.params import titled, town_field
from sanqing.db import init_db
from sanqing.delivery import outbox_counts
from sanqing.settings import DEFAULT_LOCALE
from tasks import records
from tasks.delivery_steps import chase_acknowledgements, deliver, fallback


@flow(name="deliver-outbox", flow_run_name="deliver-outbox")
def deliver_outbox(
    activation_id: str | None = None,
    settle_s: float = 0,
    locale: str = DEFAULT_LOCALE,
    plan: str = "flood",
) -> dict[str, Any]:
    """发送待发通知：短信、群机器人、广播、县级报告接收端，失败重试，过期报告。

    Sends every pending message of the outbox through its channel (the
    endpoints in the settings; files where none is set), once per idempotency
    key, with retries and backoff. The reports upward to the county go first;
    every channel is sent at its own pace, so a slow or failing one (thousands
    of SMS, a gateway that hangs) does not hold up the others. Cadre tasks not acknowledged in time are resent or handed up the
    chain first (叫应). Residents whose SMS failed or expired go on their cadre's
    call list, which goes out in the same run. Returns the outbox counts per channel.
    """
    logger = get_run_logger()
    init_db()  # a worker may be the first process to meet an older database
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
    return outbox_counts(activation_id)


@flow(name="acknowledge", flow_run_name="ack-{town}")
def acknowledge_task(
    cadre: str = titled("", "干部", "回复“收到”的干部：姓名或编号"),
    town: str = town_field(),
    note: str = titled("", "备注", "电话回复的情况"),
) -> int:
    """叫应登记：干部回复收到任务单后，在此登记，停止重发和逐级上报。

    Records that a cadre acknowledged their tasks (a call back, a reply in the
    group): the task lists sent to them, and those handed to them from others,
    stop being resent or handed up.
    """
    return records.acknowledge(town, cadre, note)
