"""The tables of each sheet of the ledger, read from the database (names, never phones)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select as select_rows
from sqlmodel import Session, col, select

from sanqing.export.xlsx import Table, Value
from sanqing.labels import label
from sanqing.models import (
    Activation,
    Cadre,
    Channel,
    Household,
    Notice,
    NoticeStatus,
    Relocation,
    RelocationStatus,
    Report,
    Shelter,
    TimelineEvent,
    Town,
    Village,
)
from sanqing.privacy import mask_phone, mask_text
from sanqing.reporting import summarize
from sanqing.settings import DEFAULT_LOCALE
from sanqing.status import placed_people, warnings_of

#: Channels whose address is a phone number (the others: a group's or a village's name).
PHONE_CHANNELS = frozenset({Channel.SMS, Channel.PHONE_CALL})
ZH = DEFAULT_LOCALE  # the county's ledger is in Chinese
#: The per-village table of 概况: figure (as ``summarize`` names it) → column.
VILLAGE_COLUMNS = {
    "households_to_relocate": "应转移户数",
    "people_to_relocate": "应转移人数",
    "households_relocated": "已转移户数",
    "people_relocated": "已转移人数",
    "in_shelter": "在安置点人数",
    "refused": "拒绝转移户数",
    "unreachable": "联系不上户数",
    "shortfall_people": "安置缺口人数",
}

# The columns of each list sheet, in order (what the county reads across the top).
RELOCATION_HEADER = [
    "序号",
    "村",
    "村民小组",
    "户编号",
    "户主",
    "人数",
    "区域",
    "转移原因",
    "特殊群体",
    "转移顺序",
    "包保责任人",
    "安置点",
    "状态",
    "紧急撤离",
    "安置缺口",
    "下达时间",
    "更新时间",
]
SHELTER_HEADER = [
    "安置点",
    "所在村",
    "类型",
    "负责人",
    "容量（人）",
    "本次安置（人）",
    "剩余床位",
    "隔离安置位",
    "其中隔离安置（人）",
]
NOTICE_HEADER = [
    "渠道",
    "对象",
    "村",
    "接收方编码",
    "号码/群（已脱敏）",
    "标题",
    "状态",
    "尝试次数",
    "生成时间",
    "发送时间",
    "送达时间",
    "回复时间",
    "错误",
]
TIMELINE_HEADER = ["时间", "执行人", "事项", "详情", "演练模拟"]
REPORT_HEADER = ["类别", "序号", "标题", "报送时限", "生成时间", "超时", "状态"]


@dataclass(frozen=True)
class Names:
    """Names for the codes the rows carry: villages, cadres (who act for the town), shelters."""

    villages: dict[str, str]
    cadres: dict[str, str]
    shelters: dict[str, str]

    @classmethod
    def load(cls, session: Session, act: Activation) -> Names:
        """The names of the activation's town."""
        town = act.town_code

        def names(code: Any, name: Any, where: Any) -> dict[str, str]:
            return {c: n for c, n in session.exec(select(code, name).where(where == town))}

        return cls(
            villages=names(Village.code, Village.name, Village.town_code),
            cadres=names(Cadre.code, Cadre.name, Cadre.town_code),
            shelters=names(Shelter.code, Shelter.name, Shelter.town_code),
        )

    def village(self, code: str | None) -> str:
        return self.villages.get(code, code) if code else ""

    def cadre(self, code: str | None) -> str:
        return self.cadres.get(code, code) if code else ""

    def shelter(self, code: str | None) -> str:
        return self.shelters.get(code, code) if code else ""


def overview(session: Session, act: Activation, town: Town | None, now: datetime) -> list[Table]:
    """The response, its figures as the reports count them, and the same per village."""
    f = summarize(session=session, activation_id=act.id)
    in_shelter = f["whereabouts"][RelocationStatus.IN_SHELTER.value]["people"]
    about: list[tuple[str, Value]] = [
        ("乡镇", town.name if town else act.town_code),
        ("所属县", town.county if town else ""),
        ("预案", label(ZH, "plan", act.plan)),
        ("响应级别", label(ZH, "level", act.level)),
        ("启动依据", label(ZH, "basis", f["basis"])),
        ("响应编号", act.id),
        ("启动时间", act.activated_at),
        ("状态", label(ZH, "activation_status", act.status)),
        ("结束时间", act.stood_down_at),
        ("演练", act.drill),
        ("预警", "、".join(warnings_of(session, act)) or "人工启动"),
        ("涉及村数", f["villages"]),
        ("应转移户数", f["households_to_relocate"]),
        ("应转移人数", f["people_to_relocate"]),
        ("已转移户数", f["households_relocated"]),
        ("已转移人数", f["people_relocated"]),
        ("在安置点人数", in_shelter),
        ("拒绝转移户数", f["households_refused"]),
        ("联系不上户数", f["households_unreachable"]),
        ("安置缺口户数", f["shelter_shortfall_households"]),
        ("安置缺口人数", f["shelter_shortfall_people"]),
        ("导出时间", now),
    ]
    per_village = Table(
        header=("村", *VILLAGE_COLUMNS.values()),
        rows=[[v["name"], *(v[k] for k in VILLAGE_COLUMNS)] for v in f["village_figures"]],
    )
    return [Table(header=("项目", "内容"), rows=list(about)), per_village]


def relocations(session: Session, act: Activation, names: Names) -> Table:
    """One row per household ordered to move, by village and the order they move in."""
    rels = list(
        session.exec(
            # the head's name and group only: the household's phone and ID stay in the table
            select(Relocation, Household.group_name, Household.head_name)
            .join(Household, col(Household.code) == col(Relocation.household_code))
            .where(Relocation.activation_id == act.id)
            .order_by(col(Relocation.village_code), col(Relocation.priority), col(Relocation.id))
        )
    )
    rows: list[Sequence[Value]] = [
        (
            n,
            names.village(r.village_code),
            group,
            r.household_code,
            head,
            r.people,
            label(ZH, "zone", r.zone),
            "、".join(label(ZH, "reason", x) for x in r.reasons),
            "、".join(label(ZH, "vulnerability", v) for v in r.vulnerabilities),
            r.priority,
            names.cadre(r.cadre_code),
            names.shelter(r.shelter_code),
            label(ZH, "relocation", r.status),
            r.urgent,
            r.shortfall,
            r.ordered_at,
            r.updated_at,
        )
        for n, (r, group, head) in enumerate(rels, start=1)
    ]
    return Table(header=RELOCATION_HEADER, rows=rows)


def shelters(session: Session, act: Activation, names: Names) -> Table:
    """Each shelter of the town: its places and the people this activation placed there."""
    placed = placed_people(session, act.id)
    rows: list[Sequence[Value]] = []
    for s in session.exec(
        select(Shelter).where(Shelter.town_code == act.town_code).order_by(col(Shelter.code))
    ):
        general, apart = placed.get((s.code, False), 0), placed.get((s.code, True), 0)
        rows.append(
            (
                s.name,
                names.village(s.village_code),
                s.kind,
                names.cadre(s.manager_cadre_code),
                s.capacity,
                general + apart,
                s.capacity - general,
                s.isolation_places,
                apart,
            )
        )
    return Table(header=SHELTER_HEADER, rows=rows)


def notices(session: Session, act: Activation, names: Names) -> list[Table]:
    """A count per channel and status, then one row per notice (no body; addresses masked)."""
    # A town has thousands of notices, some with long HTML bodies: only the columns shown.
    shown: list[Any] = [Notice.channel, Notice.audience, Notice.village_code, Notice.recipient]
    shown += [Notice.address, Notice.subject, Notice.status, Notice.attempts, Notice.created_at]
    shown += [Notice.sent_at, Notice.delivered_at, Notice.acknowledged_at, Notice.last_error]
    notices = list(
        session.execute(
            select_rows(*(col(c) for c in shown))
            .where(col(Notice.activation_id) == act.id)
            .order_by(col(Notice.channel), col(Notice.created_at), col(Notice.id))
        )
    )
    by_status = _notice_counts(Counter((n.channel, n.status) for n in notices))
    rows: list[Sequence[Value]] = [
        (
            label(ZH, "channel", n.channel),
            label(ZH, "audience", n.audience),
            names.village(n.village_code),
            n.recipient,
            mask_phone(n.address) if n.channel in PHONE_CHANNELS else mask_text(n.address or ""),
            mask_text(n.subject),
            label(ZH, "notice_status", n.status),
            n.attempts,
            n.created_at,
            n.sent_at,
            n.delivered_at,
            n.acknowledged_at,
            mask_text(n.last_error or ""),
        )
        for n in notices
    ]
    return [by_status, Table(header=NOTICE_HEADER, rows=rows)]


def _notice_counts(counts: Counter[tuple[str, str]]) -> Table:
    """Notices per channel (rows) and status (columns), the channels and statuses there are."""
    statuses = [s for s in NoticeStatus if any(st == s for _, st in counts)]
    channels = [c for c in Channel if any(ch == c for ch, _ in counts)]

    def line(name: str, per_status: list[int]) -> list[Value]:
        return [name, *per_status, sum(per_status)]

    rows: list[Sequence[Value]] = [
        line(label(ZH, "channel", c), [counts[(c, s)] for s in statuses]) for c in channels
    ]
    rows.append(line("合计", [sum(counts[(c, s)] for c in channels) for s in statuses]))
    header = ["渠道", *(label(ZH, "notice_status", s) for s in statuses), "合计"]
    return Table(header=header, rows=rows)


def timeline(session: Session, act: Activation, names: Names) -> Table:
    """The response log (处置日志), in time order."""
    events = session.exec(
        select(TimelineEvent)
        .where(TimelineEvent.activation_id == act.id)
        .order_by(col(TimelineEvent.at), col(TimelineEvent.id))
    )
    rows: list[Sequence[Value]] = [
        (e.at, names.cadre(e.actor), e.action, mask_text(e.detail), e.simulated) for e in events
    ]
    return Table(header=("时间", "执行人", "事项", "详情", "演练模拟"), rows=rows)


def reports(session: Session, act: Activation) -> Table:
    """The reports upward, in the order they were made."""
    reports = session.exec(
        select(Report)
        .where(Report.activation_id == act.id)
        .order_by(col(Report.created_at), col(Report.seq), col(Report.id))
    )
    rows: list[Sequence[Value]] = [
        (
            label(ZH, "report_kind", r.kind),
            r.seq,
            r.title,
            r.deadline_at,
            r.created_at,
            r.late,
            label(ZH, "notice_status", r.status),
        )
        for r in reports
    ]
    return Table(header=REPORT_HEADER, rows=rows)
