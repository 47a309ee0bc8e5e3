"""One builder per channel: which notices a village's response adds, to whom.

Each adds its notices to a ``NoticeBatch`` from the village's ``NoticeContext``:
an SMS to every household with a phone, one message for the village's WeChat group
and one for its loudspeaker, a door-visit list and a task list per cadre, and the
cards of moving households that were never handed out.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sanqing.labels import label
from sanqing.models import Channel
from sanqing.outbox.batch import NoticeBatch
from sanqing.outbox.cards import household_card
from sanqing.outbox.contexts import NoticeContext


def resident_sms(batch: NoticeBatch, ctx: NoticeContext) -> None:
    """Every household with a phone: its relocation order if it moves, else the warning."""
    households, moving = ctx.facts.households, ctx.facts.moving
    relocation = label(ctx.locale, "subject", "relocation")
    warning = label(ctx.locale, "subject", "warning")
    for code in sorted(households):
        h = households[code]
        if not h.phone:
            continue  # no phone: the door-visit list reaches this household
        r = moving.get(code)
        if r is not None:
            batch.add(
                Channel.SMS,
                "relocation",
                audience="resident",
                recipient=code,
                address=h.phone,
                subject=relocation,
                template="notices/relocation.sms.txt",
                move=ctx.move(r),
                cadre=ctx.cadre(r.cadre_code),
            )
        else:
            batch.add(
                Channel.SMS,
                "warning",
                audience="resident",
                recipient=code,
                address=h.phone,
                subject=warning,
                template="notices/warning.sms.txt",
            )


def village_messages(
    batch: NoticeBatch, ctx: NoticeContext, summary: dict[str, Any], channels: set[Channel]
) -> None:
    """The village's summary, to its WeChat group and over its loudspeaker (those planned)."""
    village = ctx.facts.village
    if Channel.WECHAT in channels:
        batch.add(
            Channel.WECHAT,
            "group",
            audience="group",
            recipient=village.code,
            address=None,
            subject=label(ctx.locale, "subject", "group").format(village=village.name),
            template="notices/group.wechat.txt",
            summary=summary,
        )
    if Channel.LOUDSPEAKER in channels:
        batch.add(
            Channel.LOUDSPEAKER,
            "broadcast",
            audience="public",
            recipient=village.code,
            address=None,
            subject=label(ctx.locale, "subject", "broadcast").format(village=village.name),
            template="notices/broadcast.loudspeaker.txt",
            summary=summary,
        )


def door_visit_lists(
    batch: NoticeBatch, ctx: NoticeContext, by_cadre: dict[str, list[Any]]
) -> None:
    """Each cadre with moves: the households to call at, in priority order."""
    for cadre_code, rs in sorted(by_cadre.items()):
        c = ctx.facts.cadres.get(cadre_code)
        batch.add(
            Channel.DOOR_VISIT,
            "door_visit",
            audience="cadre",
            recipient=cadre_code,
            address=c.phone if c else None,
            subject=label(ctx.locale, "subject", "door_visit").format(
                village=ctx.facts.village.name
            ),
            template="notices/door_visit.html",
            body_format="html",
            cadre=ctx.cadre(cadre_code),
            moves=[ctx.move(r) for r in rs],
        )


def missing_cards(batch: NoticeBatch, ctx: NoticeContext) -> None:
    """The 避险明白卡 of moving households that the registry says were never handed out.

    Cards are handed out before the flood season (`sanqing cards`): a response prints
    only those that are still missing.
    """
    facts = ctx.facts
    for r in facts.relocations:
        h = facts.households[r.household_code]
        if h.card_issued:
            continue
        batch.add(
            Channel.CARD,
            "card",
            audience="resident",
            recipient=h.code,
            address=None,
            subject=label(ctx.locale, "subject", "card"),
            template="notices/card.html",
            body_format="html",
            card=household_card(
                facts.book,
                h,
                locale=ctx.locale,
                shelter=facts.shelters.get(r.shelter_code or ""),
                hazard_codes=list(r.hazard_codes),
                cadre_code=r.cadre_code,
                isolation=r.isolation,
            ),
        )


def task_lists(
    batch: NoticeBatch,
    ctx: NoticeContext,
    by_cadre: dict[str, list[Any]],
    inspections: list[Any],
) -> None:
    """Each cadre with moves or inspections: a task list of both."""
    by_inspector = inspections_by_inspector(ctx, inspections)
    for cadre_code in sorted(set(by_cadre) | set(by_inspector)):
        c = ctx.facts.cadres.get(cadre_code)
        batch.add(
            Channel.TASK_LIST,
            "tasks",
            audience="cadre",
            recipient=cadre_code,
            address=c.phone if c else None,
            subject=label(ctx.locale, "subject", "tasks"),
            template="notices/tasks.txt",
            cadre=ctx.cadre(cadre_code),
            moves=[ctx.move(r) for r in by_cadre.get(cadre_code, [])],
            inspections=by_inspector.get(cadre_code, []),
        )


def inspections_by_inspector(
    ctx: NoticeContext, inspections: list[Any]
) -> dict[str, list[dict[str, Any]]]:
    """inspector's code → their inspections as a task list shows them (unassigned left out)."""
    by_inspector: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for i in inspections:
        if i.inspector_code:
            by_inspector[i.inspector_code].append(
                {
                    "hazard": ctx.hazard(i.hazard_code),
                    "phase": label(ctx.locale, "phase", i.phase),
                    "status": label(ctx.locale, "inspection", i.status),
                    "finding": i.finding,
                    "checklist": i.checklist,
                }
            )
    return by_inspector
