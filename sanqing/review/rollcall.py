"""Roll-call completeness per village, and what went up the chain (应撤必撤) and why.

A household's move is confirmed when its status is anything but ordered,
unreachable or refused (those the escalation chases). Households are named by
their code only: the review never carries a resident's name or phone.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from sanqing.models import (
    Activation,
    Cadre,
    Escalation,
    Machine,
    Relocation,
    RelocationStatus,
    Village,
)
from sanqing.response.rollcall import CHASED


@dataclass(frozen=True)
class VillageCount:
    """One village's households ordered to move, by status now; ``code`` "" for the total."""

    code: str
    name: str
    households: int
    people: int
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def confirmed(self) -> int:
        return self.households - sum(self.by_status.get(s, 0) for s in CHASED)

    @property
    def share(self) -> float | None:
        """Confirmed out of ordered (0–1); None when nobody was ordered to move."""
        return self.confirmed / self.households if self.households else None


@dataclass(frozen=True)
class EscalationLine:
    """A household handed up: when, where, which step, its status then, to whom."""

    at: datetime
    village: str
    household_code: str
    kind: str  # roll_call (first secretary) / town_leader / removal (带离)
    status_then: str
    to: str  # the cadre's title and name; "" when nobody was found


def roll_call(session: Session, act: Activation) -> tuple[list[VillageCount], VillageCount]:
    """Per village (in the activation's order) and in all: the moves by status now."""
    names = _village_names(session, act)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    people: Counter[str] = Counter()
    for village, status, n in session.exec(
        select(Relocation.village_code, Relocation.status, Relocation.people).where(
            Relocation.activation_id == act.id
        )
    ):
        counts[village][RelocationStatus(status).value] += 1
        people[village] += n
    order = [c for c in act.village_codes if c in counts] + sorted(
        c for c in counts if c not in act.village_codes
    )
    rows = [
        VillageCount(c, names.get(c, c), sum(counts[c].values()), people[c], dict(counts[c]))
        for c in order
    ]
    total: Counter[str] = sum((counts[c] for c in order), Counter())
    return rows, VillageCount("", "", sum(total.values()), sum(people.values()), dict(total))


def escalations(session: Session, act: Activation) -> list[EscalationLine]:
    """Every step up the chain, in the order it was taken."""
    names = _village_names(session, act)
    cadres = {
        c.code: f"{c.title}{c.name}"
        for c in session.exec(select(Cadre).where(Cadre.town_code == act.town_code))
    }
    return [
        EscalationLine(
            at=e.at,
            village=names.get(e.village_code, e.village_code),
            household_code=e.household_code,
            kind=e.kind,
            status_then=RelocationStatus(e.status_then).value,
            to=cadres.get(e.to_cadre_code or "", e.to_cadre_code or ""),
        )
        for e in session.exec(
            select(Escalation)
            .where(Escalation.activation_id == act.id)
            .order_by(col(Escalation.at), col(Escalation.village_code), col(Escalation.id))
        )
    ]


def _village_names(session: Session, act: Activation) -> dict[str, str]:
    return dict(
        session.exec(
            select(Village.code, Village.name).where(Village.town_code == act.town_code)
        ).all()
    )


def actor_names(session: Session, act: Activation) -> dict[str, str]:
    """The town's village, cadre and machine codes → names: who acted, as the timeline says it."""
    town = act.town_code
    return (
        _village_names(session, act)
        | dict(session.exec(select(Cadre.code, Cadre.name).where(Cadre.town_code == town)).all())
        | dict(
            session.exec(select(Machine.code, Machine.name).where(Machine.town_code == town)).all()
        )
    )
