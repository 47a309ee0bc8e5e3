"""应撤必撤: households nobody has confirmed, or who refuse, go up the chain.

Village cadre → first secretary → town leader → 带离 (taken out), one step per
overdue round, each step a notice to the next person and a line in the timeline.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from sanqing.db import upsert
from sanqing.models import (
    Activation,
    Cadre,
    CadreRole,
    Channel,
    Escalation,
    Household,
    Relocation,
    RelocationStatus,
    Town,
    Village,
    Zone,
)
from sanqing.outbox.keys import NoticeKey
from sanqing.outbox.rendering import render
from sanqing.outbox.writer import notice_row, put
from sanqing.plans import Level, Plan
from sanqing.response.locks import hold_open
from sanqing.response.rollcall import CHASED
from sanqing.response.timeline import clock, log_event


@dataclass(frozen=True)
class EscalationResult:
    households: int
    villages: int
    notices: int


#: 应撤必撤: the steps a household nobody confirmed safe goes up, one per roll-call period.
STEP_SECRETARY = "roll_call"  # the village's first secretary checks door to door
STEP_TOWN_LEADER = "town_leader"  # then the town leader
STEP_REMOVAL = "removal"  # then 带离: the town removes a refusing household (danger zone, Ⅱ/Ⅰ)
CHAIN = (STEP_SECRETARY, STEP_TOWN_LEADER, STEP_REMOVAL)


def _next_step(rel: Relocation, done: Sequence[str], level: Level) -> str | None:
    """The household's next step up the chain, or None when it has gone as far as it goes."""
    step = next((s for s in CHAIN if s not in done), None)
    if step == STEP_REMOVAL and not (
        rel.status == RelocationStatus.REFUSED
        and (rel.zone == Zone.DANGER or level.rank >= Level.II.rank)
    ):
        return None  # 带离 is for those who refuse, in a danger zone or at Ⅱ/Ⅰ
    return step


def escalate_unconfirmed(
    session: Session,
    *,
    activation_id: str,
    plan: Plan,
    locale: str,
    now: datetime | None = None,
    overdue_only: bool = True,
) -> EscalationResult:
    """应撤必撤: households nobody confirmed safe, or that refuse, go one step up the chain.

    Unconfirmed (ordered, unreachable) and refusing households go to the village's
    first secretary, then to the town leader; a refusing household in a danger zone,
    or at Ⅱ/Ⅰ, then goes to 带离 (the town removes it under the local regulations,
    recorded with who and when by a roll call ``removed``). One step per call: with
    ``overdue_only``, a step is taken only a roll-call period after the order or the
    step before. The recipient gets an SMS with the count and a task list with the
    households (the town leader when the village has no first secretary).
    """
    now = now or clock(session, activation_id)
    held = hold_open(session, activation_id)
    if held is None:  # ended: nobody is chased for a response that is over
        return EscalationResult(0, 0, 0)
    act = held
    period = timedelta(minutes=plan.level(act.level).roll_call.within_minutes)
    steps = _due_steps(session, act=act, since_before=now - period if overdue_only else None)
    if not steps:
        return EscalationResult(0, 0, 0)
    town = session.get(Town, act.town_code)
    assert town is not None
    cadres = {c.code: c for c in session.exec(select(Cadre).where(Cadre.town_code == town.code))}
    rels = [r for step in CHAIN for r in steps.get(step, [])]
    households = _households(session, rels)
    notices = 0
    villages: set[str] = set()
    for step in CHAIN:
        by_village: dict[str, list[Relocation]] = defaultdict(list)
        for r in steps.get(step, []):
            by_village[r.village_code].append(r)
        for vcode, vrels in sorted(by_village.items()):
            village = session.get(Village, vcode)
            assert village is not None
            villages.add(vcode)
            notices += _escalate_village(
                session,
                act=act,
                town=town,
                village=village,
                rels=vrels,
                households=households,
                cadres=cadres,
                to=_recipient(step, vcode, cadres),
                step=step,
                level_name=plan.level(act.level).name,
                locale=locale,
                now=now,
            )
    return EscalationResult(households=len(rels), villages=len(villages), notices=notices)


def _due_steps(
    session: Session, *, act: Activation, since_before: datetime | None
) -> dict[str, list[Relocation]]:
    """The households due for their next step, by step, in relocation order.

    With ``since_before``, only those whose order or last step is older than that.
    """
    level = Level(act.level)
    done: dict[str, dict[str, datetime]] = defaultdict(dict)
    for e in session.exec(select(Escalation).where(Escalation.activation_id == act.id)):
        done[e.household_code][e.kind] = e.at
    steps: dict[str, list[Relocation]] = defaultdict(list)
    for r in session.exec(
        select(Relocation)
        .where(
            Relocation.activation_id == act.id,
            col(Relocation.status).in_([s.value for s in CHASED]),
        )
        .order_by(col(Relocation.priority), col(Relocation.household_code))
    ):
        taken = done.get(r.household_code, {})
        step = _next_step(r, list(taken), level)
        if step is None:
            continue
        since = max(taken.values(), default=r.ordered_at)
        if since_before is not None and _aware(since) > since_before:
            continue
        steps[step].append(r)
    return steps


def _recipient(step: str, village_code: str, cadres: dict[str, Cadre]) -> Cadre | None:
    """Who takes the step: the first secretary first, else (and later) the town leader."""
    in_order = sorted(cadres.values(), key=lambda c: c.code)
    leader = next((c for c in in_order if c.role == CadreRole.TOWN_LEADER), None)
    if step != STEP_SECRETARY:
        return leader
    return next(
        (
            c
            for c in in_order
            if c.village_code == village_code and c.role == CadreRole.FIRST_SECRETARY
        ),
        leader,
    )


def _households(session: Session, rels: list[Relocation]) -> dict[str, Household]:
    """The registry's households behind the relocations, by code."""
    return {
        h.code: h
        for h in session.exec(
            select(Household).where(col(Household.code).in_([r.household_code for r in rels]))
        )
    }


def _aware(at: datetime) -> datetime:
    """SQLite gives naive datetimes back; they were written in UTC."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _escalate_village(
    session: Session,
    *,
    act: Activation,
    town: Town,
    village: Village,
    rels: list[Relocation],
    households: dict[str, Household],
    cadres: dict[str, Cadre],
    to: Cadre | None,
    step: str,
    level_name: str,
    locale: str,
    now: datetime,
) -> int:
    """One step up the chain for one village's households: notices, records, the timeline."""
    ctx = {
        "drill": act.drill,
        "town": {"name": town.name, "office": town.office, "duty_phone": town.duty_phone},
        "village": {"name": village.name},
        "to": {"name": to.name if to else "", "title": to.title if to else ""},
        "level_name": level_name,
        "households": _task_items(rels, households, cadres),
        "people": sum(r.people for r in rels),
        "unreachable": sum(1 for r in rels if r.status == RelocationStatus.UNREACHABLE),
        "refused": sum(1 for r in rels if r.status == RelocationStatus.REFUSED),
        "step": step,
        "at": now,
    }
    codes = ",".join(r.household_code for r in rels)
    # the first step keeps the ids it always had; later steps name themselves
    batch = hashlib.sha1(
        (codes if step == STEP_SECRETARY else f"{step}:{codes}").encode()
    ).hexdigest()[:10]
    rows = _notices(act=act, village=village, to=to, step=step, batch=batch, locale=locale, ctx=ctx)
    put(session, rows)
    _record_step(session, act=act, village=village, rels=rels, to=to, step=step, now=now)
    action, detail = _timeline_text(village, rels, to=to, step=step, ctx=ctx)
    log_event(
        session,
        activation_id=act.id,
        key=f"escalated:{village.code}:{batch}",
        actor="镇应急办",
        action=action,
        detail=detail,
        at=now,
        simulated=act.drill,
    )
    return len(rows)


def _record_step(
    session: Session,
    *,
    act: Activation,
    village: Village,
    rels: list[Relocation],
    to: Cadre | None,
    step: str,
    now: datetime,
) -> None:
    """Each household has taken the step: when, to whom, and the status it had then."""
    upsert(
        session,
        Escalation,
        [
            {
                "id": f"{act.id}:{r.household_code}:{step}",
                "activation_id": act.id,
                "village_code": village.code,
                "household_code": r.household_code,
                "kind": step,
                "status_then": r.status,
                "to_cadre_code": to.code if to else None,
                "at": now,
            }
            for r in rels
        ],
    )


def _task_items(
    rels: list[Relocation], households: dict[str, Household], cadres: dict[str, Cadre]
) -> list[dict[str, Any]]:
    """The households on the recipient's task list: who, where, how many, who visits."""
    return [
        {
            "head": households[r.household_code].head_name,
            "group": households[r.household_code].group_name,
            "address": households[r.household_code].address,
            "members": r.people,
            "status": r.status,
            "cadre": cadres[r.cadre_code].name if r.cadre_code in cadres else "",
            "vulnerabilities": r.vulnerabilities,
        }
        for r in rels
    ]


def _notices(
    *,
    act: Activation,
    village: Village,
    to: Cadre | None,
    step: str,
    batch: str,
    locale: str,
    ctx: dict[str, Any],
) -> list[dict[str, Any]]:
    """An SMS with the count (when the recipient has a phone) and a task list with the names."""
    recipient = to.code if to else village.code
    rows = []
    for channel, template, fmt in (
        (Channel.SMS, "notices/escalation.sms.txt", "text"),
        (Channel.TASK_LIST, "notices/escalation.txt", "text"),
    ):
        if channel == Channel.SMS and not (to and to.phone):
            continue
        rows.append(
            notice_row(
                NoticeKey(act.id, channel.value, "escalation", recipient, batch),
                village_code=village.code,
                audience="cadre",
                recipient=recipient,
                address=to.phone if to and channel == Channel.SMS else None,
                locale=locale,
                subject=f"{village.name}{'拒不转移户带离' if step == STEP_REMOVAL else '未核实转移户'}",
                body=render(template, locale=locale, **ctx).strip(),
                body_format=fmt,
            )
        )
    return rows


def _timeline_text(
    village: Village, rels: list[Relocation], *, to: Cadre | None, step: str, ctx: dict[str, Any]
) -> tuple[str, str]:
    """The timeline's action and detail for the step: counts only, never names."""
    whom = f"{to.title if to else ''}{to.name if to else '镇带班领导'}"
    if step == STEP_REMOVAL:
        return "拒不转移户组织带离", (
            f"{village.name}{len(rels)}户{ctx['people']}人经劝导仍拒不转移，"
            f"已交{whom}依法组织带离（应撤必撤）"
        )
    action = "未核实转移户上报" if step == STEP_SECRETARY else "未核实转移户上报镇领导"
    return action, (
        f"{village.name}{len(rels)}户{ctx['people']}人未确认转移到位"
        f"（其中联系不上{ctx['unreachable']}户、拒绝转移{ctx['refused']}户），"
        f"已交{whom}入户核实"
    )
