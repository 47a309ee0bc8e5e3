"""Notices for residents and cadres, rendered into the outbox (step 3's output).

Every notice is a row of the outbox (``Notice``) with a stable id
``<activation>:<channel>:<purpose>:<recipient>`` before anything is sent, so a
re-run adds nothing and a delivery that failed can be retried.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlmodel import Session, col, select

from sanqing.labels import group_order, label
from sanqing.models import (
    Cadre,
    CadreRole,
    Channel,
    HazardPoint,
    Household,
    Inspection,
    Notice,
    Relocation,
    SafetyRating,
    Shelter,
    Town,
    Village,
)
from sanqing.outbox import sms
from sanqing.outbox.cards import household_card, load_book, person, shelter_context, town_context
from sanqing.outbox.keys import NoticeKey
from sanqing.outbox.rendering import render
from sanqing.outbox.writer import notice_row, put, supersede
from sanqing.plans import Plan
from sanqing.response import clock, hold_open, lock_village, log_event, read_rows
from sanqing.warning import WarningInfo

#: House ratings whose residents are told their house is unsafe in heavy rain.
UNSAFE_HOUSE_RATINGS = frozenset({SafetyRating.C, SafetyRating.D})
#: Notices that are re-issued when their content changes (one per cadre or village).
VERSIONED = frozenset({Channel.WECHAT, Channel.LOUDSPEAKER, Channel.DOOR_VISIT, Channel.TASK_LIST})


def _digest(ctx: dict[str, Any]) -> str:
    """A short stable digest of what a notice says (not when it was generated)."""
    text = json.dumps(ctx, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class NoticeResult:
    village_code: str
    created: int
    by_channel: dict[str, int]
    closed: bool = False  # the activation had ended: nothing was written


#: How a warning is named to residents: 暴雨橙色预警信号, 山洪灾害气象风险橙色预警.
FORMAL_WARNING_NAMES = {
    "zh-CN": {
        "rainstorm": "暴雨{colour}预警信号",
        "geological": "地质灾害气象风险{colour}预警",
        "flood": "山洪灾害气象风险{colour}预警",
    },
    "en": {
        "rainstorm": "rainstorm {colour} warning signal",
        "geological": "geological hazard weather risk {colour} warning",
        "flood": "flash flood weather risk {colour} warning",
    },
}


def warning_context(warning: dict[str, Any] | None, locale: str) -> dict[str, Any]:
    """A warning as notices name it; ``formal`` is its official name (…预警信号)."""
    if not warning:
        return {
            "present": False,
            "title": "",
            "formal": "",
            "headline": "",
            "sender": "",
            "sent": None,
        }
    w = WarningInfo.model_validate(warning)
    title = (
        w.label_zh
        if locale == "zh-CN"
        else f"{label(locale, 'hazard', w.hazard)} {label(locale, 'colour', w.colour)} warning"
    )
    pattern = FORMAL_WARNING_NAMES[locale].get(w.hazard)
    formal = pattern.format(colour=label(locale, "colour", w.colour)) if pattern else title
    return {
        "present": True,
        "title": title,
        "formal": formal,
        "headline": w.headline,
        "sender": w.sender,
        "sent": w.sent,
        "colour": w.colour.value,
        "hazard": w.hazard,
    }


def _cadre_ctx(c: Any, locale: str) -> dict[str, Any]:
    """A cadre (model or row) as template context; ``None`` gives blanks."""
    return person(c, locale)


def sms_signature(plan: Plan, town: Town) -> str:
    """The signature the SMS platform adds: the plan's, else 【<county><office>】."""
    return plan.defaults.sms_signature or sms.signature(county=town.county, office=town.office)


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
    now = now or clock(session, activation_id)
    held = hold_open(session, activation_id)
    if held is None:
        return NoticeResult(village_code=village_code, created=0, by_channel={}, closed=True)
    act = held
    lock_village(session, village_code)
    channels = set(plan.level(act.level).notify)
    town = session.get(Town, act.town_code)
    village = session.get(Village, village_code)
    assert town is not None and village is not None
    have = set(
        session.exec(
            select(Notice.id).where(
                Notice.activation_id == activation_id, Notice.village_code == village_code
            )
        )
    )
    households = {
        h.code: h for h in read_rows(session, Household, Household.village_code == village_code)
    }
    relocations = read_rows(
        session,
        Relocation,
        Relocation.activation_id == activation_id,
        Relocation.village_code == village_code,
        order_by=(col(Relocation.priority), col(Relocation.household_code)),
    )
    shelters = {
        s.code: s for s in session.exec(select(Shelter).where(Shelter.town_code == town.code))
    }
    cadres = {c.code: c for c in read_rows(session, Cadre, Cadre.town_code == town.code)}
    hazard_codes = {code for r in relocations for code in r.hazard_codes}
    village_hazards = list(
        session.exec(
            select(HazardPoint)
            .where(HazardPoint.village_code == village_code)
            .order_by(col(HazardPoint.code))
        )
    )
    hazards = {h.code: h for h in village_hazards}
    missing = hazard_codes - set(hazards)
    if missing:
        hazards.update(
            {
                h.code: h
                for h in session.exec(select(HazardPoint).where(col(HazardPoint.code).in_(missing)))
            }
        )
    first_secretary = next(
        (
            c
            for c in cadres.values()
            if c.village_code == village_code and c.role == CadreRole.FIRST_SECRETARY
        ),
        None,
    )
    book = load_book(session, town_code=town.code, village_code=village_code)
    signature = sms_signature(plan, town)
    common = {
        "drill": act.drill,
        "town": town_context(town),
        "village": {"code": village.code, "name": village.name},
        "level": act.level,
        "level_name": plan.level(act.level).name,
        "warning": warning_context(act.warning, locale),
        "first_secretary": _cadre_ctx(first_secretary, locale),
        "generated_at": now,
        "issued_on": now,
        "repeats": plan.defaults.broadcast_repeats,
    }
    rows: list[dict[str, Any]] = []
    too_long: list[str] = []
    superseded: list[str] = []  # id prefixes whose older pending versions are replaced
    same_for_all: dict[str, str] = {}

    def add(
        channel: Channel,
        purpose: str,
        audience: str,
        recipient: str,
        address: str | None,
        subject: str,
        template: str,
        body_format: str = "text",
        **ctx: Any,
    ) -> None:
        key = NoticeKey(activation_id, channel.value, purpose, recipient)
        if channel in VERSIONED:
            # Lists and village messages change when the response grows (escalation, new
            # findings): a new version gets its own id and replaces the pending old one.
            key = key.versioned(_digest(ctx | {"level": act.level, "warning": common["warning"]}))
            if str(key) not in have:
                superseded.append(key.stem)
        nid = str(key)
        if nid in have:
            return
        # A notice without a recipient's own context (the warning SMS) is the same
        # text for the whole village: render it once.
        body = same_for_all.get(template) if not ctx else None
        if body is None:
            body = render(template, locale=locale, **common, **ctx)
            if body_format == "text":
                body = body.strip()
            if not ctx:
                same_for_all[template] = body
        if channel == Channel.SMS:
            # The platform refuses 【】 in a body (a name from the ledger may hold them)
            # and puts the signature in front: the length counts it.
            body = sms.clean_body(body)
            if sms.segments(signature + body) > plan.defaults.sms_max_segments:
                too_long.append(recipient)
        rows.append(
            notice_row(
                key,
                village_code=village_code,
                audience=audience,
                recipient=recipient,
                address=address,
                locale=locale,
                subject=subject,
                body=body,
                body_format=body_format,
                # What the platform puts in front: the print folder shows it as received.
                payload={"signature": signature} if channel == Channel.SMS else None,
            )
        )

    def shelter_ctx(code: str | None) -> dict[str, Any] | None:
        return shelter_context(book, shelters.get(code or ""), locale)

    def hazard_ctx(h: HazardPoint) -> dict[str, Any]:
        return _hazard_ctx(h.code)

    # One context per hazard point and per move, however many notices use it.
    @cache
    def _hazard_ctx(code: str) -> dict[str, Any]:
        h = hazards[code]
        return {
            "code": h.code,
            "name": h.name,
            "kind": label(locale, "hazard_kind", h.kind),
            "risk": label(locale, "risk", h.risk),
            "warning_signal": h.warning_signal,
            "evacuation_route": h.evacuation_route,
            "kind_code": h.kind,
        }

    def move_ctx(r: Any) -> dict[str, Any]:
        return _move_ctx(r.household_code)

    @cache
    def _move_ctx(household_code: str) -> dict[str, Any]:
        r = moving[household_code]
        h = households[household_code]
        zones = dict(book.threats.get(household_code, []))
        return {
            "priority": r.priority,
            "household_code": h.code,
            "head_name": h.head_name,
            "group": h.group_name,
            "address": h.address,
            "people": r.people,
            "phone": h.phone or "",
            "vulnerabilities": [label(locale, "vulnerability", v) for v in r.vulnerabilities],
            "zone": label(locale, "zone", r.zone),
            "reasons": [label(locale, "reason", x) for x in r.reasons],
            # Each hazard with the zone this household is in for it (滑坡危险区, 泥石流威胁区).
            "hazards": [
                _hazard_ctx(c)
                | {
                    "zone": label(locale, "zone", zones[c]) if c in zones else "",
                    "zone_code": zones.get(c, ""),
                }
                for c in r.hazard_codes
                if c in hazards
            ],
            "safety_rating": h.safety_rating,
            "house_unsafe": h.safety_rating in UNSAFE_HOUSE_RATINGS,
            "found_danger": "danger_finding" in r.reasons,
            "shelter": shelter_ctx(r.shelter_code),
            "shortfall": r.shortfall,
        }

    moving = {r.household_code: r for r in relocations}
    if Channel.SMS in channels:
        for code in sorted(households):
            h = households[code]
            if not h.phone:
                continue  # no phone: the door-visit list reaches this household
            r = moving.get(code)
            if r is not None:
                m = move_ctx(r)
                add(
                    Channel.SMS,
                    "relocation",
                    "resident",
                    code,
                    h.phone,
                    "转移通知" if locale == "zh-CN" else "Relocation order",
                    "notices/relocation.sms.txt",
                    move=m,
                    cadre=_cadre_ctx(cadres.get(r.cadre_code or ""), locale),
                )
            else:
                add(
                    Channel.SMS,
                    "warning",
                    "resident",
                    code,
                    h.phone,
                    "预警提醒" if locale == "zh-CN" else "Warning",
                    "notices/warning.sms.txt",
                )
    groups = sorted({households[r.household_code].group_name for r in relocations}, key=group_order)
    used_shelters = sorted(
        {r.shelter_code for r in relocations if r.shelter_code},
    )
    # Only shelters that really took this village's households: never send people to a
    # shelter without room.
    village_shelters = [shelter_ctx(s) for s in used_shelters]
    # Which 社 goes where, for the loudspeaker: 社 sent to the same shelters are said together.
    group_shelters: dict[str, set[str]] = defaultdict(set)
    for r in relocations:
        group_shelters[households[r.household_code].group_name].add(r.shelter_code or "")
    same_way: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for g in groups:
        same_way[tuple(sorted(group_shelters[g]))].append(g)
    summary = {
        "households": len(relocations),
        "people": sum(r.people for r in relocations),
        "groups": groups,
        "group_shelters": [
            {
                "groups": gs,
                "shelters": [shelter_ctx(c) for c in codes if c],
                "shortfall": "" in codes,
            }
            for codes, gs in same_way.items()
        ],
        "shelters": [s for s in village_shelters if s],
        "hazards": [hazard_ctx(h) for h in village_hazards],
    }
    if Channel.WECHAT in channels:
        add(
            Channel.WECHAT,
            "group",
            "group",
            village_code,
            None,
            f"{village.name}村民群",
            "notices/group.wechat.txt",
            summary=summary,
        )
    if Channel.LOUDSPEAKER in channels:
        add(
            Channel.LOUDSPEAKER,
            "broadcast",
            "public",
            village_code,
            None,
            f"{village.name}流动喇叭",
            "notices/broadcast.loudspeaker.txt",
            summary=summary,
        )
    by_cadre: dict[str, list[Any]] = defaultdict(list)
    for r in relocations:
        if r.cadre_code:
            by_cadre[r.cadre_code].append(r)
    if Channel.DOOR_VISIT in channels:
        for cadre_code, rs in sorted(by_cadre.items()):
            c = cadres.get(cadre_code)
            add(
                Channel.DOOR_VISIT,
                "door_visit",
                "cadre",
                cadre_code,
                c.phone if c else None,
                f"{village.name}入户叫应清单",
                "notices/door_visit.html",
                body_format="html",
                cadre=_cadre_ctx(c, locale),
                moves=[move_ctx(r) for r in rs],
            )
    if Channel.CARD in channels:
        # Cards are handed out before the flood season (`sanqing cards`): a response
        # prints only those of moving households the registry says are still missing.
        for r in relocations:
            h = households[r.household_code]
            if h.card_issued:
                continue
            add(
                Channel.CARD,
                "card",
                "resident",
                h.code,
                None,
                "避险明白卡" if locale == "zh-CN" else "Evacuation card",
                "notices/card.html",
                body_format="html",
                card=household_card(
                    book,
                    h,
                    locale=locale,
                    shelter=shelters.get(r.shelter_code or ""),
                    hazard_codes=list(r.hazard_codes),
                    cadre_code=r.cadre_code,
                ),
            )
    if Channel.TASK_LIST in channels:
        inspections = defaultdict(list)
        for i in session.exec(
            select(Inspection)
            .where(
                Inspection.activation_id == activation_id, Inspection.village_code == village_code
            )
            .order_by(col(Inspection.hazard_code), col(Inspection.phase))
        ):
            if i.inspector_code:
                inspections[i.inspector_code].append(
                    {
                        "hazard": hazard_ctx(hazards[i.hazard_code]),
                        "phase": label(locale, "phase", i.phase),
                        "status": label(locale, "inspection", i.status),
                        "finding": i.finding,
                        "checklist": i.checklist,
                    }
                )
        for cadre_code in sorted(set(by_cadre) | set(inspections)):
            c = cadres.get(cadre_code)
            add(
                Channel.TASK_LIST,
                "tasks",
                "cadre",
                cadre_code,
                c.phone if c else None,
                "任务单" if locale == "zh-CN" else "Task list",
                "notices/tasks.txt",
                cadre=_cadre_ctx(c, locale),
                moves=[move_ctx(r) for r in by_cadre.get(cadre_code, [])],
                inspections=inspections.get(cadre_code, []),
            )
    # Older versions are among the ids already loaded: no scan of the outbox.
    older = [nid for nid in have if any(nid.startswith(prefix) for prefix in superseded)]
    supersede(session, older)
    put(session, rows)
    if too_long:
        # Sent whole all the same: a cut order is worse than a long one.
        log_event(
            session,
            activation_id=activation_id,
            key=f"sms-too-long:{village_code}",
            actor="sanqing",
            action="短信超长",
            detail=f"{len(too_long)}条短信超过{plan.defaults.sms_max_segments}条计费长度，仍完整发送",
            at=now,
        )
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row["channel"]] += 1
    return NoticeResult(village_code=village_code, created=len(rows), by_channel=dict(counts))
