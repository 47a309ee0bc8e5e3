"""What the flows read and record between their steps, one short transaction each.

Not tasks: plain calls a flow makes around its steps (a check before the first
step, the figures at the end, a question's figures, marking a decision done), so
that the flows themselves hold no database session.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select

from sanqing import reporting, response, review
from sanqing.db import session_scope
from sanqing.feeds import watch
from sanqing.models import Activation, Report, Village
from sanqing.registry import ensure_registry
from sanqing.scenarios import FindingInput, RoadReport


def check_field_reports(
    town_code: str, findings: list[FindingInput], roads: list[RoadReport]
) -> None:
    """Refuse findings or roads that name no point or road of the town, before any work."""
    with session_scope() as session:
        response.check_field_reports(session, town_code=town_code, findings=findings, roads=roads)


def figures(activation_id: str) -> dict[str, Any]:
    """The response's figures as the reports give them."""
    with session_scope() as session:
        return reporting.summarize(session=session, activation_id=activation_id)


def report_text(activation_id: str, report_id: str | None = None) -> str:
    """The text of that report, else of the last report of the activation (the 终报 once ended)."""
    with session_scope() as session:
        report = session.get(Report, report_id) if report_id else None
        report = (
            report
            or session.exec(
                select(Report)
                .where(Report.activation_id == activation_id)
                .order_by(col(Report.created_at).desc(), col(Report.seq).desc())
            ).first()
        )
        return report.text if report else ""


def review_markdown(activation_id: str, locale: str) -> str:
    """The after-action review (复盘) of the activation as markdown, as of now."""
    with session_scope() as session:
        found = review.build_review(session=session, activation_id=activation_id)
    return review.review_markdown(found, locale=locale)


def level_of(activation_id: str) -> str:
    """The activation's level now."""
    with session_scope() as session:
        return response.get_activation(session, activation_id).level


def village_names(codes: list[str]) -> dict[str, str]:
    """Village code → name, for questions put to people."""
    with session_scope() as session:
        return dict(
            session.exec(
                select(Village.code, Village.name).where(col(Village.code).in_(codes))
            ).all()
        )


def activation_and_outstanding(activation_id: str) -> tuple[Activation, dict[str, int]]:
    """The activation and its households not yet confirmed, per village."""
    with session_scope() as session:
        return response.get_activation(session, activation_id), response.outstanding(
            session, activation_id
        )


def patrol_state(activation_id: str) -> dict[str, Any]:
    """What the after-rain patrol recorded for the activation."""
    with session_scope() as session:
        return response.patrol_state(session, activation_id)


def stand_down_drill(town: str, plan: str, reason: str) -> None:
    """End the town's open drill (a drill that failed half-way frees its places and machines)."""
    town_code = ensure_registry(town)
    with session_scope() as session:
        act = response.open_activation(session, town_code=town_code, plan=plan, drill=True)
        if act is not None:
            response.stand_down(session=session, activation_id=act.id, reason=reason)


def acknowledge(town: str, cadre: str, note: str) -> int:
    """A cadre's call back (叫应) for the town's running response; how many tasks it answers."""
    from sanqing.epidemic.answers import acknowledge_everywhere

    town_code = ensure_registry(town)
    with session_scope() as session:
        return acknowledge_everywhere(
            session, town=town, town_code=town_code, cadre=cadre, note=note
        )


def why_not_carried_out(record_id: str, now: datetime | None) -> str | None:
    """Why a pending decision must not be carried out any more (None: go on)."""
    with session_scope() as session:
        return watch.why_not_carried_out(session=session, record_id=record_id, now=now)


def mark_done(record_id: str, activation_id: str | None, notes: list[str]) -> None:
    """A decision was carried out (on that activation, or on none, with why)."""
    with session_scope() as session:
        watch.mark_done(
            session=session, record_id=record_id, activation_id=activation_id, notes=notes
        )
