"""Step 6 of the epidemic plan, 物资保障: what each staffed point needs over the response.

Per point and item: the plan's need a day times the days, the stock the point holds
(the town's ``epidemic.yaml``), what is requested (need less stock), who supplies it
and who pays, and what was delivered; what falls short is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from sanqing.db import upsert
from sanqing.epidemic.plan import EpidemicPlan
from sanqing.epidemic.resources import Point, TownResources
from sanqing.errors import SanqingError
from sanqing.models import SupplyLine


@dataclass(frozen=True)
class SupplyFigures:
    requested: int
    delivered: int
    short: int
    lines_short: int


def request_supplies(
    session: Session,
    *,
    activation_id: str,
    plan: EpidemicPlan,
    res: TownResources,
    points: list[Point],
    days: int,
    now: datetime,
) -> int:
    """A supply line per point and item; the number of lines that need a request."""
    rows = []
    for p in points:
        stock = res.stock.get(p.kind, {})
        who = res.supplier_of(p.kind)
        for item, per_day in plan.supplies_per_point_day.items():
            needed = per_day * days
            rows.append(
                {
                    "id": f"{activation_id}:{p.code}:{item}",
                    "activation_id": activation_id,
                    "point_code": p.code,
                    "item": item,
                    "needed": needed,
                    "stock": stock.get(item, 0),
                    "requested": max(0, needed - stock.get(item, 0)),
                    "supplier": who.supplier,
                    "paid_by": who.paid_by,
                    "updated_at": now,
                }
            )
    if rows:
        upsert(session, SupplyLine, rows)
    return sum(1 for r in rows if r["requested"])


def record_delivery(
    session: Session, *, activation_id: str, point: str, item: str, delivered: int, at: datetime
) -> SupplyLine:
    """What the supplier brought to a point (replaces an earlier count)."""
    line = session.get(SupplyLine, f"{activation_id}:{point}:{item}")
    if line is None:
        raise SanqingError(f"no supply line for point {point} and item {item}")
    if delivered < 0:
        raise SanqingError(f"point {point}, {item}: delivered must be 0 or more, not {delivered}")
    line.delivered, line.updated_at = delivered, at
    session.add(line)
    return line


def deliver_requested(session: Session, *, activation_id: str, at: datetime) -> None:
    """Lines nobody reported otherwise: delivered as requested (a drill's suppliers)."""
    for line in session.exec(select(SupplyLine).where(SupplyLine.activation_id == activation_id)):
        if line.delivered is None:
            line.delivered, line.updated_at = line.requested, at
            session.add(line)


def figures(session: Session, activation_id: str) -> SupplyFigures:
    lines = session.exec(select(SupplyLine).where(SupplyLine.activation_id == activation_id)).all()
    short = [max(0, ln.requested - (ln.delivered or 0)) for ln in lines]
    return SupplyFigures(
        requested=sum(ln.requested for ln in lines),
        delivered=sum(ln.delivered or 0 for ln in lines),
        short=sum(short),
        lines_short=sum(1 for s in short if s),
    )
