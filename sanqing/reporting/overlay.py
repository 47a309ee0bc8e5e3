"""三情叠加 in the flood's figures: the epidemic response it ran under, and where the
people under home health monitoring went (isolation places, never mixed).

Counts only, no names: the reports upward and summary.json carry them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from sanqing.models import (
    Activation,
    MonitoringStatus,
    Relocation,
    RelocationStatus,
    Screening,
    TimelineEvent,
)
from sanqing.response.shelters import OCCUPYING
from sanqing.response.timeline import local_tz, read_rows

#: Households that left their homes (to a shelter, to relatives, removed).
MOVED = (
    RelocationStatus.MOVED,
    RelocationStatus.IN_SHELTER,
    RelocationStatus.WITH_RELATIVES,
    RelocationStatus.REMOVED,
)
#: The timeline key the shelter step logs under an epidemic (``shelters._log_apart``).
OVERLAY_KEY = "epidemic-overlay:"


def overlay_figures(session: Session, act: Activation) -> dict[str, Any]:
    """``{"overlay": …}`` when the flood ran under an epidemic response, else nothing."""
    epidemic = _epidemic_of(session, act)
    if epidemic is None:
        return {}
    rels = [
        r
        for r in read_rows(session, Relocation, Relocation.activation_id == act.id)
        if r.monitored or r.isolation
    ]
    monitored = [r for r in rels if r.monitored]
    in_isolation = [
        r for r in monitored if r.isolation and r.shelter_code and r.status in OCCUPYING
    ]
    short = [r for r in monitored if r.isolation and r.shortfall and r.status in OCCUPYING]
    mixed = [r for r in monitored if r.shelter_code and not r.isolation]
    mixed += [r for r in rels if not r.monitored and r.isolation and r.shelter_code]
    return {
        "overlay": {
            "epidemic_level": epidemic.level,
            "epidemic_drill": epidemic.drill,
            "monitored_in_town": _monitored_in_town(session, epidemic, act),
            "monitored_people_to_move": sum(r.monitored for r in monitored),
            "monitored_people_moved": sum(r.monitored for r in monitored if r.status in MOVED),
            "in_isolation_places": sum(r.monitored for r in in_isolation),
            "isolation_households": len(in_isolation),
            "isolation_places_used": sum(r.people for r in in_isolation),
            "isolation_shortfall_people": sum(r.monitored for r in short),
            "with_relatives": sum(
                r.monitored for r in monitored if r.status == RelocationStatus.WITH_RELATIVES
            ),
            "mixed": len(mixed),
        }
    }


def _epidemic_of(session: Session, act: Activation) -> Activation | None:
    """The epidemic activation the flood's shelters step placed people under (the last)."""
    prefix = f"{act.id}:{OVERLAY_KEY}"
    keys = session.exec(
        select(TimelineEvent.id)
        .where(col(TimelineEvent.id).startswith(prefix))
        .order_by(col(TimelineEvent.at).desc())
    ).all()
    return session.get(Activation, keys[0].removeprefix(prefix)) if keys else None


def _monitored_in_town(session: Session, epidemic: Activation, act: Activation) -> int:
    """People the epidemic response has under home monitoring on the flood's first day."""
    on = act.activated_at.astimezone(local_tz()).date()
    return int(
        session.exec(
            select(func.count()).where(
                Screening.activation_id == epidemic.id,
                Screening.status == MonitoringStatus.MONITORING,
                col(Screening.monitoring_until) >= on,
            )
        ).one()
    )
