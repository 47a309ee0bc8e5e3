"""One response per town, whatever the timing: two runs at once, a stand-down in between.

The runs here are the flood plan's steps as the flow calls them (a session per step),
in threads that meet at a barrier where today's races happened. The town lock
(``response.lock_town``) must keep them one response, with shelters never over
capacity and nothing written for a response after it was stood down.
"""

from __future__ import annotations

import contextlib
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from sanqing import reporting, response
from sanqing.db import session_scope
from sanqing.models import (
    Activation,
    ActivationStatus,
    InspectionPhase,
    Notice,
    NoticeStatus,
    Relocation,
    Report,
    ReportKind,
    Shelter,
    utcnow,
)
from sanqing.outbox import notices
from sanqing.plans import Level, Plan, load_plan
from sanqing.registry import ensure_registry, find_town
from sanqing.warning import WarningInfo

TOWN = "621221106"
CAPACITY = 40


def tight_plan() -> Plan:
    """Every shelter in reach, so that places are scarce and a double count shows."""
    base = load_plan()
    return base.model_copy(
        update={"defaults": base.defaults.model_copy(update={"max_shelter_distance_km": 100.0})}
    )


@pytest.fixture
def small_shelters(db_url: str) -> None:
    ensure_registry("jifeng")
    with session_scope() as s:
        for sh in s.exec(select(Shelter)):
            sh.capacity = CAPACITY
            s.add(sh)


def activate(warning: WarningInfo, level: Level = Level.I) -> response.ActivationResult:
    with session_scope() as s:
        return response.activate_plan(
            session=s,
            town=find_town(s, "jifeng"),
            plan=load_plan(),
            level=level,
            warning=warning,
            drill=False,
        )


def run_steps(act: response.ActivationResult, plan: Plan, pause: Callable[[str], None]) -> None:
    """Steps 2-5 as the flow runs them: a transaction per village and step."""
    for code in act.village_codes:
        with session_scope() as s:
            response.inspect_hazards(
                session=s,
                activation_id=act.activation_id,
                village_code=code,
                phase=InspectionPhase.BEFORE,
                plan=plan,
                findings={},
                drill=False,
            )
    pause("relocate")
    for code in act.village_codes:
        with session_scope() as s:
            response.plan_relocations(
                session=s, activation_id=act.activation_id, village_code=code, plan=plan
            )
    pause("shelters")
    with session_scope() as s:
        response.assign_town_shelters(session=s, activation_id=act.activation_id, plan=plan)
    pause("notices")
    for code in act.village_codes:
        with session_scope() as s:
            notices.issue_notices(
                session=s,
                activation_id=act.activation_id,
                village_code=code,
                plan=plan,
                locale="zh-CN",
            )
    pause("report")
    with session_scope() as s:
        reporting.report_upward(session=s, activation_id=act.activation_id, plan=plan)


def in_threads(*targets: Callable[[], None]) -> None:
    errors: list[BaseException] = []

    def guarded(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:
                errors.append(exc)

        return run

    threads = [threading.Thread(target=guarded(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a run hangs"
    if errors:
        raise errors[0]


def shelter_use() -> dict[tuple[str, str], int]:
    """People placed per (activation, shelter)."""
    used: dict[tuple[str, str], int] = defaultdict(int)
    with session_scope() as s:
        for r in s.exec(select(Relocation)):
            if r.shelter_code:
                used[(r.activation_id, r.shelter_code)] += r.people
    return dict(used)


def test_two_warnings_at_once_open_one_response_and_never_overfill_a_shelter(
    small_shelters: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both runs look for the town's open response at the same moment."""
    plan = tight_plan()
    # Both runs meet here after looking for an open activation, unless the town lock keeps
    # the second out until the first has committed (then the barrier breaks: fine).
    barrier = threading.Barrier(2, timeout=3)
    real_open = response.open_activation

    def meet_after_looking(session, **kw):  # type: ignore[no-untyped-def]
        found = real_open(session, **kw)
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return found

    monkeypatch.setattr(response.activation, "open_activation", meet_after_looking)

    def run(identifier: str) -> Callable[[], None]:
        def go() -> None:
            act = activate(WarningInfo(identifier=identifier, hazard="rainstorm", colour="red"))
            run_steps(act, plan, pause=lambda step: None)

        return go

    in_threads(run("W-RED-1"), run("W-RED-2"))
    with session_scope() as s:
        acts = list(s.exec(select(Activation)))
        assert len(acts) == 1, [a.id for a in acts]
        # every cadre has one current door-visit list, not one per run
        current = defaultdict(list)
        for n in s.exec(
            select(Notice).where(
                Notice.channel == "door_visit", Notice.status != NoticeStatus.SUPERSEDED
            )
        ):
            current[n.recipient].append(n.id)
        assert current and all(len(v) == 1 for v in current.values()), current
    assert shelter_use() and all(n <= CAPACITY for n in shelter_use().values()), shelter_use()


def test_a_run_that_goes_on_after_the_stand_down_writes_nothing_and_says_so(
    small_shelters: None,
) -> None:
    """Run B reaches its steps after run A stood the response down: B changes nothing."""
    plan = tight_plan()
    warning_a = WarningInfo(identifier="W-A", hazard="rainstorm", colour="red")
    warning_b = WarningInfo(identifier="W-B", hazard="rainstorm", colour="red")
    act = activate(warning_a)
    b_act = activate(warning_b)
    assert b_act.activation_id == act.activation_id  # one response for the town
    b_at = {step: threading.Event() for step in ("relocate", "go")}
    a_done: list[datetime] = []

    def run_a() -> None:
        run_steps(act, plan, pause=lambda step: None)
        with session_scope() as s:
            response.end_response(
                s,
                activation_id=act.activation_id,
                plan=plan.model_copy(
                    update={
                        "defaults": plan.defaults.model_copy(
                            update={"after_rain_patrol_required": False}
                        )
                    }
                ),
                reason="预警解除",
                locale="zh-CN",
            )
        a_done.append(utcnow())  # the outbox keeps wall time: B writes nothing after this
        b_at["go"].set()

    def run_b() -> None:
        def pause(step: str) -> None:
            if step == "relocate":  # B inspected before the stand-down, the rest comes after
                assert b_at["go"].wait(60)

        run_steps(b_act, plan, pause=pause)

    in_threads(run_a, run_b)
    with session_scope() as s:
        a = s.get(Activation, act.activation_id)
        assert a is not None and a.status == ActivationStatus.STOOD_DOWN
        final = s.exec(select(Report).where(Report.kind == ReportKind.FINAL)).one()
        later_reports = [r.id for r in s.exec(select(Report)) if r.created_at > final.created_at]
        assert later_reports == []  # no 续报 after the 终报
        later_notices = [n.id for n in s.exec(select(Notice)) if n.created_at > a_done[0]]
        assert later_notices == []
    assert all(n <= CAPACITY for n in shelter_use().values()), shelter_use()


def test_a_stood_down_activation_is_never_allocated_again(small_shelters: None) -> None:
    """A step called for an activation that has ended does nothing and says so."""
    plan = tight_plan()
    act = activate(WarningInfo(identifier="W-X", hazard="rainstorm", colour="red"))
    with session_scope() as s:
        response.plan_relocations(
            session=s, activation_id=act.activation_id, village_code=act.village_codes[0], plan=plan
        )
        response.stand_down(session=s, activation_id=act.activation_id, reason="解除")
    with session_scope() as s:
        placed = response.assign_town_shelters(
            session=s, activation_id=act.activation_id, plan=plan
        )
        relocated = response.plan_relocations(
            session=s, activation_id=act.activation_id, village_code=act.village_codes[1], plan=plan
        )
        written = notices.issue_notices(
            session=s,
            activation_id=act.activation_id,
            village_code=act.village_codes[0],
            plan=plan,
            locale="zh-CN",
        )
        report = reporting.report_upward(session=s, activation_id=act.activation_id, plan=plan)
    assert placed.closed and placed.placed_households == 0
    assert relocated.closed and relocated.households == 0
    assert written.closed and written.created == 0
    assert report is None
    with session_scope() as s:
        assert all(r.shelter_code is None for r in s.exec(select(Relocation)))
        assert list(s.exec(select(Notice))) == []


def test_a_new_manual_start_after_a_stand_down_opens_a_new_activation(db_url: str) -> None:
    ensure_registry("jifeng")
    now = datetime(2026, 7, 12, 3, 0, tzinfo=UTC)

    def start(warning: WarningInfo | None = None) -> response.ActivationResult:
        with session_scope() as s:
            return response.activate_plan(
                session=s,
                town=find_town(s, "jifeng"),
                plan=load_plan(),
                level=Level.III,
                warning=warning,
                drill=False,
                now=now,
            )

    def end(act: response.ActivationResult) -> None:
        with session_scope() as s:
            response.stand_down(session=s, activation_id=act.activation_id, reason="解除")

    first = start()
    assert start().activation_id == first.activation_id  # a re-run continues it
    end(first)
    second = start()
    assert second.created and second.open
    assert second.activation_id != first.activation_id
    assert start().activation_id == second.activation_id
    end(second)
    third = start()
    assert third.activation_id not in (first.activation_id, second.activation_id)
    end(third)
    # the same warning after its response ended is that ended response: nothing reopens
    w = WarningInfo(identifier="W-OLD", hazard="rainstorm", colour="orange")
    old = start(w)
    end(old)
    again = start(w)
    assert again.activation_id == old.activation_id and not again.open and not again.created
