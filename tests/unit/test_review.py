"""The after-action review (sanqing/review/) of a hand-built activation with fixed times.

Every figure is known in advance: six households ordered to move in two villages,
reached after 1, 2, 3, 4 and 10 minutes (one never); reports in time and late; an
approval the timeout decided; cadres' tasks answered in time, late and not at all;
one household up the whole chain. The rendered review is pinned in
``tests/golden/<locale>/reports/review.{md,html}``; rewrite them after a deliberate
change with ``SANQING_UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli import app
from sanqing.db import session_scope
from sanqing.errors import UnknownActivation
from sanqing.models import (
    Activation,
    Approval,
    Cadre,
    Escalation,
    Household,
    Notice,
    Relocation,
    Report,
    TimelineEvent,
    Village,
)
from sanqing.privacy import contains_personal_data
from sanqing.registry import ensure_registry
from sanqing.review import Review, build_review, nearest_rank, review_html, review_markdown
from sanqing.settings import SUPPORTED_LOCALES
from tests.unit.test_epidemic_golden import GOLDEN_DIR, check

ACT = "flood-test-review"
T0 = datetime(2026, 7, 12, 10, 0, tzinfo=UTC)  # 18:00 in Asia/Shanghai
ORDERED = T0 + timedelta(minutes=10)
NOW = T0 + timedelta(hours=8)
#: Minutes from the order to the first resident notice sent, per household (None: never).
SENT_AFTER = [1, 2, 3, 4, 10, None]
#: The templates the golden test below pins (tests/unit/test_templates.py counts them).
REVIEW_TEMPLATES = ("reports/review.md", "reports/review.html")
STATUSES = ["in_shelter", "moved", "refused", "unreachable", "with_relatives", "ordered"]


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def households(s: Session) -> tuple[list[str], list[str]]:
    """Four households of the town's first village and two of its second; the two villages."""
    villages = list(s.exec(select(Village.code).order_by(col(Village.code))).all())[:2]
    codes = []
    for village, n in zip(villages, (4, 2), strict=True):
        codes += s.exec(
            select(Household.code)
            .where(Household.village_code == village)
            .order_by(col(Household.code))
            .limit(n)
        ).all()
    return codes, villages


def notice(key: str, **fields: Any) -> Notice:
    base: dict[str, Any] = {
        "id": f"{ACT}:{key}",
        "activation_id": ACT,
        "channel": "sms",
        "purpose": "relocation",
        "audience": "resident",
        "locale": "zh-CN",
        "subject": "转移通知",
        "body": "请立即转移",
        "status": "sent",
        "created_at": ORDERED,
    }
    return Notice(**(base | fields))


def build_activation() -> list[str]:
    """The hand-built response; its households' codes in order."""
    town = ensure_registry("jifeng")
    with session_scope() as s:
        codes, villages = households(s)
        s.add(
            Activation(
                id=ACT, town_code=town, plan="flood", level="II", trigger="manual",
                village_codes=villages, activated_at=T0, updated_at=T0,
                stood_down_at=minutes(360), status="stood_down",
            )
        )  # fmt: skip
        s.flush()
        for i, code in enumerate(codes):
            s.add(
                Relocation(
                    id=f"{ACT}:{code}", activation_id=ACT, household_code=code,
                    village_code=villages[0] if i < 4 else villages[1], people=i + 1,
                    zone="danger", priority=i + 1, status=STATUSES[i],
                    ordered_at=ORDERED, updated_at=ORDERED,
                )
            )  # fmt: skip
        s.add_all(resident_notices(codes) + cadre_tasks() + reports() + approvals())
        secretary = s.exec(
            select(Cadre.code)
            .where(Cadre.village_code == villages[0], Cadre.role == "first_secretary")
            .order_by(col(Cadre.code))
        ).first()
        assert secretary is not None
        s.add_all(escalations(codes, villages, secretary) + timeline(villages[1]))
    return codes


def resident_notices(codes: list[str]) -> list[Notice]:
    rows = []
    for i, (code, after) in enumerate(zip(codes, SENT_AFTER, strict=True)):
        if after is None:
            continue
        sent = ORDERED + timedelta(minutes=after)
        rows.append(
            notice(
                f"sms:{code}",
                recipient=code,
                address="13912345678",
                sent_at=sent,
                delivered_at=sent + timedelta(minutes=1) if i < 3 else None,
                acknowledged_at=sent + timedelta(minutes=5) if i == 0 else None,
            )
        )
    # a later, second notice does not count; nor does a card handed out (not sent)
    rows.append(notice("sms2", recipient=codes[0], sent_at=ORDERED + timedelta(minutes=30)))
    rows.append(notice("card", recipient=codes[5], channel="card", purpose="card", sent_at=ORDERED))
    return rows


def cadre_tasks() -> list[Notice]:
    sent = minutes(15)
    task = {"channel": "task_list", "purpose": "tasks", "audience": "cadre", "sent_at": sent}
    return [
        notice("t1", recipient="C1", acknowledged_at=sent + timedelta(minutes=5), **task),
        notice("t2", recipient="C2", acknowledged_at=sent + timedelta(minutes=40), **task),
        notice("t3", recipient="C3", **task),
        notice("t0", recipient="C3", **(task | {"status": "superseded"})),  # an old version
        notice("t4", recipient="C4", **(task | {"purpose": "ack_resend"})),  # the chase's copy
    ]


def reports() -> list[Report]:
    def report(kind: str, seq: int, due: float, done: float, late: bool) -> Report:
        return Report(
            id=f"{ACT}:{kind}:{seq}", activation_id=ACT, kind=kind, seq=seq, title=kind,
            text="", html="", locale="zh-CN", deadline_at=minutes(due),
            created_at=minutes(done), late=late,
        )  # fmt: skip

    return [
        report("initial", 0, 60, 50, False),  # 10 minutes early
        report("follow_up", 1, 180, 200, True),  # 20 minutes late
        report("final", 2, 540, 360, False),
    ]


def approvals() -> list[Approval]:
    return [
        Approval(
            id=f"{ACT}:II:1", activation_id=ACT, level="II", reason="Ⅱ级响应",
            decision="approved", requested_at=minutes(5), decided_at=minutes(20),
        ),  # level II: 30 minutes; answered after 15
        Approval(
            id=f"{ACT}:I:2", activation_id=ACT, level="I", reason="Ⅰ级响应",
            decision="timeout_proceeded", requested_at=minutes(100), decided_at=minutes(115),
        ),  # level I: 15 minutes; nobody answered, the plan's rule moved them
    ]  # fmt: skip


def escalations(codes: list[str], villages: list[str], secretary: str) -> list[Escalation]:
    def step(code: str, kind: str, status: str, at: float, to: str | None) -> Escalation:
        return Escalation(
            id=f"{ACT}:{code}:{kind}", activation_id=ACT, village_code=villages[0],
            household_code=code, kind=kind, status_then=status, to_cadre_code=to,
            at=minutes(at),
        )  # fmt: skip

    return [
        step(codes[2], "roll_call", "refused", 70, secretary),
        step(codes[3], "roll_call", "unreachable", 70, None),
        step(codes[2], "town_leader", "refused", 100, None),
        step(codes[2], "removal", "refused", 130, None),
    ]


def timeline(village: str) -> list[TimelineEvent]:
    def event(
        key: str, at: float, action: str, detail: str = "", actor: str = "镇应急办"
    ) -> TimelineEvent:
        return TimelineEvent(
            id=f"{ACT}:{key}", activation_id=ACT, at=minutes(at), actor=actor,
            action=action, detail=detail,
        )  # fmt: skip

    return [
        event("stood-down", 360, "结束应急响应", "雨情结束"),
        event("start", 0, "启动应急响应", "人工启动"),
        event("report:phone", 40, "电话报告县防指", "联系人 13912345678"),  # the phone: 10 late
        event("roll-call", 90, "点名回报", "投亲靠友1户", actor=village),  # logged by its code
    ]


@pytest.fixture
def review(db_url: str) -> Review:
    build_activation()
    with session_scope() as s:
        return build_review(session=s, activation_id=ACT, now=NOW)


def test_nearest_rank_is_an_observed_value() -> None:
    values = [float(v) for v in range(10, 0, -1)]
    assert nearest_rank(values, 50) == 5 and nearest_rank(values, 90) == 9
    assert nearest_rank(values, 100) == 10 and nearest_rank(values, 1) == 1
    assert nearest_rank([7.0], 90) == 7
    assert nearest_rank([1.0, 2.0], 50) == 1  # the lower middle, not 1.5
    with pytest.raises(ValueError):
        nearest_rank([], 50)


def test_reach_times_per_household(review: Review) -> None:
    with session_scope() as s:
        codes, _ = households(s)
    sent = review.reach["sent"]
    assert (sent.households, sent.reached) == (6, 5)
    # 1, 2, 3, 4, 10 minutes: the 3rd and the 5th of five
    assert (sent.median_s, sent.p90_s, sent.worst_s) == (180, 600, 600)
    assert sent.worst_household == codes[4]
    assert sent.never == [codes[5]]  # the card handed to it does not reach anyone
    delivered = review.reach["delivered"]
    assert (delivered.reached, delivered.median_s, delivered.worst_s) == (3, 180, 240)
    assert delivered.worst_household == codes[2] and delivered.never == sorted(codes[3:])
    acknowledged = review.reach["acknowledged"]
    assert (acknowledged.reached, acknowledged.median_s, len(acknowledged.never)) == (1, 360, 5)


def test_every_deadline_met_or_missed(review: Review) -> None:
    got = [(d.kind, d.subject, d.met, d.late_s) for d in review.deadlines]
    assert got == [
        ("phone", "II", False, 10 * 60),  # 30 minutes from the activation (no warning, no danger)
        ("report", "initial", True, -10 * 60),
        ("report", "follow_up", False, 20 * 60),
        ("report", "final", True, -180 * 60),
        ("approval", "II", True, -15 * 60),
        ("approval", "I", False, 0),  # on the dot, but the timeout decided it
    ]
    assert review.deadlines_missed == 3
    acks = review.acks
    assert (acks.tasks, acks.in_time, acks.late, acks.unanswered) == (3, 1, 1, 1)


def test_an_undecided_approval_is_open_until_due_then_missed(db_url: str) -> None:
    build_activation()
    with session_scope() as s:
        a = s.get(Approval, f"{ACT}:I:2")
        assert a is not None
        a.decision, a.decided_at = None, None
    with session_scope() as s:
        before = build_review(session=s, activation_id=ACT, now=minutes(110)).deadlines[-1]
        after = build_review(session=s, activation_id=ACT, now=minutes(116)).deadlines[-1]
    assert (before.met, after.met, after.done_at) == (None, False, None)


def test_roll_call_completeness_and_escalations(review: Review) -> None:
    first, second = review.villages
    assert (first.households, first.confirmed, first.share) == (4, 2, 0.5)
    assert (second.households, second.confirmed, second.people) == (2, 1, 11)
    assert (review.total.households, review.total.confirmed, review.total.people) == (6, 3, 21)
    assert [(e.kind, e.status_then) for e in review.escalations] == [
        ("roll_call", "refused"),
        ("roll_call", "unreachable"),
        ("town_leader", "refused"),
        ("removal", "refused"),
    ]


def test_timeline_in_order_and_masked(review: Review) -> None:
    assert [e.action for e in review.timeline] == [
        "启动应急响应",
        "电话报告县防指",
        "点名回报",
        "结束应急响应",
    ]
    assert "13912345678" not in review.timeline[1].detail
    assert review.timeline[2].actor == review.villages[1].name  # the village by name


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("name", REVIEW_TEMPLATES)
def test_review_matches_golden_file(review: Review, locale: str, name: str) -> None:
    text = (review_markdown if name.endswith(".md") else review_html)(review, locale=locale)
    assert not contains_personal_data(text)
    check(GOLDEN_DIR / locale / name, text)


def test_hostile_names_are_text_in_both_formats(db_url: str) -> None:
    build_activation()
    with session_scope() as s:
        village = s.get(Village, build_review(session=s, activation_id=ACT).villages[0].code)
        assert village is not None
        village.name = '<img src=x onerror="alert(1)">|村'
    with session_scope() as s:
        review = build_review(session=s, activation_id=ACT, now=NOW)
    html = review_html(review, locale="zh-CN")
    assert "<img" not in html and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;|村" in html
    md = review_markdown(review, locale="zh-CN")
    assert re.search(r"(?<!\\)[<>]", md) is None  # every < and > escaped
    assert r'| \<img src=x onerror="alert(1)"\>\|村 | 4 |' in md  # the table keeps its columns


def test_unknown_activation_is_refused(db_url: str) -> None:
    with session_scope() as s, pytest.raises(UnknownActivation, match="nope"):
        build_review(session=s, activation_id="nope")


def test_review_of_an_unknown_activation_is_one_line(db_url: str) -> None:
    done = CliRunner().invoke(app, ["review", "no-such-activation"])
    assert done.exit_code == 2
    assert done.stdout == ""
    assert "no-such-activation" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_command_prints_the_markdown(review: Review) -> None:
    done = CliRunner().invoke(app, ["review", ACT, "--locale", "en"])
    assert done.exit_code == 0, done.output

    def lines(text: str) -> list[str]:  # all but the time it was written
        return [line for line in text.splitlines() if not line.startswith("- Review written")]

    assert lines(done.stdout) == lines(review_markdown(review, locale="en"))
    assert len(lines(done.stdout)) == len(done.stdout.splitlines()) - 1


def test_an_epidemic_response_has_a_review_too(db_url: str) -> None:
    from tests.unit.test_epidemic_golden import run_drill

    aid = run_drill("zh-CN")
    with session_scope() as s:
        review = build_review(session=s, activation_id=aid, now=NOW)
    md = review_markdown(review, locale="zh-CN")
    assert md.startswith("# 【演练】鸡峰镇疫情防控") and review.timeline
    assert review.acks.duty_shifts > 0 and review.total.households == 0
    assert md.count("本次响应没有下达转移指令。") == 2 and not contains_personal_data(md)
