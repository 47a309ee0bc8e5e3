"""叫应: a task sent to a responsible cadre must be answered, or it goes up the chain.

A cadre's task list (and a call list or an escalation list) counts as answered
when the cadre acknowledges it: ``acknowledge`` (the control room's form, or
``sanqing ack``) answers everything the cadre has been sent; the signed 收到 link
in a message (``acknowledge_link``) answers that message's task only, and only
until the link expires. Not answered within ``within_minutes`` of being sent: it is
sent again (``resends`` times), then handed to the next person of the chain
(by default grid member → village cadre → first secretary → town leader), one
step per period, each with the original task. Every step goes into the timeline.
``chase`` is idempotent: run it as often as you like with the current time.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, update
from sqlmodel import Session, col, select

from sanqing.errors import AnswerError, LinkExpired, LinkForged, LinkMalformed
from sanqing.models import (
    Activation,
    Cadre,
    Channel,
    Notice,
    NoticeStatus,
    Town,
    Village,
    utcnow,
)
from sanqing.outbox.keys import NoticeKey
from sanqing.outbox.writer import notice_row, put
from sanqing.plans import Plan
from sanqing.privacy import mask_text
from sanqing.response import get_activation, hold_open, log_event
from sanqing.settings import get_settings

#: What a cadre must answer: their task list, call list and escalation lists.
NEEDS_ACK = (Channel.TASK_LIST.value, Channel.PHONE_CALL.value)
SENT = (NoticeStatus.SENT.value, NoticeStatus.DELIVERED.value)
#: Purposes of the copies the chase makes of an unanswered task (payload "original").
COPIES = ("ack_resend", "ack_forward")
ROLE_ZH = {
    "grid_member": "网格员",
    "village_cadre": "村干部",
    "first_secretary": "驻村第一书记",
    "town_leader": "镇带班领导",
    "group_leader": "村民小组长",
    "team_member": "驻村工作队员",
}


@dataclass(frozen=True)
class ChaseResult:
    resent: int
    forwarded: int


def _originals(session: Session, activation_id: str) -> list[Notice]:
    """The cadre notices to chase; of a task list only its newest version (older ones are
    out of date: the cadre answers the current one)."""
    rows = list(
        session.exec(
            select(Notice)
            .where(
                Notice.activation_id == activation_id,
                col(Notice.channel).in_(NEEDS_ACK),
                Notice.audience == "cadre",
                col(Notice.purpose).not_in(COPIES),
            )
            .order_by(col(Notice.created_at), col(Notice.id))
        )
    )
    newest: dict[str, Notice] = {}
    others = []
    for n in rows:
        if n.purpose == "tasks":
            newest[NoticeKey.parse(n.id).stem] = n  # all versions of a list share the stem
        else:
            others.append(n)
    return [*others, *newest.values()]


def chase(
    session: Session, *, activation_id: str, plan: Plan, now: datetime | None = None
) -> ChaseResult:
    """Resend or hand up every sent cadre task not acknowledged in time (see module doc).

    Nothing once the activation has ended: nobody is chased after the all-clear.
    """
    now = now or utcnow()
    held = hold_open(session, activation_id)
    if held is None:
        return ChaseResult(0, 0)
    act = held
    rule = plan.defaults.acknowledgement
    period_s = rule.within_minutes * 60
    have = set(
        session.exec(
            select(Notice.id).where(
                Notice.activation_id == activation_id,
                col(Notice.purpose).in_(COPIES),
            )
        )
    )
    cadres = {
        c.code: c for c in session.exec(select(Cadre).where(Cadre.town_code == act.town_code))
    }
    villages = dict(
        session.exec(
            select(Village.code, Village.name).where(Village.town_code == act.town_code)
        ).all()
    )
    resent = forwarded = 0
    rows = []
    for n in _originals(session, activation_id):
        if n.status not in SENT or n.acknowledged_at is not None or n.sent_at is None:
            continue
        steps = int((now - n.sent_at).total_seconds() // period_s)
        for step in range(1, steps + 1):
            if step <= rule.resends:
                nid = str(NoticeKey.parse(n.id).copied(f"resend-{step}"))
                if nid in have:
                    continue
                rows.append(_copy(n, nid, "ack_resend", n.recipient, n.address, n.body, now))
                have.add(nid)
                resent += 1
                log_event(
                    session,
                    activation_id=activation_id,
                    key=f"ack:{nid}",
                    actor="镇应急办",
                    action="未叫应，重发",
                    detail=f"{_who(cadres, n.recipient)}未回复任务单，第{step}次重发",
                    at=now,
                    simulated=act.drill,
                )
                continue
            target = _next_in_chain(
                cadres, rule.chain, n.recipient, n.village_code, step - rule.resends
            )
            if target is None:
                break  # the chain has nobody further: the town leader has it
            nid = str(NoticeKey.parse(n.id).copied(f"to-{target.code}"))
            if nid in have:
                continue
            body = ("【演练】" if act.drill else "") + (
                f"【叫应升级】{_who(cadres, n.recipient)}"
                f"（{villages.get(n.village_code or '', '')}）自{_hm(n.sent_at)}收到以下任务后未回复，"
                f"请立即联系落实并回复：\n{n.body}"
            )
            rows.append(_copy(n, nid, "ack_forward", target.code, target.phone, body, now))
            have.add(nid)
            forwarded += 1
            log_event(
                session,
                activation_id=activation_id,
                key=f"ack:{nid}",
                actor="镇应急办",
                action="未叫应，逐级上报",
                detail=f"{_who(cadres, n.recipient)}未回复，已转{_who(cadres, target.code)}",
                at=now,
                simulated=act.drill,
            )
    put(session, rows)
    return ChaseResult(resent=resent, forwarded=forwarded)


def _copy(
    n: Notice, nid: str, purpose: str, recipient: str, address: str | None, body: str, now: datetime
) -> dict[str, object]:
    return notice_row(
        NoticeKey.parse(nid),
        purpose=purpose,
        village_code=n.village_code,
        audience="cadre",
        recipient=recipient,
        address=address,
        locale=n.locale,
        subject=n.subject,
        body=body,
        body_format=n.body_format,
        payload={"original": n.id},
    )


def _who(cadres: dict[str, Cadre], code: str) -> str:
    c = cadres.get(code)
    return f"{ROLE_ZH.get(c.role, c.title)}{c.name}" if c else code


def _hm(t: datetime) -> str:
    from sanqing.outbox.rendering import _format_time

    return _format_time(t)


def _next_in_chain(
    cadres: dict[str, Cadre], chain: list[str], recipient: str, village: str | None, up: int
) -> Cadre | None:
    """The ``up``-th person above ``recipient`` in the chain who exists for the village."""
    me = cadres.get(recipient)
    start = chain.index(me.role) + 1 if me and me.role in chain else 0
    found = []
    for role in chain[start:]:
        people = sorted(
            (
                c
                for c in cadres.values()
                if c.role == role
                and c.code != recipient
                and (role == "town_leader" or c.village_code == village)
            ),
            key=lambda c: c.code,
        )
        if people:
            found.append(people[0])
    return found[up - 1] if 0 < up <= len(found) else None


def acknowledge(
    session: Session,
    *,
    activation_id: str,
    cadre: str,
    note: str = "",
    now: datetime | None = None,
) -> int:
    """The cadre (code or name) answered: their tasks, and tasks handed to them, count as answered.

    Returns how many notices it acknowledged.
    """
    now = now or utcnow()
    act = get_activation(session, activation_id)
    matches = list(
        session.exec(
            select(Cadre).where(
                Cadre.town_code == act.town_code,
                or_(col(Cadre.code) == cadre, col(Cadre.name) == cadre),
            )
        )
    )
    if len(matches) != 1:
        why = "names several cadres: give the code" if matches else "is not a cadre of this town"
        raise AnswerError([f"cadre {cadre!r} {why}"])
    who = matches[0]
    mine = list(
        session.exec(
            select(Notice).where(
                Notice.activation_id == activation_id,
                Notice.recipient == who.code,
                col(Notice.channel).in_(NEEDS_ACK),
                col(Notice.status).in_(SENT),  # an answer covers what the cadre has got
                col(Notice.acknowledged_at).is_(None),
            )
        )
    )
    originals = {n.payload["original"] for n in mine if n.payload and n.payload.get("original")}
    if originals:
        mine += list(
            session.exec(
                select(Notice).where(
                    col(Notice.id).in_(originals),
                    col(Notice.status).in_(SENT),
                    col(Notice.acknowledged_at).is_(None),
                )
            )
        )
    for n in mine:
        n.acknowledged_at = now
        if n.status in SENT:
            n.status = NoticeStatus.ACKNOWLEDGED.value
        session.add(n)
    if mine:
        log_event(
            session,
            activation_id=activation_id,
            key=f"acked:{who.code}:{now.isoformat()}",
            actor=who.name,
            action="已叫应",
            detail=f"{_who({who.code: who}, who.code)}回复收到{len(mine)}份任务"
            + (f"：{mask_text(note)}" if note else ""),
            at=now,
            simulated=act.drill,
        )
    return len(mine)


# --- the 收到 link --------------------------------------------------------------------------
#
# A link names one notice and when it stops working: ``?n=<notice id>&e=<expiry, Unix
# seconds>&t=<signature>``, the signature being over ``<notice id>|<expiry>``, so neither
# can be changed. Tapped, it acknowledges that notice only (and, for a resend or a
# hand-up, the task it copies): a task sent later, or a newer version of the list,
# still needs its own answer.

#: Hex digits of the signature in a link (128 bits).
TOKEN_HEX = 32
_HEX = frozenset("0123456789abcdef")


def ack_token(notice_id: str, expires: int | str, secret: str) -> str:
    """The signature of a 收到 link: HMAC-SHA256 over ``<notice id>|<expiry>``."""
    message = f"{notice_id}|{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:TOKEN_HEX]


def ack_link(notice: Notice, *, now: datetime | None = None) -> str | None:
    """The link a cadre taps to say 收到, when ``SANQING_ACK_URL`` and the secret are set.

    ``now`` is when the notice is sent: the link works ``ack_link_ttl_hours`` from then.
    """
    settings = get_settings()
    if not (settings.ack_url and settings.ack_secret):
        return None
    if notice.channel not in NEEDS_ACK or notice.audience != "cadre":
        return None
    expires = int(((now or utcnow()) + timedelta(hours=settings.ack_link_ttl_hours)).timestamp())
    token = ack_token(notice.id, expires, settings.ack_secret)
    query = urllib.parse.urlencode({"n": notice.id, "e": expires, "t": token})
    sep = "&" if "?" in settings.ack_url else "?"
    return f"{settings.ack_url}{sep}{query}"


def acknowledge_link(
    session: Session, *, notice_id: str, expires: str, token: str, now: datetime | None = None
) -> int:
    """A tapped 收到 link: check it, then its task counts as answered.

    Returns how many notices it acknowledged (0: it was answered before). Raises
    LinkMalformed, LinkForged or LinkExpired (each a LinkError with its HTTP status).
    """
    now = now or utcnow()
    secret = get_settings().ack_secret
    if not secret:
        raise LinkForged("收到 links are not enabled here (no SANQING_ACK_SECRET)")
    if not notice_id or not expires.isascii() or not expires.isdigit():
        raise LinkMalformed("the link lacks its task or expiry (or was cut short)")
    if not token.isascii() or len(token) != TOKEN_HEX or not set(token) <= _HEX:
        raise LinkMalformed("the link's signature is cut short or damaged")
    # compare bytes: compare_digest refuses str with non-ASCII characters
    if not hmac.compare_digest(ack_token(notice_id, expires, secret).encode(), token.encode()):
        raise LinkForged("the link is not valid (signature)")
    notice = session.get(Notice, notice_id)
    if notice is None or notice.channel not in NEEDS_ACK:
        raise LinkForged("the link names no task")
    if int(expires) <= now.timestamp():
        until = datetime.fromtimestamp(int(expires), tz=UTC).isoformat()
        raise LinkExpired(f"the link expired at {until}", duty_phone=_duty_phone(session, notice))
    return _acknowledge_notice(session, notice, now=now)


def _duty_phone(session: Session, notice: Notice) -> str:
    act = session.get(Activation, notice.activation_id)
    town = session.get(Town, act.town_code) if act else None
    return town.duty_phone if town else ""


def _acknowledge_notice(session: Session, notice: Notice, *, now: datetime) -> int:
    """Mark this notice answered, with the task it copies and that task's other copies.

    Conditional updates: two taps at once acknowledge (and log) once.
    """
    original = (notice.payload or {}).get("original") if notice.purpose in COPIES else None
    root = str(original or notice.id)
    ids = [
        notice.id,
        root,
        *session.exec(
            select(Notice.id).where(
                col(Notice.id).startswith(root + ":"), col(Notice.purpose).in_(COPIES)
            )
        ),
    ]
    unanswered = and_(col(Notice.id).in_(ids), col(Notice.acknowledged_at).is_(None))
    session.execute(
        update(Notice)
        .where(unanswered, col(Notice.status).in_(SENT))
        .values(status=NoticeStatus.ACKNOWLEDGED.value)
    )
    # a row whose send is not recorded yet (or failed after) keeps its status; it is answered
    done = session.execute(update(Notice).where(unanswered).values(acknowledged_at=now))
    count = int(done.rowcount)  # type: ignore[attr-defined]
    if count:
        act = get_activation(session, notice.activation_id)
        cadre = session.exec(
            select(Cadre).where(Cadre.town_code == act.town_code, Cadre.code == notice.recipient)
        ).first()
        who = {cadre.code: cadre} if cadre else {}
        log_event(
            session,
            activation_id=notice.activation_id,
            key=f"acked:{notice.id}",
            actor=cadre.name if cadre else notice.recipient,
            action="已叫应",
            detail=f"{_who(who, notice.recipient)}点击链接确认收到任务",
            at=now,
            simulated=act.drill,
        )
    return count
