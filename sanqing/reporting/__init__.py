"""Step 5, report upward: the figures of an activation and the reports the county gets.

``figures`` counts (a dict per report, aggregates only), ``wording`` says what the
figures cannot (rainfall, time of the event, who signs), ``casualties`` keeps the
town's casualty figures, ``drafts`` numbers a report and gathers what it says
(``final`` what only the 终报 says), ``upward`` decides when each report is due
(首报, 续报, 终报, 日报), renders, stores and sends it, and the phone report.
Never a resident's name, phone or ID.
"""

from __future__ import annotations

from sanqing.reporting.casualties import (
    casualty_totals,
    record_casualties,
)
from sanqing.reporting.figures import (
    CHANGE_FIGURES,
    RELOCATED,
    WHEREABOUTS,
    progress,
    summarize,
)
from sanqing.reporting.upward import (
    daily_report,
    phone_report_task,
    report_upward,
    write_report,
)
from sanqing.reporting.wording import (
    event_time,
    rainfall,
    town_officials,
)

__all__ = [
    "CHANGE_FIGURES",
    "RELOCATED",
    "WHEREABOUTS",
    "casualty_totals",
    "daily_report",
    "event_time",
    "phone_report_task",
    "progress",
    "rainfall",
    "record_casualties",
    "report_upward",
    "summarize",
    "town_officials",
    "write_report",
]
