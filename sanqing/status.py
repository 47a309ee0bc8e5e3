"""Where every response stands: the open ones and those that ended recently (``sanqing status``)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from sanqing.models import (
    Activation,
    ActivationStatus,
    FeedRecord,
    Relocation,
    Shelter,
    TimelineEvent,
    Town,
    utcnow,
)
from sanqing.response import OCCUPYING

#: How far back an ended response still counts as recent.
DEFAULT_RECENT = timedelta(days=7)
_STATE = {ActivationStatus.ACTIVE: "open", ActivationStatus.STOOD_DOWN: "stood_down"}


def activation_status(
    *, session: Session, recent: timedelta = DEFAULT_RECENT, now: datetime | None = None
) -> list[dict[str, Any]]:
    """One object per open or recently ended activation, newest first (JSON-ready).

    ``shelters`` lists every shelter of the activation's town with the people this
    activation has placed there (households ordered, moved or in the shelter).
    """
    now = now or utcnow()
    acts = list(
        session.exec(
            select(Activation)
            .where(
                or_(
                    col(Activation.status) == ActivationStatus.ACTIVE,
                    col(Activation.stood_down_at) >= now - recent,
                )
            )
            .order_by(col(Activation.activated_at).desc(), col(Activation.id))
        )
    )
    towns = {t.code: t for t in session.exec(select(Town))}
    return [_one(session, act, towns.get(act.town_code)) for act in acts]


def placed_people(session: Session, activation_id: str) -> dict[tuple[str, bool], int]:
    """(shelter, isolation place?) → people the activation has placed there.

    Households ordered, moved, in the shelter or removed there hold their places;
    those who refused, returned or stay with relatives do not.
    """
    placed: dict[tuple[str, bool], int] = defaultdict(int)
    for code, isolation, people in session.exec(
        select(Relocation.shelter_code, Relocation.isolation, Relocation.people).where(
            Relocation.activation_id == activation_id,
            col(Relocation.shelter_code).is_not(None),
            col(Relocation.status).in_([s.value for s in OCCUPYING]),
        )
    ):
        if code is not None:
            placed[(code, bool(isolation))] += people
    return placed


def _one(session: Session, act: Activation, town: Town | None) -> dict[str, Any]:
    placed: dict[str, int] = defaultdict(int)
    for (code, _), people in placed_people(session, act.id).items():
        placed[code] += people
    shelters = session.exec(
        select(Shelter).where(Shelter.town_code == act.town_code).order_by(col(Shelter.code))
    )
    return {
        "activation_id": act.id,
        "town": town.name if town else act.town_code,
        "town_code": act.town_code,
        "plan": act.plan,
        "level": act.level,
        "state": _STATE.get(ActivationStatus(act.status), act.status),
        "drill": act.drill,
        "trigger": act.trigger,
        "started_at": act.activated_at.isoformat(),
        "ended_at": act.stood_down_at.isoformat() if act.stood_down_at else None,
        "warnings": warnings_of(session, act),
        "villages": len(act.village_codes),
        "shelters": [
            {"code": s.code, "name": s.name, "capacity": s.capacity, "people": placed[s.code]}
            for s in shelters
        ],
    }


def warnings_of(session: Session, act: Activation) -> list[str]:
    """The identifiers of the warnings that started, raised or joined the activation."""
    found: list[str] = [act.warning_identifier] if act.warning_identifier else []
    found += session.exec(
        select(FeedRecord.identifier)
        .where(FeedRecord.activation_id == act.id)
        .order_by(col(FeedRecord.received_at))
    ).all()
    prefix = f"{act.id}:warning:"
    found += [
        key.removeprefix(prefix)
        for key in session.exec(
            select(TimelineEvent.id)
            .where(
                TimelineEvent.activation_id == act.id,
                col(TimelineEvent.id).startswith(prefix, autoescape=True),
            )
            .order_by(col(TimelineEvent.at))
        )
    ]
    return list(dict.fromkeys(found))
