"""The villages' roll call (点名): who has moved, who refuses, who cannot be reached.

Answers are checked against the households ordered to move; counts only go into
the timeline, names stay in the registry and the cadres' lists.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from sanqing.answers import (
    Others,
    RollCallStatus,
    VillageRollCall,
)
from sanqing.errors import AnswerError
from sanqing.labels import label
from sanqing.models import (
    Household,
    Relocation,
    RelocationStatus,
    Village,
)
from sanqing.privacy import mask_text
from sanqing.response.locks import get_activation
from sanqing.response.timeline import clock, how_noted, log_event

#: Households whose safety nobody has confirmed: they are escalated when overdue.
UNCONFIRMED = (RelocationStatus.ORDERED, RelocationStatus.UNREACHABLE)
#: 应撤必撤: those chased up the chain — unconfirmed, and those who refuse.
CHASED = (*UNCONFIRMED, RelocationStatus.REFUSED)

_ROLL_CALL_STATUS = {
    RollCallStatus.MOVED: RelocationStatus.MOVED,
    RollCallStatus.IN_SHELTER: RelocationStatus.IN_SHELTER,
    RollCallStatus.REFUSED: RelocationStatus.REFUSED,
    RollCallStatus.UNREACHABLE: RelocationStatus.UNREACHABLE,
    RollCallStatus.WITH_RELATIVES: RelocationStatus.WITH_RELATIVES,
    RollCallStatus.REMOVED: RelocationStatus.REMOVED,
}


@dataclass
class RollCallResult:
    """Per village: households by status after the roll call, and the unconfirmed total."""

    villages: dict[str, dict[str, int]] = field(default_factory=dict)
    changed: int = 0

    @property
    def unconfirmed(self) -> int:
        return sum(v.get(RelocationStatus.ORDERED, 0) for v in self.villages.values())


def record_roll_call(
    session: Session,
    *,
    activation_id: str,
    roll_calls: Sequence[VillageRollCall],
    simulated: bool = False,
    now: datetime | None = None,
) -> RollCallResult:
    """Apply the villages' roll calls to the relocations; all of it, or nothing when any is bad.

    A household is named by its code or by its head's name when that is unique in the
    village. Households not listed take ``others``. A household already in a shelter
    stays there when the roll call says only "moved".
    """
    now = now or clock(session, activation_id)
    act = get_activation(session, activation_id)
    villages = {
        v.code: v
        for v in session.exec(select(Village).where(col(Village.code).in_(act.village_codes)))
    }
    answers = _check_answers(
        session, activation_id=activation_id, roll_calls=roll_calls, villages=villages
    )
    result = RollCallResult()
    for answer in answers:
        result.changed += _apply(session, answer, now=now)
        counts = _counts(answer.relocations.values())
        result.villages[answer.code] = counts
        digest = hashlib.sha1(repr(sorted(counts.items())).encode()).hexdigest()[:10]
        log_event(
            session,
            activation_id=activation_id,
            key=f"roll-call:{answer.code}:{digest}",
            actor=villages[answer.code].name,
            action="点名回报",
            detail=_counts_text(counts) + how_noted(simulated),
            at=now,
            simulated=simulated,
        )
    return result


@dataclass
class _VillageAnswer:
    """One village's roll call, checked: its relocations and what the answer says of them."""

    code: str
    relocations: dict[str, Relocation]
    others: Others
    statuses: dict[str, RelocationStatus] = field(default_factory=dict)
    removed_by: dict[str, str] = field(default_factory=dict)  # 带离: who took them out


def _check_answers(
    session: Session,
    *,
    activation_id: str,
    roll_calls: Sequence[VillageRollCall],
    villages: dict[str, Village],
) -> list[_VillageAnswer]:
    """Each village's answer read against its relocation list; AnswerError with every problem."""
    by_name = {v.name: code for code, v in villages.items()}
    problems: list[str] = []
    answers: list[_VillageAnswer] = []
    seen: set[str] = set()
    for i, rc in enumerate(roll_calls):
        where = f"第{i + 1}个村"  # the form's order, as the officer counts: no pydantic path
        code = rc.village if rc.village in villages else by_name.get(rc.village.strip())
        if code is None:
            problems.append(f"{where}：「{rc.village}」不是本次响应的村，请从列表中选择")
            continue
        if code in seen:
            problems.append(f"{where}：{villages[code].name}在本次回报中填了两次，请合并为一项")
            continue
        seen.add(code)
        rels = {
            r.household_code: r
            for r in session.exec(
                select(Relocation).where(
                    Relocation.activation_id == activation_id, Relocation.village_code == code
                )
            )
        }
        answer = _VillageAnswer(code, rels, rc.others)
        problems += _read_households(session, where=where, rc=rc, answer=answer)
        answers.append(answer)
    if problems:
        raise AnswerError(problems)
    return answers


def _read_households(
    session: Session, *, where: str, rc: VillageRollCall, answer: _VillageAnswer
) -> list[str]:
    """Put each listed household's status on ``answer``; the problems, by position."""
    heads: dict[str, list[str]] = defaultdict(list)
    for code_, head in session.exec(
        select(Household.code, Household.head_name).where(
            col(Household.code).in_(list(answer.relocations))
        )
    ):
        heads[head].append(code_)
    problems: list[str] = []
    for j, h in enumerate(rc.households):
        key = h.household.strip()
        hcode: str | None = key if key in answer.relocations else None
        if hcode is None and len(heads.get(key, [])) == 1:
            hcode = heads[key][0]
        if hcode is None:
            # The position, never the value: a typed name must not reach the logs.
            why = (
                "户主姓名有重名，请选择户号"
                if len(heads.get(key, [])) > 1
                else "不在本村转移名单上，请从列表中选择（户主姓名、户号）"
            )
            problems.append(f"{where} 第{j + 1}户：{why}")
            continue
        if hcode in answer.statuses:
            problems.append(f"{where} 第{j + 1}户：同一户填了两次")
            continue
        if h.status == RollCallStatus.REMOVED and not (h.by.strip() or rc.reporter.strip()):
            problems.append(f"{where} 第{j + 1}户：已带离须填写带离负责人")
            continue
        answer.statuses[hcode] = _ROLL_CALL_STATUS[h.status]
        if h.status == RollCallStatus.REMOVED:
            answer.removed_by[hcode] = mask_text((h.by or rc.reporter).strip())
    return problems


def _apply(session: Session, answer: _VillageAnswer, *, now: datetime) -> int:
    """Give the village's relocations the statuses the answer says; how many changed."""
    changed = 0
    for hcode, r in answer.relocations.items():
        new = answer.statuses.get(hcode)
        if (
            new is None
            and answer.others != Others.UNCONFIRMED
            and r.status == RelocationStatus.ORDERED
        ):
            new = RelocationStatus(answer.others.value)
        if new is None:
            continue
        if new == RelocationStatus.IN_SHELTER and r.shelter_code is None:
            new = RelocationStatus.MOVED  # no place was assigned: moved elsewhere
        if new == RelocationStatus.MOVED and r.status == RelocationStatus.IN_SHELTER:
            continue
        if new != r.status:
            r.status, r.updated_at = new, now
            if new == RelocationStatus.REMOVED:
                r.removed_by, r.removed_at = answer.removed_by[hcode], now
            session.add(r)
            changed += 1
    return changed


def _counts(rels: object) -> dict[str, int]:
    """Households per status, keyed by the status's text (the timeline key hashes them)."""
    out: dict[str, int] = defaultdict(int)
    for r in rels:  # type: ignore[attr-defined]
        out[str(r.status)] += 1
    return dict(out)


def _counts_text(counts: dict[str, int]) -> str:
    order = [
        RelocationStatus.IN_SHELTER,
        RelocationStatus.WITH_RELATIVES,
        RelocationStatus.MOVED,
        RelocationStatus.REMOVED,
        RelocationStatus.REFUSED,
        RelocationStatus.UNREACHABLE,
        RelocationStatus.ORDERED,
    ]
    return "，".join(
        f"{label('zh-CN', 'relocation', s.value)}{counts[s.value]}户"
        for s in order
        if counts.get(s.value)
    )


def outstanding(session: Session, activation_id: str) -> dict[str, int]:
    """Households not yet confirmed (ordered, no answer), per village code."""
    out: dict[str, int] = defaultdict(int)
    for code in session.exec(
        select(Relocation.village_code).where(
            Relocation.activation_id == activation_id,
            Relocation.status == RelocationStatus.ORDERED,
        )
    ):
        out[code] += 1
    return dict(out)


def roll_call_choices(
    session: Session, *, activation_id: str, village_codes: Sequence[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The roll-call form's choices: village code → name, and household code →
    「村名 户主（户号）」 for the households ordered to move in those villages (shown
    to the duty officer in the form; never logged)."""
    villages = dict(
        session.exec(
            select(Village.code, Village.name).where(col(Village.code).in_(list(village_codes)))
        ).all()
    )
    rows = session.exec(
        select(Relocation.household_code, Relocation.village_code, Household.head_name)
        .join(Household, col(Household.code) == col(Relocation.household_code))
        .where(
            Relocation.activation_id == activation_id,
            col(Relocation.village_code).in_(list(village_codes)),
        )
        .order_by(col(Relocation.village_code), col(Relocation.priority))
    ).all()
    households = {h: f"{villages.get(v, v)} {head}（{h}）" for h, v, head in rows}
    return {c: villages.get(c, c) for c in village_codes}, households


def read_roll_call_choices(
    activation_id: str, village_codes: Sequence[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """``roll_call_choices`` in a short transaction of its own, for the form of a pause.

    The flows' other reads live in ``tasks/records.py``; this one belongs there too
    and moves with the next change to that module.
    """
    from sanqing.db import session_scope

    with session_scope() as session:
        return roll_call_choices(session, activation_id=activation_id, village_codes=village_codes)


def simulate_roll_call(
    session: Session, *, activation_id: str, listed: Sequence[VillageRollCall]
) -> RollCallResult:
    """A drill's roll call: the scenario's villages as written, every other one all in shelter.

    A scenario written for another level may name households this level does not move:
    then every village reports all in shelter, and the timeline says why.
    """
    act = get_activation(session, activation_id)
    names = dict(
        session.exec(
            select(Village.code, Village.name).where(col(Village.code).in_(act.village_codes))
        ).all()
    )

    def everyone_else(given: set[str]) -> list[VillageRollCall]:
        return [
            VillageRollCall(village=code, others=Others.IN_SHELTER, reporter="演练")
            for code in act.village_codes
            if code not in given and names.get(code) not in given
        ]

    given = {rc.village for rc in listed}
    try:  # a refused answer writes nothing: record_roll_call checks it all first
        return record_roll_call(
            session,
            activation_id=activation_id,
            roll_calls=[*listed, *everyone_else(given)],
            simulated=True,
        )
    except AnswerError as exc:
        log_event(
            session,
            activation_id=activation_id,
            key=f"roll-call-script:{act.level}",
            actor="演练导调",
            action="演练脚本点名不适用",
            detail=f"本级转移名单与脚本不符（{len(exc.problems)}处），按全部到位模拟",
            simulated=True,
        )
        return record_roll_call(
            session, activation_id=activation_id, roll_calls=everyone_else(set()), simulated=True
        )


def simulate_follow_up(
    session: Session, *, activation_id: str, listed: Sequence[VillageRollCall], round_: int
) -> RollCallResult:
    """A drill's report back from a step up the chain: only the households it names change.

    A script that does not fit this level's list changes nothing, and the timeline says so.
    """
    only_named = [rc.model_copy(update={"others": Others.UNCONFIRMED}) for rc in listed]
    try:
        return record_roll_call(
            session, activation_id=activation_id, roll_calls=only_named, simulated=True
        )
    except AnswerError as exc:
        act = get_activation(session, activation_id)
        log_event(
            session,
            activation_id=activation_id,
            key=f"follow-up-script:{act.level}:{round_}",
            actor="演练导调",
            action="演练脚本核实回报不适用",
            detail=f"第{round_}轮核实回报与本级转移名单不符（{len(exc.problems)}处），未采用",
            simulated=True,
        )
        return RollCallResult()
