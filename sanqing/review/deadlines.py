"""Every deadline of a response, met or missed: reports upward, approvals, cadres' 叫应.

The duty officer's phone report (电话报告) is due ``phone_within_minutes`` after the
event (at the level now): what the system knows is when it put the task on the
timeline, so that is what is measured. A report is due at its ``deadline_at`` (the plan's deadline when it was written);
the commander's approval within the level's ``approval.timeout_minutes`` of the
request (a decision the timeout rule took is a deadline missed); a cadre's task
within ``acknowledgement.within_minutes`` of being sent. Duty shifts have no
deadline of their own: how many were acknowledged is counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from sanqing.models import (
    Activation,
    Approval,
    ApprovalDecision,
    Channel,
    DutyShift,
    Notice,
    NoticeStatus,
    Report,
    TimelineEvent,
)
from sanqing.plans import Plan
from sanqing.reporting import event_time

#: What a cadre must answer (as ``sanqing.delivery.acknowledge`` chases it), and the copies
#: the chase makes, which are not tasks of their own.
NEEDS_ACK = (Channel.TASK_LIST, Channel.PHONE_CALL)
CHASE_COPIES = ("ack_resend", "ack_forward")
TIMEOUTS = (ApprovalDecision.TIMEOUT_PROCEEDED, ApprovalDecision.TIMEOUT_HELD)


@dataclass(frozen=True)
class Deadline:
    """One thing that was due: when, when it was done, and whether in time.

    ``met`` is None while it is not done and not yet due (at ``now``); ``late_s`` is
    done minus due in seconds (negative: early), None when not done.
    """

    kind: str  # phone / report / approval
    subject: str  # the report's kind (initial …) or the approval's level
    seq: int
    due_at: datetime
    done_at: datetime | None
    met: bool | None
    late_s: float | None
    note: str = ""  # the approval's decision


@dataclass(frozen=True)
class AckTally:
    """叫应: the cadres' tasks answered in time, late or not at all; the duty shifts."""

    within_minutes: float
    tasks: int
    in_time: int
    late: int
    unanswered: int
    duty_shifts: int
    duty_acknowledged: int


def _deadline(
    kind: str,
    subject: str,
    seq: int,
    *,
    due: datetime,
    done: datetime | None,
    now: datetime,
    missed: bool = False,
    note: str = "",
) -> Deadline:
    if done is None:  # not done: missed once due, open until then
        return Deadline(kind, subject, seq, due, None, False if now > due else None, None, note)
    met = done <= due and not missed
    return Deadline(kind, subject, seq, due, done, met, (done - due).total_seconds(), note)


def phone_deadline(session: Session, act: Activation, plan: Plan, now: datetime) -> list[Deadline]:
    """The phone report to the county's 防指: when its task went on the timeline, if it did."""
    task = session.get(TimelineEvent, f"{act.id}:report:phone")
    if task is None:
        return []
    due = event_time(session, act) + timedelta(
        minutes=plan.level(act.level).reports.phone_within_minutes
    )
    return [_deadline("phone", act.level, 0, due=due, done=task.at, now=now)]


def report_deadlines(session: Session, act: Activation, now: datetime) -> list[Deadline]:
    """Every report upward against its deadline (a report marked late counts as missed)."""
    reports = session.exec(
        select(Report)
        .where(Report.activation_id == act.id)
        .order_by(col(Report.created_at), col(Report.seq))
    )
    return [
        _deadline(
            "report", r.kind, r.seq, due=r.deadline_at, done=r.created_at, now=now, missed=r.late
        )
        for r in reports
    ]


def approval_deadlines(
    session: Session, act: Activation, plan: Plan, now: datetime
) -> list[Deadline]:
    """Every approval asked of the commander against the level's timeout."""
    approvals = session.exec(
        select(Approval)
        .where(Approval.activation_id == act.id)
        .order_by(col(Approval.requested_at), col(Approval.id))
    )
    out = []
    for seq, a in enumerate(approvals, start=1):
        wait = timedelta(minutes=plan.level(a.level).approval.timeout_minutes)
        decision = ApprovalDecision(a.decision) if a.decision is not None else None
        out.append(
            _deadline(
                "approval",
                a.level,
                seq,
                due=a.requested_at + wait,
                done=a.decided_at,
                now=now,
                missed=decision in TIMEOUTS,
                note=decision.value if decision is not None else "",
            )
        )
    return out


def ack_tally(session: Session, act: Activation, plan: Plan) -> AckTally:
    """The cadres' tasks (the current version of each list) and duty shifts of the response."""
    within = plan.defaults.acknowledgement.within_minutes
    tasks = session.exec(
        select(Notice.sent_at, Notice.acknowledged_at).where(
            Notice.activation_id == act.id,
            Notice.audience == "cadre",
            col(Notice.channel).in_(NEEDS_ACK),
            col(Notice.purpose).not_in(CHASE_COPIES),
            Notice.status != NoticeStatus.SUPERSEDED,
            col(Notice.sent_at).is_not(None),
        )
    ).all()
    due = timedelta(minutes=within)
    in_time = sum(1 for sent, ack in tasks if ack is not None and sent and ack <= sent + due)
    answered = sum(1 for _, ack in tasks if ack is not None)
    shifts = session.exec(
        select(DutyShift.acknowledged_at).where(DutyShift.activation_id == act.id)
    ).all()
    return AckTally(
        within_minutes=within,
        tasks=len(tasks),
        in_time=in_time,
        late=answered - in_time,
        unanswered=len(tasks) - answered,
        duty_shifts=len(shifts),
        duty_acknowledged=sum(1 for at in shifts if at is not None),
    )
