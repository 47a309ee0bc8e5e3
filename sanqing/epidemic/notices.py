"""The epidemic plan's notices to people with a task: every cadre's work arrangement
(工作安排), each grid member's follow-up list of the day, the shift reminders (叫应),
the word to the village doctor and the 卫生院 when someone has symptoms, and the
vaccination rides (drivers and residents).

All through the outbox writer, keyed by what they are about: issued again, nothing
new is written. Lists name the people the cadre must reach (that is their job);
logs and reports never do.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from sanqing.epidemic.groups import TownGroups
from sanqing.epidemic.resources import TownResources
from sanqing.models import (
    Channel,
    DutyShift,
    FollowUp,
    FollowUpAnswer,
    Household,
    RegisteredPerson,
    ShuttleSeat,
    Town,
)
from sanqing.outbox.keys import NoticeKey
from sanqing.outbox.rendering import render
from sanqing.outbox.writer import notice_row, put
from sanqing.response.timeline import local_tz

#: How a drill's notice begins (not its subject).
DRILL_MARKS = ("【演练】", "[DRILL]", "（演练广播）", "(Drill broadcast)")
#: How long before a shift its person is told.
REMIND_BEFORE = timedelta(hours=1)


def notice(
    key: NoticeKey,
    *,
    village_code: str | None,
    audience: str,
    recipient: str,
    address: str | None,
    locale: str,
    body: str,
    body_format: str = "text",
    payload: dict[str, object] | None = None,
) -> dict[str, object]:
    """An outbox row for ``body``; its subject is its first line that is not the drill's mark."""
    title = _TITLE.search(body) if body_format == "html" else None
    first = html.unescape(title.group(1)) if title else _subject(body) or key.purpose
    return notice_row(
        key,
        village_code=village_code,
        audience=audience,
        recipient=recipient,
        address=address,
        locale=locale,
        subject=first.strip("【】")[:60],
        body=body,
        body_format=body_format,
        payload=payload,
    )


_TITLE = re.compile(r"<title>(.*?)</title>", re.S)


def _subject(body: str) -> str:
    """The notice's heading: its 【…】 tag, else its first line (never the drill's mark)."""
    first = next(filter(None, map(_headline, body.splitlines())), "")
    tag = re.match(r"^【([^】]+)】", first) or re.match(r"^\[([^\]]+)\]", first)
    return tag.group(1) if tag else first


def _headline(line: str) -> str:
    """A line without the drill's mark; '' for the drill's own disclaimer line."""
    text = line.strip()
    for mark in DRILL_MARKS:
        if text.startswith(mark):
            rest = text.removeprefix(mark).strip()
            return "" if rest.startswith(("本", "This ")) else rest
    return text


def work_arrangements(
    session: Session,
    *,
    activation_id: str,
    town: Town,
    groups: TownGroups,
    ctx: dict[str, object],
    locale: str,
) -> int:
    """工作安排: every cadre of a mixed group or a grid team hears their group, leader and grids."""
    rows = []
    for g in groups.groups:
        people = {c.code: c for c in g.members}
        for team in g.grids.values():
            people |= {c.code: c for c in team}
        for code, cadre in sorted(people.items()):
            grids = [name for name, team in g.grids.items() if cadre in team]
            body = render(
                "notices/epidemic/arrangement.txt",
                locale=locale,
                cadre=cadre,
                group=g,
                grids=grids,
                in_group=code in g.codes,
                **ctx,
            )
            # one per cadre, village and level: a raised level tells everyone again
            about = f"{code}-{g.village_code}"
            key = NoticeKey(
                activation_id, Channel.TASK_LIST, "arrangement", about, str(ctx["level"])
            )
            rows.append(
                notice(
                    key,
                    village_code=g.village_code,
                    audience="cadre",
                    recipient=code,
                    address=cadre.phone,
                    locale=locale,
                    body=body,
                )
            )
    return put(session, rows)


def followup_lists(
    session: Session, *, activation_id: str, groups: TownGroups, ctx: dict[str, object], locale: str
) -> int:
    """Each grid member's list of follow-ups, one a day: whom to reach and by when."""
    due = session.exec(
        select(FollowUp, RegisteredPerson)
        .join(RegisteredPerson, col(RegisteredPerson.id) == FollowUp.person_id)
        .where(FollowUp.activation_id == activation_id)
        .order_by(col(FollowUp.due_at), col(FollowUp.person_id))
    ).all()
    lists: dict[tuple[str, date], list[tuple[FollowUp, RegisteredPerson]]] = defaultdict(list)
    for f, p in due:
        lists[(f.cadre_code or "", f.due_at.astimezone(local_tz()).date())].append((f, p))
    rows = []
    for (code, day), items in sorted(lists.items()):
        cadre = groups.cadres.get(code)
        if cadre is None:
            continue
        body = render(
            "notices/epidemic/followups.txt",
            locale=locale,
            cadre=cadre,
            day=day,
            items=items,
            **ctx,
        )
        key = NoticeKey(activation_id, Channel.TASK_LIST, "followups", code, f"{day:%Y%m%d}")
        rows.append(
            notice(
                key,
                village_code=cadre.village_code,
                audience="cadre",
                recipient=code,
                address=cadre.phone,
                locale=locale,
                body=body,
            )
        )
    return put(session, rows)


def escalations(
    session: Session, *, activation_id: str, town: Town, ctx: dict[str, object], locale: str
) -> int:
    """Symptoms go to the 卫生院 (with the village doctor told by the grid member): one SMS each."""
    rows = []
    for f in session.exec(
        select(FollowUp).where(
            FollowUp.activation_id == activation_id, FollowUp.answer == FollowUpAnswer.SYMPTOMS
        )
    ):
        person = session.get(RegisteredPerson, f.person_id)
        body = render("notices/epidemic/symptoms.sms.txt", locale=locale, f=f, person=person, **ctx)
        about = f.person_id.replace(":", "-")
        key = NoticeKey(activation_id, Channel.SMS, "symptoms", about, str(f.seq))
        rows.append(
            notice(
                key,
                village_code=f.village_code,
                audience="medical",
                recipient="medical_unit",
                address=town.medical_unit_phone,
                locale=locale,
                body=body,
            )
        )
    return put(session, rows)


def shift_reminders(
    session: Session, *, activation_id: str, groups: TownGroups, ctx: dict[str, object], locale: str
) -> int:
    """Before each shift its person is told where and when, and asked to confirm (叫应)."""
    rows = []
    for s in session.exec(
        select(DutyShift).where(
            DutyShift.activation_id == activation_id, col(DutyShift.point_code).is_not(None)
        )
    ):
        cadre = groups.cadres.get(s.cadre_code)
        if cadre is None:
            continue
        body = render("notices/epidemic/shift.sms.txt", locale=locale, shift=s, cadre=cadre, **ctx)
        about = f"{s.point_code}-{s.starts_at.astimezone(local_tz()):%Y%m%dT%H%M}"
        key = NoticeKey(activation_id, Channel.SMS, "duty_shift", about)
        rows.append(
            notice(
                key,
                village_code=s.village_code,
                audience="cadre",
                recipient=cadre.code,
                address=cadre.phone,
                locale=locale,
                body=body,
                payload={"remind_at": (s.starts_at - REMIND_BEFORE).isoformat(), "shift": s.id},
            )
        )
    return put(session, rows)


def ride_notices(
    session: Session, *, activation_id: str, res: TownResources, ctx: dict[str, object], locale: str
) -> int:
    """Each driver gets the day's trips and pickups; each resident with a ride, their time."""
    seats = session.exec(
        select(ShuttleSeat, Household)
        .join(Household, col(Household.code) == ShuttleSeat.household_code)
        .where(
            ShuttleSeat.activation_id == activation_id, col(ShuttleSeat.vehicle_code).is_not(None)
        )
        .order_by(
            col(ShuttleSeat.vehicle_code), col(ShuttleSeat.trip), col(ShuttleSeat.household_code)
        )
    ).all()
    by_vehicle: dict[str, list[tuple[ShuttleSeat, Household]]] = defaultdict(list)
    rows = []
    for seat, h in seats:
        by_vehicle[seat.vehicle_code or ""].append((seat, h))
        body = render(
            "notices/epidemic/ride.sms.txt",
            locale=locale,
            seat=seat,
            household=h,
            site=res.vaccination_site,
            **ctx,
        )
        key = NoticeKey(activation_id, Channel.SMS, "ride", h.code)
        rows.append(
            notice(
                key,
                village_code=h.village_code,
                audience="resident",
                recipient=h.code,
                address=h.phone,
                locale=locale,
                body=body,
            )
        )
    rows += _driver_notices(activation_id, res, by_vehicle, ctx, locale)
    return put(session, rows)


def remind_at(shift: DutyShift) -> datetime:
    return shift.starts_at - REMIND_BEFORE


def _driver_notices(
    activation_id: str,
    res: TownResources,
    by_vehicle: dict[str, list[tuple[ShuttleSeat, Household]]],
    ctx: dict[str, object],
    locale: str,
) -> list[dict[str, object]]:
    rows = []
    for v in res.vehicles:
        if v.code not in by_vehicle:
            continue
        body = render(
            "notices/epidemic/driver.txt",
            locale=locale,
            vehicle=v,
            seats=by_vehicle[v.code],
            site=res.vaccination_site,
            **ctx,
        )
        key = NoticeKey(activation_id, Channel.TASK_LIST, "rides", v.code)
        rows.append(
            notice(
                key,
                village_code=None,
                audience="driver",
                recipient=v.code,
                address=v.phone,
                locale=locale,
                body=body,
            )
        )
    return rows
