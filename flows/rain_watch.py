"""The rain watch: poll the warning feeds on a schedule and start, raise or end the response."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prefect import flow
from prefect.futures import PrefectFuture
from prefect.logging import get_logger, get_run_logger

from flows.flood_response import flood_response
from flows.params import TOWN_NAMES, locale_field, plan_field, titled
from sanqing.feeds.chains import is_drill, record_id
from sanqing.feeds.config import FeedSource, load_feeds
from sanqing.feeds.model import Action, Decision, FeedWarning, ParseResult
from sanqing.feeds.watch import (
    Decided,
    Pending,
    warning_info,
)
from sanqing.settings import DEFAULT_LOCALE
from tasks import records
from tasks.feeds import (
    decide_warnings,
    expire_warnings,
    poll_feed,
    read_pending,
    remember_feed_validators,
)
from tasks.watch_steps import (
    FLOOD_DEPLOYMENT,
    Acted,
    deployment_available,
    lower_level,
    stand_down_town,
)


@dataclass(frozen=True)
class Responded:
    """What carrying out one decision did: the activations touched, and what it left alone."""

    activations: list[str] = field(default_factory=list)
    left_alone: list[str] = field(default_factory=list)  # why, per town


def respond(
    warning: FeedWarning,
    decision: Decision,
    *,
    plan: str = "flood",
    locale: str = DEFAULT_LOCALE,
    targets: list[str] | None = None,
) -> Responded:
    """Carry out one decision for every town it covers; say which activations it touched.

    With the flood-response deployment on the server, the run is handed to it
    (idempotency key: warning, town and action, so a retried watch starts it once)
    and the activation is known only when that run has started. A stand-down or a
    downgrade acts only on ``targets``, the activations it was decided for (any open
    one when None): it leaves any other alone, and says why.
    """
    if is_drill(warning) and not decision.drill:
        # An exercise message never starts, changes or ends a real response.
        get_logger("sanqing.watch").warning(
            "drill message %s refers to a real response: not carried out", warning.identifier
        )
        return Responded()
    starts = decision.action in (Action.ACTIVATE, Action.ESCALATE)
    deployed = starts and deployment_available(FLOOD_DEPLOYMENT)
    touched: list[str] = []
    skipped: list[str] = []
    for town in decision.town_codes:
        if starts and deployed:
            hand_to_deployment(warning, decision, town, plan=plan, locale=locale)
            continue
        if starts:
            acted = start_here(warning, decision, town, plan=plan, locale=locale)
        else:
            acted = change_or_end(decision, town, plan=plan, locale=locale, targets=targets)
        touched += [acted.activation_id] if acted.activation_id else []
        skipped += [acted.left_alone] if acted.left_alone else []
    return Responded(touched, skipped)


def hand_to_deployment(
    warning: FeedWarning, decision: Decision, town: str, *, plan: str, locale: str
) -> None:
    """Start the town's response as a run of the flood-response deployment, once per
    warning, town and action (a retried watch starts it once)."""
    from prefect.deployments import run_deployment

    run = run_deployment(
        FLOOD_DEPLOYMENT,
        parameters={
            # the form's town picker lists names: the server refuses a code
            "town": TOWN_NAMES.get(town, town),
            "level": decision.level.value if decision.level else None,
            "warning": warning_info(warning, decision).model_dump(mode="json"),
            "drill": decision.drill,
            "locale": locale,
            "plan": plan,
        },
        timeout=0,
        idempotency_key=f"{record_id(warning.sender, warning.identifier)}:{town}:{decision.action.value}",
    )
    # respond() also runs outside a flow (the CLI): a plain logger, not the run logger
    get_logger("sanqing.watch").info(
        "flood response for %s handed to deployment run %s", town, getattr(run, "id", run)
    )


def start_here(
    warning: FeedWarning, decision: Decision, town: str, *, plan: str, locale: str
) -> Acted:
    """Run the town's response here, as a subflow; its activation, or why none was opened."""
    figures = flood_response(
        town=town,
        level=decision.level,
        warning=warning_info(warning, decision),
        drill=decision.drill,
        locale=locale,
        plan=plan,
    )
    if figures.get("activation_id"):
        return Acted(figures["activation_id"])
    # its warning was cancelled or superseded while the run started
    return Acted(left_alone=f"{town}: {figures.get('reason')}")


def change_or_end(
    decision: Decision, town: str, *, plan: str, locale: str, targets: list[str] | None
) -> Acted:
    """Lower the level of the town's response, or stand it down, as the decision says."""
    if decision.action == Action.DOWNGRADE and decision.level is not None:
        return lower_level(town, decision.drill, decision.level, decision.reason, plan, targets)
    if decision.action == Action.STAND_DOWN:
        return stand_down_town(town, decision.drill, decision.reason, plan, locale, targets)
    return Acted()


@dataclass(frozen=True)
class CarriedOut:
    """What became of one pending decision: the activations it touched, or why it was skipped."""

    pending: Pending
    activations: list[str] = field(default_factory=list)
    skipped: str | None = None  # not carried out: withdrawn meanwhile, or already done
    left_alone: list[str] = field(default_factory=list)  # towns it did not act on, and why


def carry_out(p: Pending, *, plan: str, locale: str, now: datetime | None = None) -> CarriedOut:
    """Check again that the decision is still to do, carry it out and mark it done.

    A cancel or an update may have come in since the decision was read: a decision
    whose warning is no longer live is not carried out (it is marked done, with why).
    A stand-down or downgrade whose response has ended since leaves a response opened
    after it alone: it is marked done, its reason saying so. An error carrying it out
    propagates and the decision stays pending.
    """
    why = records.why_not_carried_out(p.record_id, now)
    if why is not None:
        get_logger("sanqing.watch").info("decision on %s not carried out: %s", p.record_id, why)
        return CarriedOut(p, skipped=why)
    did = respond(p.warning, p.decision, plan=plan, locale=locale, targets=p.targets)
    touched = did.activations
    records.mark_done(p.record_id, touched[0] if touched else None, did.left_alone)
    if did.left_alone and not touched:
        return CarriedOut(p, skipped="; ".join(did.left_alone), left_alone=did.left_alone)
    return CarriedOut(p, touched, left_alone=did.left_alone)


#: The polls of one watch run, in the order they finish.
Answers = queue.Queue[PrefectFuture[ParseResult]]


@flow(name="rain-watch", log_prints=False)
def rain_watch(
    respond_to_warnings: bool = titled(
        True, "按预警自动响应", "关闭：只记录预警，不自动启动、调整或结束响应"
    ),
    plan: str = plan_field(),
    locale: str = locale_field(),
) -> list[dict[str, Any]]:
    """雨情值守：轮询预警信息源，按预警自动启动、提升、降低或结束防汛应急响应。

    Polls every feed in config/feeds.yaml at once (conditional requests, retries on
    network errors, and a deadline per feed), records every warning and the
    decision taken on it as soon as its feed has answered, and starts the flood
    response for exactly the villages a warning covers, raises or lowers its level
    on an update, and stands it down with a final report on a cancel or all-clear.
    A slow or failing feed never delays the others; a malformed or hostile warning
    is recorded as rejected and never stops the others. Exercise/Test warnings
    start drills.
    """
    feeds = {
        poll_feed.submit(f.name, f.url, f.area_codes, f.area_desc, f.deadline_s): f
        for f in load_feeds().feeds
    }
    out: list[dict[str, Any]] = []
    failed: set[str] = set()  # decisions that could not be carried out in this run
    # Whatever feeds have answered by now are decided and stored first, then carried
    # out: a slow feed never delays the others' decisions. A response carried out here
    # does: on the embedded default it runs as a subflow (minutes), and feeds that
    # answer meanwhile are decided after it. With the flood-response deployment on the
    # server it is handed off at once (see ``respond``).
    for answered in _as_they_answer(list(feeds)):
        out += _decide(answered, feeds, plan=plan)
        if respond_to_warnings:
            _carry_out_pending(out, failed, plan=plan, locale=locale)
    if respond_to_warnings:
        if not feeds:  # after each answer above; else decisions left by a preview or a failure
            _carry_out_pending(out, failed, plan=plan, locale=locale)
        out += _end_what_no_warning_holds(failed, plan=plan, locale=locale)
    if failed:
        raise RuntimeError(
            f"{len(failed)} decision(s) or stand-down(s) could not be carried out; they stay "
            "pending and are retried at the next poll"
        )
    return out


#: Why the watch ends a response no warning holds any more (the final report says it).
NO_WARNING_HOLDS_IT = "预警已结束（过期或取消），应急响应结束"


@dataclass(frozen=True)
class Ended:
    """A response ended because no warning holds it any more (all expired or cancelled)."""

    town: str
    drill: bool
    activation_id: str | None = None  # None: nothing running any more
    error: str | None = None  # the stand-down failed, and why


def end_responses_no_warning_holds(
    *, plan: str, locale: str, now: datetime | None = None
) -> list[Ended]:
    """Stand down every response whose warnings have all expired or been cancelled.

    What the watch does after carrying out its decisions (``expired_responses``): it also
    ends a response whose cancel's stand-down was lost. One failure never stops the others.
    """
    out: list[Ended] = []
    for town, drill in expire_warnings(plan_name=plan, now=now):
        try:
            acted = stand_down_town(town, drill, NO_WARNING_HOLDS_IT, plan, locale)
        except Exception as exc:
            get_run_logger().error("stand-down of %s failed: %s", town, exc)
            out.append(Ended(town, drill, error=str(exc)))
            continue
        out.append(Ended(town, drill, acted.activation_id))
    return out


def _as_they_answer(
    polls: list[PrefectFuture[ParseResult]],
) -> Iterator[list[PrefectFuture[ParseResult]]]:
    """The polls in batches as they finish: each batch all that finished by the time the
    one before it was handled (the first waits for one)."""
    answers: Answers = queue.Queue()
    for fut in polls:
        fut.add_done_callback(answers.put)
    left = len(polls)
    while left:
        answered = _answered(answers)
        left -= len(answered)
        yield answered


def _decide(
    answered: list[PrefectFuture[ParseResult]],
    feeds: dict[PrefectFuture[ParseResult], FeedSource],
    *,
    plan: str,
) -> list[dict[str, Any]]:
    """Decide and store the warnings of the feeds that answered; a feed that failed is logged."""
    out: list[dict[str, Any]] = []
    for fut in answered:
        fut.wait()  # done already: this only takes its final state
        if not fut.state.is_completed():  # down after its retries, or past its deadline
            get_run_logger().error("feed %s failed: %s", feeds[fut].name, fut.state.message)
            continue
        result = fut.result()
        out += [_entry(d) for d in decide_warnings([result], plan_name=plan)]
        remember_feed_validators([result])  # only now: what it gave is stored
    return out


def _end_what_no_warning_holds(failed: set[str], *, plan: str, locale: str) -> list[dict[str, Any]]:
    """Lines of the watch's result for the responses it ended (no warning holds them any
    more); a stand-down that failed is added to ``failed``."""
    out: list[dict[str, Any]] = []
    for ended in end_responses_no_warning_holds(plan=plan, locale=locale):
        out.append(
            {
                "identifier": None,
                "decision": {
                    "action": "stand_down",
                    "reason": "warnings expired or cancelled",
                    "town_codes": [ended.town],
                },
                "activations": [ended.activation_id] if ended.activation_id else [],
            }
        )
        if ended.error is not None:
            failed.add(f"end:{ended.town}")
    return out


def _answered(answers: Answers) -> list[PrefectFuture[ParseResult]]:
    """The polls that are done: waits for the first, then takes all done by now."""
    done = [answers.get()]
    while True:
        try:
            done.append(answers.get_nowait())
        except queue.Empty:
            return done


def _entry(d: Decided) -> dict[str, Any]:
    """One line of the watch's result: the warning (or refusal), its decision, activations."""
    return {
        "identifier": d.warning.identifier
        if d.warning
        else (d.failure.identifier if d.failure else None),
        "decision": d.decision.model_dump(mode="json"),
        "activations": [],
    }


def _carry_out_pending(
    out: list[dict[str, Any]], failed: set[str], *, plan: str, locale: str
) -> None:
    """Carry out every pending decision not yet failed in this run; note what each touched."""
    logger = get_run_logger()
    by_id = {o["identifier"]: o for o in out if o["identifier"]}
    for p in read_pending():
        if p.record_id in failed:
            continue
        try:
            touched = carry_out(p, plan=plan, locale=locale).activations
        except Exception as exc:
            failed.add(p.record_id)
            logger.error("decision on %s not carried out, stays pending: %s", p.record_id, exc)
            continue
        if p.warning.identifier in by_id:
            by_id[p.warning.identifier]["activations"] = touched


def serve_watch() -> None:
    """Serve the rain watch as a deployment polling every ``poll_minutes`` (config/feeds.yaml).

    Needs a Prefect server (``PREFECT_API_URL``); ``sanqing serve`` will start one.
    """
    from datetime import timedelta

    config = load_feeds()
    rain_watch.serve(
        name="rain-watch",
        interval=timedelta(minutes=config.poll_minutes),
        description="雨情值守：每隔几分钟轮询预警信息源并按预警启动、调整或结束防汛应急响应。",
    )


if __name__ == "__main__":  # pragma: no cover - a long-running process
    serve_watch()
