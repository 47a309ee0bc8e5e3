"""The reports upward (首报, 续报, 终报, 日报) and the phone report: numbered, rendered, stored, sent.

Each kind has its own templates (``reports/<kind>.txt`` / ``.html``) in both locales.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from sanqing.db import upsert
from sanqing.labels import label
from sanqing.models import (
    Activation,
    Cadre,
    Channel,
    Escalation,
    Patrol,
    Relocation,
    RelocationStatus,
    Report,
    ReportKind,
    TimelineEvent,
    Town,
    Zone,
)
from sanqing.outbox.contexts import warning_context
from sanqing.outbox.keys import NoticeKey
from sanqing.outbox.rendering import cn_number, render
from sanqing.outbox.writer import notice_row, put
from sanqing.plans import Plan
from sanqing.reporting.figures import CHANGE_FIGURES, progress, summarize
from sanqing.reporting.wording import event_time, rainfall, town_officials
from sanqing.response import clock, get_activation, hold_town_open, local_tz, log_event


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
    key = NoticeKey(activation_id, Channel.COUNTY.value, "report", kind.value, str(seq))
    row = notice_row(
        key,
        purpose=f"report:{kind.value}",
        village_code=None,
        audience="county",
        recipient=town.county_code,
        address=None,
        locale=locale,
        subject=title,
        body=text,
        payload=payload,
    )
    put(session, [row])
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
