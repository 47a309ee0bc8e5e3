"""A report before it is stored: which it is, its number, title and deadline, what it says.

``draft_report`` gathers what a report is written from (the figures now, the report
it counts progress from, when it is due); ``report_context`` is what its templates
get and ``report_payload`` what the county's receiver gets as JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from sanqing.labels import label
from sanqing.models import Activation, Report, ReportKind, Town
from sanqing.outbox.contexts import warning_context
from sanqing.outbox.rendering import cn_number
from sanqing.plans import Plan
from sanqing.reporting.figures import progress, summarize
from sanqing.reporting.final import final_context
from sanqing.reporting.wording import event_time, rainfall, town_officials
from sanqing.response import get_activation


def reports_so_far(session: Session, activation_id: str) -> list[Report]:
    """The activation's reports, oldest first."""
    return list(
        session.exec(
            select(Report)
            .where(Report.activation_id == activation_id)
            .order_by(col(Report.created_at), col(Report.seq))
        )
    )


@dataclass(frozen=True)
class ReportDraft:
    """One report being written, from the figures as they are now."""

    kind: ReportKind
    seq: int
    locale: str
    act: Activation
    town: Town
    now: datetime
    event_at: datetime
    deadline: datetime
    #: the reports written before this one, oldest first
    reports: list[Report]
    figures: dict[str, Any]
    #: the report a follow-up or daily report counts progress from
    base: Report | None
    changes: dict[str, Any] | None

    @property
    def report_id(self) -> str:
        return f"{self.act.id}:{self.kind.value}:{self.seq}"

    @property
    def late(self) -> bool:
        return self.now > self.deadline

    @property
    def zero(self) -> bool:
        """A zero report (零报告): a daily report with nothing new and no casualties."""
        c = self.figures["casualties"]
        return (
            self.kind == ReportKind.DAILY
            and self.changes is not None
            and not self.changes["any"]
            and not (c["dead"] or c["missing"] or c["injured"])
        )

    @property
    def numbered(self) -> str:
        return numbered(self.kind, self.seq, self.locale, self.zero)

    @property
    def heading(self) -> str:
        return heading(self.kind, self.act.level, self.locale)

    @property
    def title(self) -> str:
        """The office, the heading and the number; a drill says so first."""
        words = report_words(self.locale)
        return words("title").format(
            drill=words("drill") if self.act.drill else "",
            office=self.town.office,
            heading=self.heading,
            numbered=self.numbered,
        )


def report_words(locale: str) -> Callable[[str], str]:
    """The report words of ``locale`` (labels.py, group ``report``)."""
    return lambda code: label(locale, "report", code)


def draft_report(
    session: Session,
    *,
    activation_id: str,
    plan: Plan,
    kind: ReportKind,
    seq: int,
    locale: str,
    now: datetime,
    deadline: datetime | None,
    figures: dict[str, Any] | None = None,
) -> ReportDraft:
    """Gather what the report is written from; its deadline unless one is given.

    ``figures``: ``summarize``'s, when the caller has them from the same transaction.
    """
    act: Activation = get_activation(session, activation_id)
    town = session.get(Town, act.town_code)
    assert town is not None
    event_at = event_time(session, act)
    reports = reports_so_far(session, activation_id)
    if figures is None:
        figures = summarize(session=session, activation_id=activation_id)
    base = base_for(kind, reports) if kind in (ReportKind.FOLLOW_UP, ReportKind.DAILY) else None
    before = base.payload.get("figures", {}) if base else {}
    return ReportDraft(
        kind=kind,
        seq=seq,
        locale=locale,
        act=act,
        town=town,
        now=now,
        event_at=event_at,
        deadline=deadline
        if deadline is not None
        else due_by(kind, seq, act, plan, event_at=event_at, now=now),
        reports=reports,
        figures=figures,
        base=base,
        changes=progress(before, figures) if base else None,
    )


def due_by(
    kind: ReportKind, seq: int, act: Activation, plan: Plan, *, event_at: datetime, now: datetime
) -> datetime:
    """When the report is due: the first from the event, the final from the stand-down,
    a follow-up every few hours from the activation."""
    deadlines = plan.level(act.level).reports
    if kind == ReportKind.INITIAL:
        return event_at + timedelta(minutes=deadlines.initial_within_minutes)
    if kind == ReportKind.FINAL:
        return (act.stood_down_at or now) + timedelta(hours=deadlines.follow_up_every_hours)
    return act.activated_at + timedelta(hours=deadlines.follow_up_every_hours * max(seq, 1))


def base_for(kind: ReportKind, reports: list[Report]) -> Report | None:
    """The report a follow-up or daily report counts progress from."""
    if kind == ReportKind.FOLLOW_UP:
        return reports[-1] if reports else None
    # "Nothing new" for a day is measured since the previous day's report (or the first
    # report): a follow-up written minutes earlier must not make a busy day a zero report.
    dailies = [r for r in reports if r.kind == ReportKind.DAILY]
    return dailies[-1] if dailies else (reports[0] if reports else None)


def numbered(kind: ReportKind, seq: int, locale: str, zero: bool) -> str:
    """The report's name with its number: 续报二, 7月13日零报告."""
    if kind == ReportKind.DAILY:  # seq is the date
        day = datetime.strptime(str(seq), "%Y%m%d")
        words = report_words(locale)("daily_zero" if zero else "daily")
        return words.format(month=day.month, day=day.day, date=f"{day:%Y-%m-%d}")
    kind_label = label(locale, "report_kind", kind.value)
    if not seq:
        return kind_label
    return kind_label + (cn_number(seq) if locale == "zh-CN" else f" no. {seq}")


def heading(kind: ReportKind, level: str, locale: str) -> str:
    """What the report is about: the response, or the end of it."""
    words = report_words(locale)("heading_final" if kind == ReportKind.FINAL else "heading")
    return words.format(level=label(locale, "level", level))


def report_context(session: Session, draft: ReportDraft, plan: Plan) -> dict[str, Any]:
    """What the report's templates are rendered with."""
    act, town, base, locale = draft.act, draft.town, draft.base, draft.locale
    signer, contact = town_officials(session, town.code)
    phone_within = plan.level(act.level).reports.phone_within_minutes
    late_minutes = int((draft.now - draft.deadline).total_seconds() // 60) if draft.late else 0
    ctx = {
        "title": draft.title,
        "heading": draft.heading,
        "kind": draft.kind.value,
        "numbered": draft.numbered,
        "seq": draft.seq,
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
        "event_at": draft.event_at,
        "activated_at": act.activated_at,
        "now": draft.now,
        "deadline": draft.deadline,
        "late": draft.late,
        "late_minutes": late_minutes,
        "phone_due": draft.event_at + timedelta(minutes=phone_within),
        "zero": draft.zero,
        "f": draft.figures,
        "since": {
            "numbered": numbered(ReportKind(base.kind), base.seq, locale, False) if base else "",
            "at": base.created_at if base else None,
        },
        "changes": draft.changes,
        "signer": {"name": signer.name, "title": signer.title} if signer else None,
        "contact": {"name": contact.name, "title": contact.title} if contact else None,
    }
    if draft.kind == ReportKind.FINAL:
        ctx["final"] = final_context(session, act, draft.reports, draft.figures)
    return ctx


def report_payload(draft: ReportDraft) -> dict[str, Any]:
    """The report as JSON for the county's receiver: what it is, when, and its figures."""
    act, town = draft.act, draft.town
    return {
        "report_id": draft.report_id,
        "kind": draft.kind.value,
        "seq": draft.seq,
        "title": draft.title,
        "town_code": town.code,
        "town": town.name,
        "level": act.level,
        "drill": act.drill,
        "activated_at": act.activated_at.isoformat(),
        "event_at": draft.event_at.isoformat(),
        "reported_at": draft.now.isoformat(),
        "deadline_at": draft.deadline.isoformat(),
        "late": draft.late,
        "zero": draft.zero,
        "figures": {k: v for k, v in draft.figures.items() if k not in {"reports"}},
    }
