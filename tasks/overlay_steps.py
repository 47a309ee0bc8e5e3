"""三情叠加: the epidemic response a flood drill comes during, opened before the flood.

Until the epidemic flow's own steps (``sanqing.epidemic.screening``) are on main, the
drill opens it with ``sanqing.epidemic.overlay.open_drill_epidemic``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from prefect.logging import get_run_logger

from sanqing.db import session_scope
from sanqing.epidemic.overlay import open_drill_epidemic
from sanqing.models import utcnow
from sanqing.plans import Level
from sanqing.registry import find_town, find_town_dir
from tasks.options import db_task

#: The epidemic response runs before the flood's warning comes: the drill opens it earlier.
EPIDEMIC_BEFORE_WARNING = timedelta(hours=1)


@db_task("open-epidemic-drill")
def open_epidemic_drill(
    town: str, level: Level, registrations: str, warning_sent: datetime | None
) -> str:
    """Open the town's epidemic response as a drill at ``level``, import the town's
    register and screen it; the epidemic activation's id."""
    with session_scope() as session:
        act_id = open_drill_epidemic(
            session,
            town=find_town(session, town),
            level=level,
            register=find_town_dir(town) / registrations,
            now=(warning_sent - EPIDEMIC_BEFORE_WARNING) if warning_sent else utcnow(),
        )
    get_run_logger().info("epidemic drill %s at level %s", act_id, level.value)
    return act_id
