"""Figures of an activation, computed from the database, and the reports upward.

Reports carry aggregates only: counts per village, hazard names, road names and
the names of the officials who sign. Never a resident's name, phone or ID number.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as select_rows
from sqlmodel import Session, col, select

from sanqing.db import upsert
from sanqing.labels import label
from sanqing.models import (
    Activation,
    Approval,
    Cadre,
    Channel,
    DutyShift,
    Escalation,
    HazardPoint,
    Inspection,
    InspectionStatus,
    Machine,
    Notice,
    NoticeStatus,
    Relocation,
    RelocationStatus,
    Report,
    ReportKind,
    RoadIncident,
    RoadSegment,
    RoadStatus,
    Town,
    Village,
    utcnow,
)
from sanqing.notices import warning_context
from sanqing.plans import Plan
from sanqing.rendering import cn_number, render
from sanqing.response import OCCUPYING, _local_tz, get_activation, hold_town_open, log_event
from sanqing.rules.relocation import VULNERABILITIES

#: Out of harm's way: moved, in a shelter, with relatives (投亲靠友) or removed (带离).
RELOCATED = (
    RelocationStatus.MOVED,
    RelocationStatus.IN_SHELTER,
    RelocationStatus.WITH_RELATIVES,
    RelocationStatus.REMOVED,
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
        "vulnerable_households_relocated": sum(1 for r in relocated if r.vulnerabilities),
        "vulnerable_by_kind": vuln_counts,
        "shelters_used": len({r.shelter_code for r in rels if r.shelter_code}),
        "shelter_shortfall_people": sum(r.people for r in rels if short(r)),
        "shelter_shortfall_households": sum(1 for r in rels if short(r)),
        "hazard_points_inspected": len(inspected),
        "hazard_points_dangerous": len(dangerous),
        "hazard_points_watch": len(watch),
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
    "shelter_shortfall_people",
    "hazard_points_dangerous",
    "roads_blocked",
    "roads_cleared",
)


def report_upward(
    *,
    session: Session,
    activation_id: str,
    plan: Plan,
    locale: str = "zh-CN",
    now: datetime | None = None,
) -> Report | None:
    """The initial report once; afterwards a numbered follow-up whenever the figures changed.

    Running it again with nothing new writes nothing and returns the latest report.
    Under the town lock; nothing (None) once the activation has ended: after the
    final report (终报) no follow-up is written.
    """
    if hold_town_open(session, activation_id) is None:
        return None
    reports = list(
        session.exec(
            select(Report)
            .where(Report.activation_id == activation_id)
            .order_by(col(Report.created_at), col(Report.seq))
        )
    )
    if not reports:
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
    """The day's report (日报) once the day's report time has come; None before it.

    ``seq`` is the local date (20260713). Nothing changed since the last report: a
    zero report (零报告) that says so. Written once a day; late after the deadline.
    """
    now = now or utcnow()
    local = now.astimezone(_local_tz())
    hour, minute = (int(x) for x in plan.defaults.daily_report_at.split(":"))
    due = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    act = hold_town_open(session, activation_id)
    if act is None:  # ended: the final report (终报) was the last word
        return None
    if local < due or act.activated_at.astimezone(_local_tz()) >= due:
        return None  # not yet today, or the response began after today's report time
    seq = int(local.strftime("%Y%m%d"))
    # "Nothing changed" is measured since the previous day's report (or the first report):
    # a follow-up written minutes earlier must not make a busy day a zero report.
    reports = list(
        session.exec(
            select(Report)
            .where(Report.activation_id == activation_id)
            .order_by(col(Report.created_at), col(Report.seq))
        )
    )
    dailies = [r for r in reports if r.kind == ReportKind.DAILY]
    base = dailies[-1] if dailies else (reports[0] if reports else None)
    current = summarize(session=session, activation_id=activation_id)
    before = base.payload.get("figures", {}) if base else {}
    zero = base is not None and all(before.get(k) == current.get(k) for k in CHANGE_FIGURES)
    deadline = due + timedelta(minutes=plan.defaults.daily_report_within_minutes)
    return write_report(
        session=session,
        activation_id=activation_id,
        plan=plan,
        kind=ReportKind.DAILY,
        seq=seq,
        locale=locale,
        now=now,
        zero=zero,
        deadline=deadline,
    )


def write_report(
    *,
    session: Session,
    activation_id: str,
    plan: Plan,
    kind: ReportKind = ReportKind.INITIAL,
    seq: int = 0,
    locale: str = "zh-CN",
    now: datetime | None = None,
    zero: bool = False,
    deadline: datetime | None = None,
) -> Report:
    """Write the report once (text, HTML, JSON payload); a re-run returns the one written."""
    now = now or utcnow()
    report_id = f"{activation_id}:{kind.value}:{seq}"
    existing = session.get(Report, report_id)
    if existing is not None:
        return existing
    act: Activation = get_activation(session, activation_id)
    town = session.get(Town, act.town_code)
    assert town is not None
    deadlines = plan.level(act.level).reports
    if deadline is not None:
        pass
    elif kind == ReportKind.INITIAL:
        deadline = act.activated_at + timedelta(minutes=deadlines.initial_within_minutes)
    else:
        deadline = act.activated_at + timedelta(hours=deadlines.follow_up_every_hours * max(seq, 1))
    late = now > deadline
    figures = summarize(session=session, activation_id=activation_id)
    signer = session.get(Cadre, act.commander_code) if act.commander_code else None
    kind_label = label(locale, "report_kind", kind.value)
    if kind == ReportKind.DAILY:  # seq is the date
        day = datetime.strptime(str(seq), "%Y%m%d")
        numbered = (
            f"{day.month}月{day.day}日{kind_label}"
            if locale == "zh-CN"
            else f"{kind_label} of {day:%Y-%m-%d}"
        )
    else:
        numbered = kind_label + (
            (cn_number(seq) if locale == "zh-CN" else f" no. {seq}") if seq else ""
        )
    prefix = "【演练】" if act.drill and locale == "zh-CN" else ("[DRILL] " if act.drill else "")
    if locale == "zh-CN":
        title = f"{prefix}{town.name}关于启动防汛{label(locale, 'level', act.level)}应急响应情况的报告（{numbered}）"
    else:
        title = (
            f"{prefix}{town.name}: flood response {label(locale, 'level', act.level)}, {numbered}"
        )
    ctx = {
        "title": title,
        "kind": kind.value,
        "kind_label": kind_label,
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
        "level_name": plan.level(act.level).name,
        "warning": warning_context(act.warning, locale),
        "activated_at": act.activated_at,
        "now": now,
        "deadline": deadline,
        "late": late,
        "late_minutes": int((now - deadline).total_seconds() // 60) if late else 0,
        "zero": zero,
        "f": figures,
        "signer": {"name": signer.name, "title": signer.title}
        if signer
        else {"name": "", "title": ""},
    }
    text = render("reports/initial.txt", locale=locale, **ctx)
    html = render("reports/initial.html", locale=locale, **ctx)
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
                "created_at": now,
                "payload": payload,
            }
        ],
    )
    log_event(
        session,
        activation_id=activation_id,
        key=f"report:{kind.value}:{seq}",
        actor=town.office,
        action=f"报送{kind_label}",
        detail=title + ("（超时）" if late else ""),
        at=now,
        simulated=act.drill,
    )
    session.flush()
    report = session.get(Report, report_id)
    assert report is not None
    return report
