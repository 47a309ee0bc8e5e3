"""The after-action review (复盘) of one activation: what happened, what was late, who was missed.

``build_review`` reads the figures from the database; ``review_markdown`` and
``review_html`` write them as the town office's 应急响应复盘报告
(``templates/<locale>/reports/review.{md,html}.j2``). Plain functions: the CLI
prints it (``sanqing review``) and the run that ends a response shows it in the UI.

The review names households by their code, never by a resident's name or phone;
timeline details are masked like every log line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from sanqing.epidemic.overlay import EPIDEMIC
from sanqing.errors import UnknownActivation
from sanqing.models import Activation, TimelineEvent, Town
from sanqing.outbox.rendering import render
from sanqing.plans import Plan, load_plan
from sanqing.privacy import mask_text
from sanqing.response.timeline import clock
from sanqing.review.deadlines import (
    AckTally,
    Deadline,
    ack_tally,
    approval_deadlines,
    phone_deadline,
    report_deadlines,
)
from sanqing.review.reach import STEPS, Spread, nearest_rank, reach_spreads
from sanqing.review.rollcall import (
    EscalationLine,
    VillageCount,
    actor_names,
    escalations,
    roll_call,
)

#: The plan file whose deadlines apply when the activation's own plan has none of them.
DEFAULT_PLAN = "flood"

__all__ = [
    "STEPS",
    "AckTally",
    "Deadline",
    "EscalationLine",
    "Review",
    "Spread",
    "TimelineLine",
    "VillageCount",
    "build_review",
    "nearest_rank",
    "review_html",
    "review_markdown",
]


@dataclass(frozen=True)
class TimelineLine:
    at: datetime
    actor: str
    action: str
    detail: str  # masked
    simulated: bool


@dataclass(frozen=True)
class Review:
    """Everything the review says about one activation, as of ``generated_at``."""

    activation_id: str
    town: str
    plan: str
    level: str
    drill: bool
    trigger: str
    started_at: datetime
    ended_at: datetime | None  # None: still running
    generated_at: datetime
    timeline: list[TimelineLine]
    deadlines: list[Deadline]
    acks: AckTally
    reach: dict[str, Spread]  # sent / delivered / acknowledged
    villages: list[VillageCount]
    total: VillageCount
    escalations: list[EscalationLine]

    @property
    def duration_s(self) -> float:
        """From the activation to its end (or to the review, while it runs)."""
        return ((self.ended_at or self.generated_at) - self.started_at).total_seconds()

    @property
    def deadlines_missed(self) -> int:
        return sum(1 for d in self.deadlines if d.met is False)


def build_review(
    *, session: Session, activation_id: str, plan: Plan | None = None, now: datetime | None = None
) -> Review:
    """The review of the activation as of ``now`` (default: the activation's clock now).

    ``plan`` gives the approval timeouts and the 叫应 rule (default: its plan file).
    """
    act = session.get(Activation, activation_id)
    if act is None:
        raise UnknownActivation(activation_id)
    # The epidemic plan asks no approval and no phone report; its cadres are chased
    # under the flood plan's 叫应 rule (tasks/delivery_steps), and measured by it here.
    plan = plan or load_plan(act.plan if act.plan != EPIDEMIC else DEFAULT_PLAN)
    now = now or clock(session, act.id)  # a drill's own clock, like its timeline
    town = session.get(Town, act.town_code)
    villages, total = roll_call(session, act)
    return Review(
        activation_id=act.id,
        town=town.name if town else act.town_code,
        plan=act.plan,
        level=act.level,
        drill=act.drill,
        trigger=act.trigger,
        started_at=act.activated_at,
        ended_at=act.stood_down_at,
        generated_at=now,
        timeline=_timeline(session, act),
        deadlines=[
            *phone_deadline(session, act, plan, now),
            *report_deadlines(session, act, now),
            *approval_deadlines(session, act, plan, now),
        ],
        acks=ack_tally(session, act, plan),
        reach=reach_spreads(session, act),
        villages=villages,
        total=total,
        escalations=escalations(session, act),
    )


def _timeline(session: Session, act: Activation) -> list[TimelineLine]:
    """The events in order; an actor logged by its code (a village, cadre, machine) by name."""
    names = actor_names(session, act)
    return [
        TimelineLine(e.at, names.get(e.actor, e.actor), e.action, mask_text(e.detail), e.simulated)
        for e in session.exec(
            select(TimelineEvent)
            .where(TimelineEvent.activation_id == act.id)
            .order_by(col(TimelineEvent.at), col(TimelineEvent.id))
        )
    ]


def review_markdown(review: Review, *, locale: str) -> str:
    """The review as markdown (what ``sanqing review`` prints and the UI shows)."""
    return render("reports/review.md", locale=locale, r=review)


def review_html(review: Review, *, locale: str) -> str:
    """The review as a printable HTML page (every value escaped)."""
    return render("reports/review.html", locale=locale, r=review)
