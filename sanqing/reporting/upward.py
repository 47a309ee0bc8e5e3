"""The reports upward (首报, 续报, 终报, 日报) and the phone report: numbered, rendered, stored, sent.

Each kind has its own templates (``reports/<kind>.txt`` / ``.html``) in both locales.
What a report says is drafted in ``drafts`` (the final report's own part in ``final``);
here it is decided when one is due, then it is stored and sent up through the outbox.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from sanqing.db import upsert
from sanqing.labels import label
from sanqing.models import Channel, Report, ReportKind, Town
from sanqing.outbox.keys import NoticeKey
from sanqing.outbox.rendering import render
from sanqing.outbox.writer import notice_row, put
from sanqing.plans import Plan
from sanqing.reporting.drafts import (
    ReportDraft,
    draft_report,
    report_context,
    report_payload,
    reports_so_far,
)
from sanqing.reporting.figures import CHANGE_FIGURES, summarize
from sanqing.reporting.wording import event_time
from sanqing.response import clock, get_activation, hold_town_open, local_tz, log_event

# --- the reports -----------------------------------------------------------------------------


def phone_report_task(
    session: Session,
    *,
    activation_id: str,
    plan: Plan,
    now: datetime | None = None,
    figures: dict[str, Any] | None = None,
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
    f = figures if figures is not None else summarize(session=session, activation_id=activation_id)
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
    reports = reports_so_far(session, activation_id)
    # The figures once: the phone report's timeline entry does not change them.
    current = summarize(session=session, activation_id=activation_id)
    if not reports:
        phone_report_task(session, activation_id=activation_id, plan=plan, now=now, figures=current)
        return write_report(
            session=session,
            activation_id=activation_id,
            plan=plan,
            locale=locale,
            now=now,
            figures=current,
        )
    latest = reports[-1]
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
        figures=current,
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
    figures: dict[str, Any] | None = None,
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
    draft = draft_report(
        session,
        activation_id=activation_id,
        plan=plan,
        kind=kind,
        seq=seq,
        locale=locale,
        now=now,
        deadline=deadline,
        figures=figures,
    )
    ctx = report_context(session, draft, plan)
    text = render(f"reports/{kind.value}.txt", locale=locale, **ctx)
    # The printable page gives the same text, paragraph by paragraph (escaped).
    html = render(f"reports/{kind.value}.html", locale=locale, lines=text.splitlines(), **ctx)
    payload = report_payload(draft)
    _store(session, draft, text=text, html=html, payload=payload)
    _send_upward(session, draft, text=text, payload=payload)
    log_event(
        session,
        activation_id=activation_id,
        key=f"report:{kind.value}:{seq}",
        actor=draft.town.office,
        action=f"报送{label('zh-CN', 'report_kind', kind.value)}",
        detail=draft.title + ("（超时）" if draft.late else ""),
        at=now,
        simulated=draft.act.drill,
    )
    session.flush()
    report = session.get(Report, report_id)
    assert report is not None
    return report


def _store(
    session: Session, draft: ReportDraft, *, text: str, html: str, payload: dict[str, Any]
) -> None:
    """Keep the report: its text, printable page and payload, its deadline, late or not."""
    upsert(
        session,
        Report,
        [
            {
                "id": draft.report_id,
                "activation_id": draft.act.id,
                "kind": draft.kind.value,
                "seq": draft.seq,
                "title": draft.title,
                "text": text,
                "html": html,
                "payload": payload,
                "locale": draft.locale,
                "deadline_at": draft.deadline,
                "created_at": draft.now,
                "late": draft.late,
            }
        ],
    )


def _send_upward(
    session: Session, draft: ReportDraft, *, text: str, payload: dict[str, Any]
) -> None:
    """The report goes up through the outbox like every notice (channel "county")."""
    kind = draft.kind.value
    key = NoticeKey(draft.act.id, Channel.COUNTY, "report", kind, str(draft.seq))
    row = notice_row(
        key,
        purpose=f"report:{kind}",
        village_code=None,
        audience="county",
        recipient=draft.town.county_code,
        address=None,
        locale=draft.locale,
        subject=draft.title,
        body=text,
        payload=payload,
    )
    put(session, [row])
