"""``sanqing warnings respond`` as a flow: the pending decisions carried out, without a poll."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from prefect import flow
from prefect.logging import get_run_logger

from flows.rain_watch import CarriedOut, Ended, carry_out, end_responses_no_warning_holds
from sanqing.feeds.watch import Pending
from sanqing.settings import DEFAULT_LOCALE
from tasks.feeds import read_pending


@dataclass(frozen=True)
class Attempt:
    """One pending decision ``respond_now`` took up: what became of it, or why it failed."""

    pending: Pending
    done: CarriedOut | None = None
    error: str | None = None  # could not be carried out: it stays pending


@dataclass(frozen=True)
class Responses:
    """What ``respond_now`` did: the pending decisions, then the responses it ended."""

    attempts: list[Attempt] = field(default_factory=list)
    ended: list[Ended] = field(default_factory=list)


@flow(name="warnings-respond", log_prints=False)
def respond_now(
    plan: str = "flood", locale: str = DEFAULT_LOCALE, now: datetime | None = None
) -> Responses:
    """执行待办的预警决定：启动、调整或结束防汛应急响应，并结束预警均已过期或取消的响应。

    What the rain watch does after its poll, without polling (``sanqing warnings
    respond``): every pending decision is checked again and carried out, then every
    response no warning holds any more (all expired or cancelled) is stood down. A
    decision that fails stays pending, for the next run or the watch; the others go on.
    ``now`` fixes the clock of the expiry checks.
    """
    logger = get_run_logger()
    attempts: list[Attempt] = []
    for p in read_pending(now=now):
        try:
            attempts.append(Attempt(p, carry_out(p, plan=plan, locale=locale, now=now)))
        except Exception as exc:  # one failure never stops the others; it stays pending
            logger.error("decision on %s not carried out, stays pending: %s", p.record_id, exc)
            attempts.append(Attempt(p, error=str(exc)))
    return Responses(attempts, end_responses_no_warning_holds(plan=plan, locale=locale, now=now))
