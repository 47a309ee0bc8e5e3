"""三情叠加: the epidemic response a flood drill comes during, opened before the flood."""

from __future__ import annotations

from datetime import datetime, timedelta

from prefect.logging import get_run_logger

from sanqing.db import session_scope
from sanqing.epidemic import steps, support
from sanqing.models import utcnow
from sanqing.plans import Level
from sanqing.settings import DEFAULT_LOCALE
from tasks.options import db_task

#: The epidemic response runs before the flood's warning comes: the drill opens it earlier.
EPIDEMIC_BEFORE_WARNING = timedelta(hours=1)


@db_task("open-epidemic-drill")
def open_epidemic_drill(
    town: str, level: Level, registrations: str, warning_sent: datetime | None
) -> str:
    """Open the town's epidemic response as a drill at ``level`` an hour before the flood's
    warning: its register imported and screened, its points staffed for the day (one
    roster of people for both plans); the epidemic activation's id."""
    now = (warning_sent - EPIDEMIC_BEFORE_WARNING) if warning_sent else utcnow()
    with session_scope() as session:
        steps.import_town_register(session, town=town, file=registrations, now=now)
    with session_scope() as session:
        act = steps.activate(
            session, town=town, level=level, drill=True, locale=DEFAULT_LOCALE, now=now
        )
    with session_scope() as session:
        counts = steps.screen_arrivals(session, act.activation_id)
        support.staff_points(
            session, act.activation_id, days=1, locale=DEFAULT_LOCALE, answers=None
        )
    get_run_logger().info(
        "疫情防控演练%s级：居家健康监测%s人 / epidemic drill at level %s, %s monitored",
        level.value, counts.monitoring, level.value, counts.monitoring,
    )  # fmt: skip
    return act.activation_id
