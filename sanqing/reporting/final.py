"""What only the final report (终报) says: how the response ended, who is still open.

The stand-down and its reason, the after-rain patrol's confirmation, the households
in a danger zone nobody has accounted for (with the cadre now in charge of each),
and how many reports went up before it.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from sanqing.models import (
    Activation,
    Cadre,
    Escalation,
    Patrol,
    Relocation,
    RelocationStatus,
    Report,
    ReportKind,
    TimelineEvent,
    Zone,
)

#: Moves not accounted for at the end: never confirmed, refused, or nobody reached them.
UNACCOUNTED = (RelocationStatus.ORDERED, RelocationStatus.REFUSED, RelocationStatus.UNREACHABLE)


def final_context(
    session: Session, act: Activation, reports: list[Report], figures: dict[str, Any]
) -> dict[str, Any]:
    """What only the final report says: how it ended, who is still being dealt with."""
    patrol = session.get(Patrol, act.id)
    ended = session.get(TimelineEvent, f"{act.id}:stood-down")
    return {
        "ended_at": act.stood_down_at,
        "ended_reason": ended.detail if ended else "",
        "patrol": {
            "by": patrol.confirmed_by if patrol else "",
            "at": patrol.confirmed_at if patrol else None,
            "all_clear": patrol.all_clear if patrol else None,
            "remarks": patrol.remarks if patrol else "",
        },
        "unaccounted": _unaccounted(session, act.id, figures),
        "history": {
            "initial": sum(1 for r in reports if r.kind == ReportKind.INITIAL),
            "follow_ups": sum(1 for r in reports if r.kind == ReportKind.FOLLOW_UP),
            "dailies": sum(1 for r in reports if r.kind == ReportKind.DAILY),
            "late": sum(1 for r in reports if r.late),
        },
    }


def _unaccounted(
    session: Session, activation_id: str, figures: dict[str, Any]
) -> list[dict[str, Any]]:
    """Households of a danger zone not accounted for, by village, and who is in charge."""
    open_rows = list(
        session.exec(
            select(Relocation)
            .where(
                Relocation.activation_id == activation_id,
                Relocation.zone == Zone.DANGER,
                col(Relocation.status).in_(list(UNACCOUNTED)),
            )
            .order_by(col(Relocation.village_code), col(Relocation.household_code))
        )
    )
    in_charge = _in_charge(session, activation_id, open_rows)
    names = {v["code"]: v["name"] for v in figures["village_figures"]}
    return [
        {
            "village": names.get(r.village_code, r.village_code),
            "household": r.household_code,
            "status": r.status,
            "cadre": in_charge[r.household_code],
        }
        for r in open_rows
    ]


def _in_charge(session: Session, activation_id: str, rows: list[Relocation]) -> dict[str, str]:
    """household code → the name of its cadre: the last one it was escalated to, else its own."""
    escalated = {
        e.household_code: e.to_cadre_code
        for e in session.exec(
            select(Escalation)
            .where(Escalation.activation_id == activation_id)
            .order_by(col(Escalation.at))
        )
    }
    cadre_codes = {c for r in rows for c in (r.cadre_code, escalated.get(r.household_code))}
    cadres = {
        c.code: c
        for c in session.exec(select(Cadre).where(col(Cadre.code).in_(cadre_codes - {None})))
    }
    names: dict[str, str] = {}
    for r in rows:
        code = escalated.get(r.household_code) or r.cadre_code
        c = cadres.get(code) if code else None
        names[r.household_code] = c.name if c else ""
    return names
