"""When a message does not arrive: the next way to reach the same people.

Residents: SMS first; a household whose SMS failed or expired goes on its cadre's
call list (电话叫应清单); the call list says to go to the door where nobody
answers, and movers are on the cadre's door-visit list already.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime

from sqlmodel import Session, col, select

from sanqing.models import (
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

UNREACHED = (NoticeStatus.FAILED.value, NoticeStatus.EXPIRED.value)


def fallback_unreached(
    session: Session, *, activation_id: str, locale: str, now: datetime | None = None
) -> int:
    """Put households whose resident SMS failed or expired on their cadre's call list.

    Returns the number of households newly put on a list; each goes on once. Nothing
    once the activation has ended: no call list after the all-clear.
    """
    now = now or utcnow()
    held = hold_open(session, activation_id)
    if held is None:
        return 0
    act = held
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
    todo = sorted({n.recipient for n in failed} - listed)
    if not todo:
        return 0
    town = session.get(Town, act.town_code)
    assert town is not None
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
    cadres = {c.code: c for c in session.exec(select(Cadre).where(Cadre.town_code == town.code))}
    villages = dict(
        session.exec(select(Village.code, Village.name).where(Village.town_code == town.code)).all()
    )
    by_cadre: dict[str, list[Household]] = defaultdict(list)
    for code in todo:
        h = households.get(code)
        if h is None:
            continue
        by_cadre[movers.get(code) or h.responsible_cadre_code or ""].append(h)
    rows = []
    for cadre_code, hs in sorted(by_cadre.items()):
        cadre = cadres.get(cadre_code)
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
        batch = hashlib.sha1(",".join(h.code for h in hs).encode()).hexdigest()[:10]
        key = NoticeKey(
            activation_id, Channel.PHONE_CALL.value, "fallback", cadre_code or "town", batch
        )
        rows.append(
            notice_row(
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
        )
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
