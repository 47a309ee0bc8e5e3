"""When a message does not arrive: the next way to reach the same people.

Residents: SMS first; a household whose SMS failed or expired goes on its cadre's
call list (电话叫应清单); the call list says to go to the door where nobody
answers, and movers are on the cadre's door-visit list already.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from sanqing.models import (
    Activation,
    Cadre,
    Channel,
    Household,
    Notice,
    NoticeStatus,
    Relocation,
    Town,
    Village,
    utcnow,
)
from sanqing.outbox.keys import NoticeKey
from sanqing.outbox.rendering import render
from sanqing.outbox.writer import notice_row, put
from sanqing.response import hold_open, log_event

UNREACHED = (NoticeStatus.FAILED, NoticeStatus.EXPIRED)


def fallback_unreached(
    session: Session, *, activation_id: str, locale: str, now: datetime | None = None
) -> int:
    """Put households whose resident SMS failed or expired on their cadre's call list.

    Returns the number of households newly put on a list; each goes on once. Nothing
    once the activation has ended: no call list after the all-clear.
    """
    now = now or utcnow()
    act = hold_open(session, activation_id)
    if act is None:
        return 0
    todo = _unreached_not_listed(session, activation_id)
    if not todo:
        return 0
    town = session.get(Town, act.town_code)
    assert town is not None
    by_cadre = _by_cadre(session, activation_id, todo)
    cadres = {c.code: c for c in session.exec(select(Cadre).where(Cadre.town_code == town.code))}
    villages = dict(
        session.exec(select(Village.code, Village.name).where(Village.town_code == town.code)).all()
    )
    rows = [
        _call_list(
            act, town, cadre_code, cadres.get(cadre_code), hs, villages=villages, locale=locale
        )
        for cadre_code, hs in sorted(by_cadre.items())
    ]
    put(session, rows)
    added = sum(len(hs) for hs in by_cadre.values())
    log_event(
        session,
        activation_id=activation_id,
        key=f"fallback:{now.isoformat()}",
        actor="发送系统",
        action="短信未送达转电话叫应",
        detail=f"{added}户短信未送达，已列入{len(rows)}名干部的电话叫应清单",
        at=now,
        simulated=act.drill,
    )
    return added


def _unreached_not_listed(session: Session, activation_id: str) -> list[str]:
    """Households whose resident SMS failed or expired and that are on no call list yet."""
    failed = list(
        session.exec(
            select(Notice).where(
                Notice.activation_id == activation_id,
                Notice.channel == Channel.SMS,
                Notice.audience == "resident",
                col(Notice.status).in_(UNREACHED),
            )
        )
    )
    listed = {
        rec
        for payload in session.exec(
            select(Notice.payload).where(
                Notice.activation_id == activation_id, Notice.channel == Channel.PHONE_CALL
            )
        )
        if payload
        for rec in payload.get("households", [])
    }
    return sorted({n.recipient for n in failed} - listed)


def _by_cadre(session: Session, activation_id: str, todo: list[str]) -> dict[str, list[Household]]:
    """Whose list each household goes on: the cadre of its move, else its 包保责任人.

    Households without either are under ``""``: the town's duty phone calls them.
    """
    households = {
        h.code: h for h in session.exec(select(Household).where(col(Household.code).in_(todo)))
    }
    movers = {
        r.household_code: r.cadre_code
        for r in session.exec(
            select(Relocation).where(
                Relocation.activation_id == activation_id,
                col(Relocation.household_code).in_(todo),
            )
        )
    }
    by_cadre: dict[str, list[Household]] = defaultdict(list)
    for code in todo:
        h = households.get(code)
        if h is None:
            continue
        by_cadre[movers.get(code) or h.responsible_cadre_code or ""].append(h)
    return by_cadre


def _call_list(
    act: Activation,
    town: Town,
    cadre_code: str,
    cadre: Cadre | None,
    hs: list[Household],
    *,
    villages: dict[str, str],
    locale: str,
) -> dict[str, Any]:
    """The outbox row of one call list: for the cadre, or the town's duty phone."""
    body = render(
        "notices/phone_call.txt",
        locale=locale,
        drill=act.drill,
        town={"name": town.name, "office": town.office, "duty_phone": town.duty_phone},
        to={"name": cadre.name if cadre else town.office},
        households=[
            {
                "village": villages.get(h.village_code, ""),
                "group": h.group_name,
                "head": h.head_name,
                "address": h.address,
                "phone": h.phone or "",
            }
            for h in hs
        ],
    ).strip()
    # A list is versioned by its households: new failures later make a new list.
    batch = hashlib.sha1(",".join(h.code for h in hs).encode()).hexdigest()[:10]
    key = NoticeKey(act.id, Channel.PHONE_CALL, "fallback", cadre_code or "town", batch)
    return notice_row(
        key,
        village_code=hs[0].village_code,
        audience="cadre",
        recipient=cadre_code or town.code,
        address=cadre.phone if cadre else town.duty_phone,
        locale=locale,
        subject="短信未送达户电话叫应清单",
        body=body,
        payload={"households": [h.code for h in hs]},
    )
