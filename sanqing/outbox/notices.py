"""Notices for residents and cadres, rendered into the outbox (step 3's output).

Every notice is a row of the outbox (``Notice``) with a stable id
``<activation>:<channel>:<purpose>:<recipient>`` before anything is sent, so a
re-run adds nothing and a delivery that failed can be retried.

``issue_notices`` reads the village (``village``), builds its template context
(``contexts``), lets each planned channel's builder add its notices (``builders``)
to a batch (``batch``), and writes the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from sanqing.epidemic.overlay import running_epidemic
from sanqing.epidemic.plan import load_epidemic_plan
from sanqing.models import Activation, Channel, Level, Town
from sanqing.outbox import builders, sms
from sanqing.outbox.batch import NoticeBatch
from sanqing.outbox.contexts import NoticeContext
from sanqing.outbox.village import read_inspections, read_village
from sanqing.outbox.writer import put, supersede
from sanqing.plans import Plan
from sanqing.response import clock, hold_open, lock_village, log_event


@dataclass(frozen=True)
class NoticeResult:
    village_code: str
    created: int
    by_channel: dict[str, int]
    closed: bool = False  # the activation had ended: nothing was written


def sms_signature(plan: Plan, town: Town) -> str:
    """The signature the SMS platform adds: the plan's, else 【<county><office>】."""
    return plan.defaults.sms_signature or sms.signature(county=town.county, office=town.office)


def epidemic_context(session: Session, act: Activation) -> dict[str, str] | None:
    """三情叠加: the town's running epidemic response as the notices name it, if any."""
    epidemic = running_epidemic(session, town_code=act.town_code, drill=act.drill)
    if epidemic is None:
        return None
    return {
        "level": epidemic.level,
        "name": load_epidemic_plan().levels[Level(epidemic.level)].name,
    }


def issue_notices(
    *,
    session: Session,
    activation_id: str,
    village_code: str,
    plan: Plan,
    locale: str,
    now: datetime | None = None,
) -> NoticeResult:
    """Write the village's notices to the outbox: those not written before, nothing twice.

    Nothing once the activation has ended (no order after the all-clear); the village
    is held while its lists are written, so two runs never give a cadre two lists.
    """
    act = hold_open(session, activation_id)
    if act is None:
        return NoticeResult(village_code=village_code, created=0, by_channel={}, closed=True)
    now = now or clock(session, activation_id)  # the row just read: no second query
    lock_village(session, village_code)
    channels = set(plan.level(act.level).notify)
    facts = read_village(session, activation=act, village_code=village_code)
    ctx = NoticeContext(facts, locale, epidemic_context(session, act))
    batch = NoticeBatch(
        activation_id=activation_id,
        village_code=village_code,
        locale=locale,
        common=ctx.common(activation=act, plan=plan, now=now),
        signature=sms_signature(plan, facts.town),
        sms_max_segments=plan.defaults.sms_max_segments,
        written=facts.written,
    )
    _add_planned_notices(session, batch, ctx, channels)
    _write(session, batch, now)
    return NoticeResult(
        village_code=village_code, created=len(batch.rows), by_channel=batch.by_channel()
    )


def _add_planned_notices(
    session: Session, batch: NoticeBatch, ctx: NoticeContext, channels: set[Channel]
) -> None:
    """Add the notices of every channel the level plans, channel after channel."""
    if Channel.SMS in channels:
        builders.resident_sms(batch, ctx)
    builders.village_messages(batch, ctx, ctx.summary(), channels)
    by_cadre = ctx.facts.moves_by_cadre()
    if Channel.DOOR_VISIT in channels:
        builders.door_visit_lists(batch, ctx, by_cadre)
    if Channel.CARD in channels:
        builders.missing_cards(batch, ctx)
    if Channel.TASK_LIST in channels:
        inspections = read_inspections(
            session, activation_id=batch.activation_id, village_code=batch.village_code
        )
        builders.task_lists(batch, ctx, by_cadre, inspections)


def _write(session: Session, batch: NoticeBatch, now: datetime) -> None:
    """Supersede the versions replaced, write the new rows, log SMS over the length."""
    supersede(session, batch.older_versions())
    put(session, batch.rows)
    if batch.too_long:
        # Sent whole all the same: a cut order is worse than a long one.
        log_event(
            session,
            activation_id=batch.activation_id,
            key=f"sms-too-long:{batch.village_code}",
            actor="sanqing",
            action="短信超长",
            detail=f"{len(batch.too_long)}条短信超过{batch.sms_max_segments}条计费长度，仍完整发送",
            at=now,
        )
