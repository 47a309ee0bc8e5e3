"""What the reports say besides the figures: the rainfall, the time of the event, who signs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from sanqing.models import (
    Activation,
    Cadre,
    CadreRole,
    FeedRecord,
    Inspection,
    InspectionStatus,
)

_RAIN_CLAUSE = re.compile(r"\d+(?:\.\d+)?\s*(?:毫米|mm)", re.IGNORECASE)


def rainfall(warning: dict[str, Any] | None) -> str:
    """The rainfall a warning gives (its clauses up to the one with millimetres), or ''.

    ``预计未来6小时内，我县鸡峰镇、小川镇等地将出现50毫米以上强降水`` from a CAP description;
    '' when the warning names no figure (the report then says 雨量数据待报).
    """
    if not warning:
        return ""
    for field in ("description", "headline"):
        text = str(warning.get(field) or "")
        for sentence in re.split(r"[。；;\n]", text):
            if not _RAIN_CLAUSE.search(sentence):
                continue
            body = sentence.split("：", 1)[-1].split(":", 1)[-1]
            clauses = re.split(r"[，,]", body)
            kept = []
            for clause in clauses:
                kept.append(clause.strip())
                if _RAIN_CLAUSE.search(clause):
                    break
            return "，".join(c for c in kept if c)
    return ""


def event_time(session: Session, act: Activation) -> datetime:
    """When the reports' deadlines start: the event, not the activation.

    The warning received (the feed's receipt, else its sent time) when the activation
    has a warning; else the first danger a monitor found; else the activation time.
    """
    if act.warning:
        received = session.exec(
            select(func.min(FeedRecord.received_at)).where(
                FeedRecord.identifier == act.warning_identifier
            )
        ).one()
        if received is not None:
            return received.astimezone(UTC) if received.tzinfo else received.replace(tzinfo=UTC)
        sent = act.warning.get("sent")
        if sent:
            when = sent if isinstance(sent, datetime) else datetime.fromisoformat(str(sent))
            if when.tzinfo is not None:
                return when
    found = session.exec(
        select(func.min(Inspection.inspected_at)).where(
            Inspection.activation_id == act.id, Inspection.status == InspectionStatus.DANGER
        )
    ).one()
    if found is not None:
        return found.astimezone(UTC) if found.tzinfo else found.replace(tzinfo=UTC)
    return act.activated_at


def town_officials(session: Session, town_code: str) -> tuple[Cadre | None, Cadre | None]:
    """签发人 and 联系人: the town's first and second town leader (by code)."""
    leaders = list(
        session.exec(
            select(Cadre)
            .where(Cadre.town_code == town_code, Cadre.role == CadreRole.TOWN_LEADER)
            .order_by(col(Cadre.code))
        )
    )
    signer = leaders[0] if leaders else None
    contact = leaders[1] if len(leaders) > 1 else signer
    return signer, contact
