"""Polling warning feeds and recording what they say, as Prefect tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect.logging import get_run_logger

from sanqing.db import session_scope
from sanqing.errors import FetchError
from sanqing.feeds.fetch import FEED_DEADLINE_S
from sanqing.feeds.model import ParseResult
from sanqing.feeds.watch import (
    Decided,
    Pending,
    expired_responses,
    ingest_results,
    pending_decisions,
    poll,
    remember_feeds,
)
from sanqing.plans import load_plan
from tasks.options import db_task

#: Network errors and 5xx are retried with backoff; the feed state keeps the validators.
POLL_RETRIES = 3
POLL_RETRY_DELAYS: list[float] = [2, 10, 30]


def network_trouble(task: Any, task_run: Any, state: Any) -> bool:
    """Retry what may pass (network, 5xx); a 4xx or a bad document will not."""
    exc = state.data
    return isinstance(exc, FetchError) and exc.retryable


@db_task(
    "poll-feed",
    task_run_name="poll-{name}",
    retries=POLL_RETRIES,
    retry_delay_seconds=POLL_RETRY_DELAYS,
    retry_condition_fn=network_trouble,
)
def poll_feed(
    name: str,
    url: str,
    area_codes: list[str],
    area_desc: str,
    deadline_s: float = FEED_DEADLINE_S,
) -> ParseResult:
    """Fetch the feed (conditionally), follow its index links, parse every warning.

    The whole poll has ``deadline_s`` seconds; a feed that misses it fails without retry
    (the next scheduled poll asks again), so it never holds the others up.
    """
    result = poll(url=url, area_codes=area_codes, area_desc=area_desc, deadline_s=deadline_s)
    get_run_logger().info(
        "%s: %d warnings, %d refused, %d links",
        name,
        len(result.warnings),
        len(result.failures),
        len(result.links),
    )
    return result


@db_task("decide-warnings", retry_condition_fn=None)
def decide_warnings(results: list[ParseResult], plan_name: str = "flood") -> list[Decided]:
    """Store every warning and refusal, and decide what each means for the towns."""
    plan = load_plan(plan_name)
    with session_scope() as session:
        return ingest_results(session=session, results=results, plan=plan)


@db_task("expire-warnings", retry_condition_fn=None)
def expire_warnings(
    plan_name: str = "flood", now: datetime | None = None
) -> list[tuple[str, bool]]:
    """Towns whose warnings have all expired or been cancelled: their responses end."""
    plan = load_plan(plan_name)
    with session_scope() as session:
        return expired_responses(session=session, plan=plan, now=now)


@db_task("remember-feeds", retry_condition_fn=None)
def remember_feed_validators(results: list[ParseResult]) -> None:
    """Everything read is decided and stored: from now on ask the feeds only for changes."""
    remember_feeds(results)


@db_task("pending-decisions", retry_condition_fn=None)
def read_pending(now: datetime | None = None) -> list[Pending]:
    """Decisions stored but not yet carried out (this poll's and any left over)."""
    with session_scope() as session:
        return pending_decisions(session=session, now=now)
