"""叫应: a task sent to a responsible cadre must be answered, or it goes up the chain.

A cadre's task list (and a call list or an escalation list) counts as answered
when the cadre acknowledges it: ``acknowledge`` (the control room's form, or
``sanqing ack``) answers everything the cadre has been sent; the signed 收到 link
in a message (``sanqing.delivery.links``) answers that message's task only, and only
until the link expires. Not answered within ``within_minutes`` of being sent: it is
sent again (``resends`` times), then handed to the next person of the chain
(by default grid member → village cadre → first secretary → town leader), one
step per period, each with the original task. Every step goes into the timeline.
``chase`` is idempotent: run it as often as you like with the current time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select

from sanqing.errors import AnswerError
from sanqing.models import (
    Activation,
    Cadre,
    Channel,
    Notice,
    NoticeStatus,
    Village,
    utcnow,
)
from sanqing.outbox.keys import NoticeKey
from sanqing.outbox.rendering import format_time
from sanqing.outbox.writer import notice_row, put
from sanqing.plans import AcknowledgementRule, Plan
from sanqing.privacy import mask_text
from sanqing.response import get_activation, hold_open, log_event

#: What a cadre must answer: their task list, call list and escalation lists.
NEEDS_ACK = (Channel.TASK_LIST, Channel.PHONE_CALL)
SENT = (NoticeStatus.SENT, NoticeStatus.DELIVERED)
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
    act = hold_open(session, activation_id)
    if act is None:
        return ChaseResult(0, 0)
    run = _Chase.start(session, act, plan.defaults.acknowledgement, now)
    for n in _originals(session, activation_id):
        if n.status not in SENT or n.acknowledged_at is not None or n.sent_at is None:
            continue
        run.follow_up(n, n.sent_at)
    put(session, run.rows)
    return ChaseResult(resent=run.resent, forwarded=run.forwarded)


@dataclass
class _Chase:
    """One pass of the chase: the copies already made, and those this pass adds."""

    session: Session
    act: Activation
    rule: AcknowledgementRule
    now: datetime
    #: ids of the resends and hand-ups made before
    have: set[str]
    cadres: dict[str, Cadre]
    #: village code → name
    villages: dict[str, str]
    rows: list[dict[str, object]] = field(default_factory=list)
    resent: int = 0
    forwarded: int = 0

    @classmethod
    def start(
        cls, session: Session, act: Activation, rule: AcknowledgementRule, now: datetime
    ) -> _Chase:
        have = set(
            session.exec(
                select(Notice.id).where(
                    Notice.activation_id == act.id,
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
        return cls(session, act, rule, now, have, cadres, villages)

    def follow_up(self, n: Notice, sent_at: datetime) -> None:
        """Every period unanswered since it was sent: a resend, then one step up the chain."""
        period_s = self.rule.within_minutes * 60
        steps = int((self.now - sent_at).total_seconds() // period_s)
        for step in range(1, steps + 1):
            if step <= self.rule.resends:
                self._resend(n, step)
                continue
            up = step - self.rule.resends
            target = _next_in_chain(self.cadres, self.rule.chain, n.recipient, n.village_code, up)
            if target is None:
                break  # the chain has nobody further: the town leader has it
            self._hand_up(n, target, sent_at)

    def _resend(self, n: Notice, step: int) -> None:
        """The task again, to the same cadre (once per step)."""
        nid = str(NoticeKey.parse(n.id).copied(f"resend-{step}"))
        if nid in self.have:
            return
        self.rows.append(_copy(n, nid, "ack_resend", n.recipient, n.address, n.body, self.now))
        self.have.add(nid)
        self.resent += 1
        self._log(
            nid,
            action="未叫应，重发",
            detail=f"{role_and_name(self.cadres, n.recipient)}未回复任务单，第{step}次重发",
        )

    def _hand_up(self, n: Notice, target: Cadre, sent_at: datetime) -> None:
        """The task to the next person up the chain, saying who has not answered since when."""
        nid = str(NoticeKey.parse(n.id).copied(f"to-{target.code}"))
        if nid in self.have:
            return
        who = role_and_name(self.cadres, n.recipient)
        body = ("【演练】" if self.act.drill else "") + (
            f"【叫应升级】{who}"
            f"（{self.villages.get(n.village_code or '', '')}）自{format_time(sent_at)}收到以下任务后未回复，"
            f"请立即联系落实并回复：\n{n.body}"
        )
        self.rows.append(_copy(n, nid, "ack_forward", target.code, target.phone, body, self.now))
        self.have.add(nid)
        self.forwarded += 1
        self._log(
            nid,
            action="未叫应，逐级上报",
            detail=f"{who}未回复，已转{role_and_name(self.cadres, target.code)}",
        )

    def _log(self, nid: str, *, action: str, detail: str) -> None:
        log_event(
            self.session,
            activation_id=self.act.id,
            key=f"ack:{nid}",
            actor="镇应急办",
            action=action,
            detail=detail,
            at=self.now,
            simulated=self.act.drill,
        )


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


def role_and_name(cadres: dict[str, Cadre], code: str) -> str:
    """A cadre as the timeline names them (网格员张三); an unknown code as it is."""
    c = cadres.get(code)
    return f"{ROLE_ZH.get(c.role, c.title)}{c.name}" if c else code


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
    who = one_cadre(session, act, cadre)
    mine = _unanswered(session, activation_id, who)
    for n in mine:
        n.acknowledged_at = now
        if n.status in SENT:
            n.status = NoticeStatus.ACKNOWLEDGED
        session.add(n)
    if mine:
        log_event(
            session,
            activation_id=activation_id,
            key=f"acked:{who.code}:{now.isoformat()}",
            actor=who.name,
            action="已叫应",
            detail=f"{role_and_name({who.code: who}, who.code)}回复收到{len(mine)}份任务"
            + (f"：{mask_text(note)}" if note else ""),
            at=now,
            simulated=act.drill,
        )
    return len(mine)


def one_cadre(session: Session, act: Activation, cadre: str) -> Cadre:
    """The town's cadre with this code or name; refused unless exactly one is."""
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
    return matches[0]


def _unanswered(session: Session, activation_id: str, who: Cadre) -> list[Notice]:
    """What the cadre has been sent and not answered, and the tasks handed to them."""
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
    return mine
