"""Figures of an activation, computed from the database, and the reports upward.

Reports carry aggregates only: counts per village, hazard names, road names and
the names of the officials who sign. Never a resident's name, phone or ID number.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as select_rows
from sqlmodel import Session, col, select

from sanqing.db import upsert
from sanqing.errors import AnswerError
from sanqing.labels import label
from sanqing.models import (
    Activation,
    Approval,
    Cadre,
    CadreRole,
    Casualty,
    Channel,
    DutyShift,
    Escalation,
    FeedRecord,
    HazardPoint,
    Inspection,
    InspectionStatus,
    Machine,
    Notice,
    NoticeStatus,
    Patrol,
    Relocation,
    RelocationStatus,
    Report,
    ReportKind,
    RoadIncident,
    RoadSegment,
    RoadStatus,
    TimelineEvent,
    Town,
    Village,
    Zone,
    utcnow,
)
from sanqing.notices import warning_context
from sanqing.plans import Plan
from sanqing.privacy import mask_text
from sanqing.rendering import cn_number, render
from sanqing.response import OCCUPYING, clock, get_activation, hold_town_open, local_tz, log_event
from sanqing.rules.relocation import VULNERABILITIES

#: Households that have left: moved (not yet reported where), in a shelter (集中安置),
#: with relatives (投亲靠友) or removed by the town (带离).
RELOCATED = (
    RelocationStatus.MOVED,
    RelocationStatus.IN_SHELTER,
    RelocationStatus.WITH_RELATIVES,
    RelocationStatus.REMOVED,
)
#: Where a moved household is, in the order the reports name them.
WHEREABOUTS = (
    RelocationStatus.IN_SHELTER,
    RelocationStatus.WITH_RELATIVES,
    RelocationStatus.REMOVED,
    RelocationStatus.MOVED,
    RelocationStatus.RETURNED,
)


def summarize(*, session: Session, activation_id: str) -> dict[str, Any]:
    """Every figure of the activation, as the database has it now (JSON-ready)."""
    act = get_activation(session, activation_id)
    town = session.get(Town, act.town_code)
    assert town is not None
    villages = {
        v.code: v for v in session.exec(select(Village).where(Village.town_code == town.code))
    }
    # Only the columns the figures use: a county town has thousands of relocations.
    rels: list[Any] = list(
        session.execute(
            select_rows(
                col(Relocation.village_code),
                col(Relocation.people),
                col(Relocation.status),
                col(Relocation.shortfall),
                col(Relocation.shelter_code),
                col(Relocation.vulnerabilities),
                col(Relocation.urgent),
            ).where(col(Relocation.activation_id) == activation_id)
        )
    )
    insp: list[Any] = list(
        session.exec(
            select(
                Inspection.village_code,
                Inspection.hazard_code,
                Inspection.status,
                Inspection.finding,
            ).where(Inspection.activation_id == activation_id)
        )
    )
    roads = list(
        session.exec(select(RoadIncident).where(RoadIncident.activation_id == activation_id))
    )
    hazard_names = {
        h.code: h.name
        for h in session.exec(
            select(HazardPoint).where(col(HazardPoint.code).in_({i.hazard_code for i in insp}))
        )
    }
    segments = {
        s.code: s
        for s in session.exec(select(RoadSegment).where(RoadSegment.town_code == town.code))
    }
    machines = {
        m.code: m for m in session.exec(select(Machine).where(Machine.town_code == town.code))
    }
    notices = Counter(
        ch
        for ch in session.exec(
            select(Notice.channel).where(
                Notice.activation_id == activation_id,
                Notice.status != NoticeStatus.SUPERSEDED,
            )
        )
    )
    duty = list(session.exec(select(DutyShift).where(DutyShift.activation_id == activation_id)))
    reports = list(
        session.exec(
            select(Report)
            .where(Report.activation_id == activation_id)
            .order_by(col(Report.created_at))
        )
    )
    relocated = [r for r in rels if r.status in RELOCATED]

    def short(r: Any) -> bool:
        """Still needs a place: refused or returned households need none."""
        return bool(r.shortfall) and r.status in OCCUPYING

    inspected = {i.hazard_code for i in insp if i.status != InspectionStatus.ASSIGNED}
    dangerous = {i.hazard_code for i in insp if i.status == InspectionStatus.DANGER}
    watch = {i.hazard_code for i in insp if i.status == InspectionStatus.WATCH} - dangerous
    casualties = casualty_totals(session, activation_id)
    vuln_counts = {v: sum(1 for r in relocated if v in r.vulnerabilities) for v in VULNERABILITIES}
    rels_by_village: dict[str, list[Any]] = defaultdict(list)
    for r in rels:
        rels_by_village[r.village_code].append(r)
    insp_by_village: dict[str, list[Any]] = defaultdict(list)
    for i in insp:
        insp_by_village[i.village_code].append(i)
    per_village: dict[str, dict[str, Any]] = {}
    # Every village the activation answers for, even one with nothing to inspect or move.
    for code in sorted(
        set(act.village_codes) | {i.village_code for i in insp} | {r.village_code for r in rels}
    ):
        v = villages.get(code)
        vr = rels_by_village.get(code, [])
        vi = insp_by_village.get(code, [])
        per_village[code] = {
            "code": code,
            "name": v.name if v else code,
            "households_to_relocate": len(vr),
            "people_to_relocate": sum(r.people for r in vr),
            "households_relocated": sum(1 for r in vr if r.status in RELOCATED),
            "people_relocated": sum(r.people for r in vr if r.status in RELOCATED),
            "in_shelter": sum(r.people for r in vr if r.status == RelocationStatus.IN_SHELTER),
            "refused": sum(1 for r in vr if r.status == RelocationStatus.REFUSED),
            "unreachable": sum(1 for r in vr if r.status == RelocationStatus.UNREACHABLE),
            "shortfall_people": sum(r.people for r in vr if short(r)),
            "hazard_points_inspected": len(
                {i.hazard_code for i in vi if i.status != InspectionStatus.ASSIGNED}
            ),
            "hazard_points_dangerous": len(
                {i.hazard_code for i in vi if i.status == InspectionStatus.DANGER}
            ),
        }
    return {
        "activation_id": act.id,
        "town": town.name,
        "town_code": town.code,
        "county": town.county,
        "level": act.level,
        "drill": act.drill,
        "status": act.status,
        # 启动依据: warning / county_notice / town_assessment (rows before it was kept: guessed)
        "basis": act.basis or ("warning" if act.warning else "town_assessment"),
        "activated_at": act.activated_at.isoformat(),
        "warning": act.warning.get("identifier") if act.warning else None,
        "villages": len(per_village),
        "village_figures": list(per_village.values()),
        "households_to_relocate": len(rels),
        "people_to_relocate": sum(r.people for r in rels),
        "households_relocated": len(relocated),
        "people_relocated": sum(r.people for r in relocated),
        # Each household once, whatever its kinds; the kinds overlap (one household can
        # be both 独居老人 and 行动不便), so their sum may be larger.
        "vulnerable_households_relocated": sum(1 for r in relocated if r.vulnerabilities),
        "vulnerable_by_kind": vuln_counts,
        # Where the moved households are (households / people per status).
        "whereabouts": {
            s.value: {
                "households": sum(1 for r in rels if r.status == s),
                "people": sum(r.people for r in rels if r.status == s),
            }
            for s in WHEREABOUTS
        },
        "shelters_used": len({r.shelter_code for r in rels if r.shelter_code}),
        "shelter_shortfall_people": sum(r.people for r in rels if short(r)),
        "shelter_shortfall_households": sum(1 for r in rels if short(r)),
        "hazard_points_inspected": len(inspected),
        "hazard_points_dangerous": len(dangerous),
        "hazard_points_watch": len(watch),
        # Points that showed deformation (danger or watch): checked by professionals
        # before anyone they threaten returns.
        "points_to_check": sorted(hazard_names.get(c, c) for c in dangerous | watch),
        "casualties": casualties,
        # One line per dangerous point, even when several phases found it.
        "dangers": [
            {"hazard": hazard_names.get(code, code), "finding": finding}
            for code, finding in sorted(
                {
                    i.hazard_code: i.finding for i in insp if i.status == InspectionStatus.DANGER
                }.items()
            )
        ],
        "roads_blocked": len(roads),
        "roads_cleared": sum(1 for r in roads if r.status == RoadStatus.REOPENED),
        "roads_waiting": sum(1 for r in roads if r.status == RoadStatus.BLOCKED),
        "road_incidents": [
            {
                "road": segments[r.road_code].name if r.road_code in segments else r.road_code,
                "cause": r.cause,
                "status": r.status,
                "machine": machines[r.machine_code].name if r.machine_code in machines else None,
            }
            for r in sorted(roads, key=lambda r: r.road_code)
        ],
        "machines_dispatched": len({r.machine_code for r in roads if r.machine_code}),
        # The roll call (点名): who refused, who nobody reached, who nobody confirmed yet,
        # and how many of them went to a first secretary; the commander's decision.
        "households_refused": sum(1 for r in rels if r.status == RelocationStatus.REFUSED),
        "households_unreachable": sum(1 for r in rels if r.status == RelocationStatus.UNREACHABLE),
        "households_unconfirmed": sum(1 for r in rels if r.status == RelocationStatus.ORDERED),
        "households_escalated": session.exec(  # each household once, however far it went
            select(func.count(func.distinct(Escalation.household_code))).where(
                Escalation.activation_id == act.id
            )
        ).one(),
        "approval": _latest_approval(session, act.id),
        # 三个紧急撤离: ordered at once, before (or without) the commander's approval
        "urgent_households": sum(1 for r in rels if r.urgent),
        "urgent_people": sum(r.people for r in rels if r.urgent),
        "on_duty": len(duty),
        "notices_by_channel": dict(sorted(notices.items())),
        "reports": [{"id": r.id, "kind": r.kind, "seq": r.seq, "late": r.late} for r in reports],
    }


def _latest_approval(session: Session, activation_id: str) -> str | None:
    return session.exec(
        select(Approval.decision)
        .where(Approval.activation_id == activation_id, col(Approval.decision).is_not(None))
        .order_by(col(Approval.decided_at).desc(), col(Approval.id).desc())
    ).first()


#: Figures whose change makes a follow-up report (续报) due.
CHANGE_FIGURES = (
    "households_refused",
    "households_unreachable",
    "households_escalated",
    "approval",
    "level",
    "villages",
    "households_to_relocate",
    "people_to_relocate",
    "households_relocated",
    "people_relocated",
    "whereabouts",
    "shelters_used",
    "shelter_shortfall_people",
    "hazard_points_dangerous",
    "roads_blocked",
    "roads_cleared",
    "casualties",
)


# --- casualties (人员伤亡) -------------------------------------------------------------------


def record_casualties(
    session: Session,
    *,
    activation_id: str,
    dead: int = 0,
    missing: int = 0,
    injured: int = 0,
    note: str = "",
    village_code: str | None = None,
    reported_by: str = "",
    now: datetime | None = None,
) -> Casualty:
    """Record people dead, missing or injured in a response (counts, a short note).

    Each call adds a row; the reports give the sums. The note is masked (no phone or ID
    number reaches a report). Bad input is refused with the field and the reason.
    """
    act = get_activation(session, activation_id)
    problems = [
        f"{name} must be a whole number of people, 0 or more (got {value!r})"
        for name, value in (("dead", dead), ("missing", missing), ("injured", injured))
        if not isinstance(value, int) or isinstance(value, bool) or value < 0
    ]
    if not problems and dead + missing + injured == 0:
        problems.append("dead, missing and injured are all 0: nothing to record")
    if village_code is not None:
        village = session.get(Village, village_code)
        if village is None or village.town_code != act.town_code:
            problems.append(f"village {village_code!r} is not a village of town {act.town_code}")
    if problems:
        raise AnswerError([f"casualties for {activation_id}: {p}" for p in problems])
    now = now or clock(session, activation_id)
    seq = (
        session.exec(
            select(func.count()).select_from(Casualty).where(Casualty.activation_id == act.id)
        ).one()
        + 1
    )
    row = Casualty(
        id=f"{act.id}:{seq}",
        activation_id=act.id,
        village_code=village_code,
        dead=dead,
        missing=missing,
        injured=injured,
        note=mask_text(note.strip()),
        reported_by=reported_by,
        at=now,
    )
    session.add(row)
    parts = [
        f"{label}{n}人" for label, n in (("死亡", dead), ("失踪", missing), ("受伤", injured)) if n
    ]
    log_event(
        session,
        activation_id=act.id,
        key=f"casualties:{seq}",
        actor=reported_by or "镇应急办",
        action="报告人员伤亡",
        detail="、".join(parts) + (f"（{row.note}）" if row.note else ""),
        at=now,
        simulated=act.drill,
    )
    session.flush()
    return row


def casualty_totals(session: Session, activation_id: str) -> dict[str, Any]:
    """The sums of the recorded casualties, with their notes in order."""
    rows = list(
        session.exec(
            select(Casualty)
            .where(Casualty.activation_id == activation_id)
            .order_by(col(Casualty.at), col(Casualty.id))
        )
    )
    return {
        "dead": sum(r.dead for r in rows),
        "missing": sum(r.missing for r in rows),
        "injured": sum(r.injured for r in rows),
        "notes": [r.note for r in rows if r.note],
    }


# --- what the reports say besides the figures ------------------------------------------------

_RAIN_CLAUSE = re.compile(r"\d+(?:\.\d+)?\s*(?:毫米|mm)", re.IGNORECASE)


def rainfall(warning: dict[str, Any] | None) -> str:
    """The rainfall a warning gives (its clauses up to the one with millimetres), or ''.

    ``预计未来6小时内，我县鸡峰镇、小川镇等地将出现50毫米以上强降水`` from a CAP description;
    '' when the warning names no figure (the report then says 雨量数据待报).
    """
    if not warning:
        return ""
    for field in ("description", "headline"):
        text = str(warning.get(field) or "")
        for sentence in re.split(r"[。；;\n]", text):
            if not _RAIN_CLAUSE.search(sentence):
                continue
            body = sentence.split("：", 1)[-1].split(":", 1)[-1]
            clauses = re.split(r"[，,]", body)
            kept = []
            for clause in clauses:
                kept.append(clause.strip())
                if _RAIN_CLAUSE.search(clause):
                    break
            return "，".join(c for c in kept if c)
    return ""


def event_time(session: Session, act: Activation) -> datetime:
    """When the reports' deadlines start: the event, not the activation.

    The warning received (the feed's receipt, else its sent time) when the activation
    has a warning; else the first danger a monitor found; else the activation time.
    """
    if act.warning:
        received = session.exec(
            select(func.min(FeedRecord.received_at)).where(
                FeedRecord.identifier == act.warning_identifier
            )
        ).one()
        if received is not None:
            return received.astimezone(UTC) if received.tzinfo else received.replace(tzinfo=UTC)
        sent = act.warning.get("sent")
        if sent:
            when = sent if isinstance(sent, datetime) else datetime.fromisoformat(str(sent))
            if when.tzinfo is not None:
                return when
    found = session.exec(
        select(func.min(Inspection.inspected_at)).where(
            Inspection.activation_id == act.id, Inspection.status == InspectionStatus.DANGER
        )
    ).one()
    if found is not None:
        return found.astimezone(UTC) if found.tzinfo else found.replace(tzinfo=UTC)
    return act.activated_at


def town_officials(session: Session, town_code: str) -> tuple[Cadre | None, Cadre | None]:
    """签发人 and 联系人: the town's first and second town leader (by code)."""
    leaders = list(
        session.exec(
            select(Cadre)
            .where(Cadre.town_code == town_code, Cadre.role == CadreRole.TOWN_LEADER)
            .order_by(col(Cadre.code))
        )
    )
    signer = leaders[0] if leaders else None
    contact = leaders[1] if len(leaders) > 1 else signer
    return signer, contact


def progress(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What changed between two sets of figures: what a 续报 or 日报 says."""

    def num(key: str) -> int:
        return int(after.get(key) or 0) - int(before.get(key) or 0)

    def where(figs: dict[str, Any], status: RelocationStatus, what: str) -> int:
        return int((figs.get("whereabouts") or {}).get(status.value, {}).get(what, 0))

    old_dangers = {d["hazard"] for d in before.get("dangers", [])}
    old_roads = {r["road"]: r["status"] for r in before.get("road_incidents", [])}
    new_roads = [r for r in after.get("road_incidents", []) if r["road"] not in old_roads]
    cleared = [
        r
        for r in after.get("road_incidents", [])
        if r["status"] == RoadStatus.REOPENED and old_roads.get(r["road"]) != RoadStatus.REOPENED
    ]
    moved = {
        s.value: {
            "households": where(after, s, "households") - where(before, s, "households"),
            "people": where(after, s, "people") - where(before, s, "people"),
        }
        for s in WHEREABOUTS
    }
    roll_call = {
        k: after.get(k, 0)
        for k in ("households_refused", "households_unreachable", "households_escalated")
        if after.get(k) != before.get(k)
    }
    out = {
        "ordered_households": num("households_to_relocate"),
        "ordered_people": num("people_to_relocate"),
        "moved_households": num("households_relocated"),
        "moved_people": num("people_relocated"),
        "moved": moved,
        "new_dangers": [d for d in after.get("dangers", []) if d["hazard"] not in old_dangers],
        "new_roads": new_roads,
        "roads_cleared": cleared,
        "shelters_before": before.get("shelters_used", 0),
        "shelters_changed": after.get("shelters_used") != before.get("shelters_used"),
        "shortfall_changed": after.get("shelter_shortfall_people")
        != before.get("shelter_shortfall_people"),
        "roll_call": roll_call,
        "approval_changed": after.get("approval") != before.get("approval"),
        "level_before": before.get("level"),
        "level_changed": bool(before) and after.get("level") != before.get("level"),
        "casualties_changed": (before.get("casualties") or {}) != (after.get("casualties") or {})
        and bool(before.get("casualties") or any(after.get("casualties", {}).values())),
    }
    out["any"] = any(after.get(k) != before.get(k) for k in CHANGE_FIGURES)
    return out


def _reports_so_far(session: Session, activation_id: str) -> list[Report]:
    return list(
        session.exec(
            select(Report)
            .where(Report.activation_id == activation_id)
            .order_by(col(Report.created_at), col(Report.seq))
        )
    )


# --- the reports -----------------------------------------------------------------------------


def phone_report_task(
    session: Session, *, activation_id: str, plan: Plan, now: datetime | None = None
) -> datetime:
    """The duty officer's task to phone the county 防指 (电话报告), once; its deadline.

    A timeline entry with what to say, in a few words; the deadline counts from the
    event (``event_time``), ``phone_within_minutes`` of the level.
    """
    now = now or clock(session, activation_id)
    act = get_activation(session, activation_id)
    town = session.get(Town, act.town_code)
    assert town is not None
    due = event_time(session, act) + timedelta(
        minutes=plan.level(act.level).reports.phone_within_minutes
    )
    f = summarize(session=session, activation_id=activation_id)
    lv = label("zh-CN", "level", act.level)
    c = f["casualties"]
    hurt = (
        "无人员伤亡"
        if not (c["dead"] or c["missing"] or c["injured"])
        else f"死亡{c['dead']}人、失踪{c['missing']}人、受伤{c['injured']}人"
    )
    script = (
        f"{'演练。' if act.drill else ''}{town.name}已启动防汛{lv}应急响应；"
        f"发现险情{f['hazard_points_dangerous']}处，道路中断{f['roads_blocked']}处；"
        f"应转移{f['households_to_relocate']}户{f['people_to_relocate']}人；{hurt}；"
        f"书面首报随后报送。"
    )
    log_event(
        session,
        activation_id=activation_id,
        key="report:phone",
        actor="镇值班人员",
        action="电话报告县防指",
        detail=f"{due.astimezone(local_tz()):%H时%M分}前电话报告{town.county}防指：{script}"
        + ("（已超时）" if now > due else ""),
        at=now,
        simulated=act.drill,
    )
    return due


def report_upward(
    *,
    session: Session,
    activation_id: str,
    plan: Plan,
    locale: str = "zh-CN",
    now: datetime | None = None,
) -> Report | None:
    """The initial report once; afterwards a numbered follow-up whenever the figures changed.

    Before the first report, the duty officer's phone report (电话报告) is put on the
    timeline. Running it again with nothing new writes nothing and returns the latest
    report. Under the town lock; nothing (None) once the activation has ended: after the
    final report (终报) no follow-up is written.
    """
    if hold_town_open(session, activation_id) is None:
        return None
    reports = _reports_so_far(session, activation_id)
    if not reports:
        phone_report_task(session, activation_id=activation_id, plan=plan, now=now)
        return write_report(
            session=session, activation_id=activation_id, plan=plan, locale=locale, now=now
        )
    latest = reports[-1]
    current = summarize(session=session, activation_id=activation_id)
    before = latest.payload.get("figures", {})
    if all(before.get(k) == current.get(k) for k in CHANGE_FIGURES):
        return latest
    seq = sum(1 for r in reports if r.kind == ReportKind.FOLLOW_UP) + 1
    return write_report(
        session=session,
        activation_id=activation_id,
        plan=plan,
        kind=ReportKind.FOLLOW_UP,
        seq=seq,
        locale=locale,
        now=now,
    )


def daily_report(
    *,
    session: Session,
    activation_id: str,
    plan: Plan,
    locale: str = "zh-CN",
    now: datetime | None = None,
) -> Report | None:
    """The day's report once the day's report time has come; None before it.

    ``seq`` is the local date (20260713). Nothing new and no casualties since the last
    day's report: a zero report (零报告), in its short form. New facts: a 日报 that gives
    them. Written once a day; late after the deadline.
    """
    now = now or clock(session, activation_id)
    local = now.astimezone(local_tz())
    hour, minute = (int(x) for x in plan.defaults.daily_report_at.split(":"))
    due = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    act = hold_town_open(session, activation_id)
    if act is None:  # ended: the final report (终报) was the last word
        return None
    if local < due or act.activated_at.astimezone(local_tz()) >= due:
        return None  # not yet today, or the response began after today's report time
    seq = int(local.strftime("%Y%m%d"))
    deadline = due + timedelta(minutes=plan.defaults.daily_report_within_minutes)
    return write_report(
        session=session,
        activation_id=activation_id,
        plan=plan,
        kind=ReportKind.DAILY,
        seq=seq,
        locale=locale,
        now=now,
        deadline=deadline,
    )


def _base_for(kind: ReportKind, reports: list[Report]) -> Report | None:
    """The report a follow-up or daily report counts progress from."""
    if kind == ReportKind.FOLLOW_UP:
        return reports[-1] if reports else None
    # "Nothing new" for a day is measured since the previous day's report (or the first
    # report): a follow-up written minutes earlier must not make a busy day a zero report.
    dailies = [r for r in reports if r.kind == ReportKind.DAILY]
    return dailies[-1] if dailies else (reports[0] if reports else None)


def _numbered(kind: ReportKind, seq: int, locale: str, zero: bool) -> str:
    if kind == ReportKind.DAILY:  # seq is the date
        day = datetime.strptime(str(seq), "%Y%m%d")
        if locale == "zh-CN":
            return f"{day.month}月{day.day}日{'零报告' if zero else '日报'}"
        return f"{'zero report' if zero else 'daily report'} of {day:%Y-%m-%d}"
    kind_label = label(locale, "report_kind", kind.value)
    if not seq:
        return kind_label
    return kind_label + (cn_number(seq) if locale == "zh-CN" else f" no. {seq}")


def _heading(kind: ReportKind, level: str, locale: str) -> str:
    lv = label(locale, "level", level)
    if locale == "zh-CN":
        if kind == ReportKind.FINAL:
            return f"关于防汛{lv}应急响应结束及处置情况的报告"
        return f"关于防汛{lv}应急响应情况的报告"
    if kind == ReportKind.FINAL:
        return f"Report on the end of the {lv} flood response"
    return f"Report on the {lv} flood response"


def _final_context(
    session: Session, act: Activation, reports: list[Report], figures: dict[str, Any]
) -> dict[str, Any]:
    """What only the final report says: how it ended, who is still being dealt with."""
    patrol = session.get(Patrol, act.id)
    ended = session.get(TimelineEvent, f"{act.id}:stood-down")
    open_rows = list(
        session.exec(
            select(Relocation)
            .where(
                Relocation.activation_id == act.id,
                Relocation.zone == Zone.DANGER,
                col(Relocation.status).in_(
                    [
                        RelocationStatus.ORDERED,
                        RelocationStatus.REFUSED,
                        RelocationStatus.UNREACHABLE,
                    ]
                ),
            )
            .order_by(col(Relocation.village_code), col(Relocation.household_code))
        )
    )
    escalated = {
        e.household_code: e.to_cadre_code
        for e in session.exec(
            select(Escalation)
            .where(Escalation.activation_id == act.id)
            .order_by(col(Escalation.at))
        )
    }
    cadre_codes = {c for r in open_rows for c in (r.cadre_code, escalated.get(r.household_code))}
    cadres = {
        c.code: c
        for c in session.exec(select(Cadre).where(col(Cadre.code).in_(cadre_codes - {None})))
    }
    names = {v["code"]: v["name"] for v in figures["village_figures"]}

    def in_charge(r: Relocation) -> str:
        code = escalated.get(r.household_code) or r.cadre_code
        c = cadres.get(code) if code else None
        return c.name if c else ""

    follow_ups = [r for r in reports if r.kind == ReportKind.FOLLOW_UP]
    return {
        "ended_at": act.stood_down_at,
        "ended_reason": ended.detail if ended else "",
        "patrol": {
            "by": patrol.confirmed_by if patrol else "",
            "at": patrol.confirmed_at if patrol else None,
            "all_clear": patrol.all_clear if patrol else None,
            "remarks": patrol.remarks if patrol else "",
        },
        "unaccounted": [
            {
                "village": names.get(r.village_code, r.village_code),
                "household": r.household_code,
                "status": r.status,
                "cadre": in_charge(r),
            }
            for r in open_rows
        ],
        "history": {
            "initial": sum(1 for r in reports if r.kind == ReportKind.INITIAL),
            "follow_ups": len(follow_ups),
            "dailies": sum(1 for r in reports if r.kind == ReportKind.DAILY),
            "late": sum(1 for r in reports if r.late),
        },
    }


def write_report(
    *,
    session: Session,
    activation_id: str,
    plan: Plan,
    kind: ReportKind = ReportKind.INITIAL,
    seq: int = 0,
    locale: str = "zh-CN",
    now: datetime | None = None,
    deadline: datetime | None = None,
) -> Report:
    """Write the report once (text, HTML, JSON payload); a re-run returns the one written.

    Each kind has its own templates (``reports/<kind>.txt`` / ``.html``): 首报 the full
    picture, 续报 and 日报 what changed since the report before, 零报告 its short form,
    终报 the end, the course, where everyone is and how they return.
    """
    now = now or clock(session, activation_id)
    report_id = f"{activation_id}:{kind.value}:{seq}"
    existing = session.get(Report, report_id)
    if existing is not None:
        return existing
    act: Activation = get_activation(session, activation_id)
    town = session.get(Town, act.town_code)
    assert town is not None
    deadlines = plan.level(act.level).reports
    event_at = event_time(session, act)
    reports = _reports_so_far(session, activation_id)
    figures = summarize(session=session, activation_id=activation_id)
    base = _base_for(kind, reports) if kind in (ReportKind.FOLLOW_UP, ReportKind.DAILY) else None
    before = base.payload.get("figures", {}) if base else {}
    changes = progress(before, figures) if base else None
    c = figures["casualties"]
    zero = (
        kind == ReportKind.DAILY
        and changes is not None
        and not changes["any"]
        and not (c["dead"] or c["missing"] or c["injured"])
    )
    if deadline is not None:
        pass
    elif kind == ReportKind.INITIAL:
        deadline = event_at + timedelta(minutes=deadlines.initial_within_minutes)
    elif kind == ReportKind.FINAL:
        deadline = (act.stood_down_at or now) + timedelta(hours=deadlines.follow_up_every_hours)
    else:
        deadline = act.activated_at + timedelta(hours=deadlines.follow_up_every_hours * max(seq, 1))
    late = now > deadline
    signer, contact = town_officials(session, town.code)
    numbered = _numbered(kind, seq, locale, zero)
    heading = _heading(kind, act.level, locale)
    if locale == "zh-CN":
        title = f"{'【演练】' if act.drill else ''}{town.office}{heading}（{numbered}）"
    else:
        title = f"{'[DRILL] ' if act.drill else ''}{town.office}: {heading} ({numbered})"
    ctx = {
        "title": title,
        "heading": heading,
        "kind": kind.value,
        "numbered": numbered,
        "seq": seq,
        "drill": act.drill,
        "town": {
            "name": town.name,
            "office": town.office,
            "duty_phone": town.duty_phone,
            "county": town.county,
        },
        "level": act.level,
        "basis": act.basis or "",
        "warning": warning_context(act.warning, locale),
        "rain": rainfall(act.warning),
        "event_at": event_at,
        "activated_at": act.activated_at,
        "now": now,
        "deadline": deadline,
        "late": late,
        "late_minutes": int((now - deadline).total_seconds() // 60) if late else 0,
        "phone_due": event_at + timedelta(minutes=deadlines.phone_within_minutes),
        "zero": zero,
        "f": figures,
        "since": {
            "numbered": _numbered(ReportKind(base.kind), base.seq, locale, False) if base else "",
            "at": base.created_at if base else None,
        },
        "changes": changes,
        "signer": {"name": signer.name, "title": signer.title} if signer else None,
        "contact": {"name": contact.name, "title": contact.title} if contact else None,
    }
    if kind == ReportKind.FINAL:
        ctx["final"] = _final_context(session, act, reports, figures)
    text = render(f"reports/{kind.value}.txt", locale=locale, **ctx)
    # The printable page gives the same text, paragraph by paragraph (escaped).
    html = render(f"reports/{kind.value}.html", locale=locale, lines=text.splitlines(), **ctx)
    payload = {
        "report_id": report_id,
        "kind": kind.value,
        "seq": seq,
        "title": title,
        "town_code": town.code,
        "town": town.name,
        "level": act.level,
        "drill": act.drill,
        "activated_at": act.activated_at.isoformat(),
        "event_at": event_at.isoformat(),
        "reported_at": now.isoformat(),
        "deadline_at": deadline.isoformat(),
        "late": late,
        "zero": zero,
        "figures": {k: v for k, v in figures.items() if k not in {"reports"}},
    }
    upsert(
        session,
        Report,
        [
            {
                "id": report_id,
                "activation_id": activation_id,
                "kind": kind.value,
                "seq": seq,
                "title": title,
                "text": text,
                "html": html,
                "payload": payload,
                "locale": locale,
                "deadline_at": deadline,
                "created_at": now,
                "late": late,
            }
        ],
    )
    # The report goes up through the outbox like every notice (channel "county").
    upsert(
        session,
        Notice,
        [
            {
                "id": f"{activation_id}:county:report:{kind.value}:{seq}",
                "activation_id": activation_id,
                "village_code": None,
                "channel": Channel.COUNTY.value,
                "purpose": f"report:{kind.value}",
                "audience": "county",
                "recipient": town.county_code,
                "address": None,
                "locale": locale,
                "subject": title,
                "body": text,
                "body_format": "text",
                "status": NoticeStatus.PENDING.value,
                "attempts": 0,
                "created_at": utcnow(),  # the outbox keeps wall time, a drill too
                "payload": payload,
            }
        ],
    )
    log_event(
        session,
        activation_id=activation_id,
        key=f"report:{kind.value}:{seq}",
        actor=town.office,
        action=f"报送{label('zh-CN', 'report_kind', kind.value)}",
        detail=title + ("（超时）" if late else ""),
        at=now,
        simulated=act.drill,
    )
    session.flush()
    report = session.get(Report, report_id)
    assert report is not None
    return report
