"""A warning document a coordinator hands to ``sanqing respond``: read, stored, checked.

The document is read and stored as the rain watch reads and stores it (so its later
update or cancel acts on the response), then refused in one line, naming the file,
when it holds nothing to respond to: no flood warning with a colour, an exercise, a
warning no longer in force, or one that covers no village of the town.
"""

from __future__ import annotations

from sanqing.db import session_scope
from sanqing.errors import SanqingError
from sanqing.feeds.chains import ends_warnings, is_drill, record_id
from sanqing.feeds.liveness import warning_gone
from sanqing.feeds.model import FeedWarning
from sanqing.feeds.watch import Decided, ingest_results, poll, warning_info
from sanqing.plans import load_plan
from sanqing.warning import WarningInfo


def warning_for_town(source: str, town_code: str) -> tuple[WarningInfo, str | None]:
    """The flood warning of a document, stored as the watch stores it, for this town.

    Returns the warning and the id of its stored decision when that decision concerns
    this town only (it is then carried out here); a decision that spans other towns
    stays pending for the watch.
    """
    d = flood_warning_in(source)
    assert d.warning is not None
    w = d.warning
    check_in_force(source, w)
    villages = villages_of_town(source, d, town_code)
    info = warning_info(w, d.decision).model_copy(update={"village_codes": villages})
    only_here = set(d.decision.town_codes) <= {town_code}
    return info, record_id(w.sender, w.identifier) if only_here else None


def flood_warning_in(source: str, *, as_sent: bool = False) -> Decided:
    """Read and store the document as the watch does; its first flood warning with a
    colour that starts or changes a response (not one that ends warnings).

    ``as_sent``: decide it as at the moment it was sent (what-if: last year's warning
    as if it came now), not at the clock's now, when it may have expired.
    """
    result = poll(url=source, area_codes=[], area_desc="", conditional=False)
    plan = load_plan()
    sent = [w.sent for w in result.warnings]
    now = min(sent) if as_sent and sent else None
    with session_scope() as session:
        decided = ingest_results(session=session, results=[result], plan=plan, now=now)
    problems = [d.decision.reason for d in decided if d.warning is None]
    usable = [
        d
        for d in decided
        if d.warning is not None
        and not ends_warnings(d.warning)
        and d.warning.hazard in plan.warning_levels
        and d.warning.colour is not None
    ]
    if not usable:
        why = "; ".join(problems) or "no flood warning with a colour in it"
        raise SanqingError(f"{source}: nothing to respond to ({why})")
    return usable[0]


def check_in_force(source: str, warning: FeedWarning) -> None:
    """Refuse an exercise, and a warning cancelled, ended, superseded or withdrawn."""
    if is_drill(warning):
        raise SanqingError(
            f"{source}: warning {warning.identifier} is an exercise ({warning.status}): "
            "respond runs real responses only; `sanqing warnings ingest FILE --respond` "
            "runs it as a drill"
        )
    with session_scope() as session:
        gone = warning_gone(session, sender=warning.sender, identifier=warning.identifier)
    if gone is not None:  # cancelled, all-clear, superseded or withdrawn: never restarted here
        raise SanqingError(f"{source}: warning {warning.identifier} is no longer in force: {gone}")


def villages_of_town(source: str, d: Decided, town_code: str) -> list[str]:
    """The villages of this town the decision acts on; a refusal when there are none."""
    assert d.warning is not None
    villages = [c for c in d.decision.village_codes if c.startswith(town_code)]
    if not villages and not d.decision.village_codes:  # expired, draft, no area …
        raise SanqingError(
            f"{source}: warning {d.warning.identifier} is not acted on: {d.decision.reason}"
        )
    if not villages:
        raise SanqingError(
            f"{source}: warning {d.warning.identifier} covers no village of town {town_code} "
            f"(area: {d.warning.area_desc or '—'})"
        )
    return villages
