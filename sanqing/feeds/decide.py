"""The decision on one warning, over the registry and what earlier warnings started.

``decide`` reads the database and writes nothing; ``store.record`` stores the warning
and its decision in ``FeedRecord`` (and marks the warnings a cancel or all-clear ends);
``store.ingest`` does both. The chains that warnings form (references, ends,
supersessions, what is in force) are ``chains``; the decision on a cancel or all-clear
is ``ends``, and an alert's or update's per town ``towns``. Nothing here starts a flow: the caller acts on the decision
(``activate``/``escalate``: run the flood response, whose ``activate_plan`` opens or
continues the town's one activation; ``downgrade``: ``response.set_level``;
``stand_down``: ``response.stand_down``). ``assess`` gives the same decision with
the detail per town (action, target level, open activation), for warnings that
span several towns.

Rules, in order:

1. The same warning again (same identifier, and same sender when both have one)
   is a ``duplicate``: nothing changes and it is not recorded again. Except a repeat
   whose area covers villages the stored record does not (QWeather: the same alert
   id from two location feeds): while the warning has not ended, it is decided again
   over both areas together (rules 4-6: it widens the response) and its record is
   updated in place.
2. Status ``Draft``/``System`` (or an unknown status), and message types other than
   Alert/Update/Cancel, are ``ignore``d.
3. A ``Cancel``, or an Update (or Alert) with responseType ``AllClear``, ends the
   warnings it references, and with them their whole chain (what they reference,
   and the updates that reference them). Every town those warnings started or
   continued a response for stands down, unless another warning still in force
   (not ended, not expired) holds it: then it is downgraded to that warning's
   level if that is lower, else left running (``ignore``). Unknown references,
   or no running response: ``ignore``. A cancel is never "expired".
3b. An Alert or Update that a recorded Update (holding a response) already references,
   or that a recorded Cancel/all-clear reaches — references directly or through other
   recorded messages, whatever their own decision (``ended_by``) — is ``ignore``d: the
   newer message came in first, as from an index listing the newest first, and stands
   for it. Except a message that only now ties an end to a response already running (a
   cancel naming the update, the alert started, then the update): that response stands
   down (rule 3, on behalf of the end).
4. An Alert or Update already expired at ``now``, without a flood-plan hazard
   (or one the plan has no levels for), or without a colour, is ``ignore``d; so is
   one that covers no registered village.
5. Per covered town, against its open activation (real or drill, as the warning):
   none → ``activate``; the plan level of the warning is higher → ``escalate``;
   equal, or lower without being a downgrade (below) → ``escalate`` when the
   warning adds villages the activation does not answer for yet (the caller's
   ``activate_plan`` widens it and never lowers the level), else ``ignore``
   ("the running response continues"). A lower level is a ``downgrade`` only for
   an Update whose chain holds that activation and when no other warning in
   force needs a higher level: a new, milder Alert never lowers a response
   another warning started.
6. The warning's decision is the strongest of its towns' actions
   (activate > escalate > downgrade > ignore; for ends: stand_down > downgrade >
   ignore), with ``town_codes``/``village_codes`` of everything it covers
   (for a stand-down or a downgrade after a cancel: the towns concerned, and their
   villages). ``level`` is the plan level of the warning's hazard and colour,
   except for a downgrade: the level the response goes down to.

Decisions still to carry out follow their chain (``record``): an Update that holds a
response supersedes the pending starts and level changes of what it references (an
update to red of a pending orange activation leaves one activation, the update's, at
level I), and a Cancel/all-clear withdraws those of the chain it ends (nothing starts
after the all-clear). Withdrawn records stay as history, ``done`` with a reason that
says so (``withdraw``). Just before a decision is carried out, ``not_live`` checks
again that its warning has not ended, expired or been superseded since. A stand-down
or a downgrade keeps the activations it was decided for (``targets_of``): carried out
later, it acts on those only, never on a response opened since.

"In force" (for rules 3 and 5): a recorded warning that holds the town (see
``record``), not ended, not expired, not superseded by a recorded Update that
itself holds a response (an update ignored for want of a colour or a flood hazard
supersedes nothing), and not reached by a recorded Cancel/all-clear; the level it
needs is the plan level of its hazard and colour.

``Exercise``/``Test`` warnings follow the same rules against drill activations.
``Decision.drill`` says whether the activations concerned are drills: for an Alert
or Update its own status; for a Cancel or all-clear the status of the chain it ends
(an ``Actual`` cancel of an ``Exercise`` alert stands down the drill, never the real
response). A chain mixing drill and real warnings is decided as the cancel's own
status; its towns of the other kind are ``ignore``d (the one decision carries one
flag) and the reason says so. The reason of a decision about drills, and only of
one, starts with ``DRILL_PREFIX`` ("drill (<status>): "); the stored record keeps the
flag in its ``drill`` column (``decision_of``).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from sanqing.feeds.area import Coverage, covered_villages
from sanqing.feeds.assessment import (
    Assessment,
    TownDecision,
    drill_prefix,
    ignored,
    strongest,
    summary,
)
from sanqing.feeds.chains import (
    DRILL_STATUSES,
    IGNORED_STATUSES,
    MESSAGE_TYPES,
    REAL_STATUSES,
    aware,
    decision_of,
    ends_warnings,
    find_duplicate,
    is_drill,
    record_ends,
    superseded_by,
)
from sanqing.feeds.ends import assess_end, late_end
from sanqing.feeds.model import Action, Decision, FeedWarning
from sanqing.feeds.towns import assess_towns
from sanqing.models import FeedRecord, Town, Village
from sanqing.plans import Level, Plan

__all__ = ["Assessment", "TownDecision", "assess", "decide"]


def assess(*, session: Session, warning: FeedWarning, plan: Plan, now: datetime) -> Assessment:
    """The decision on ``warning`` with its detail per town; reads the database only."""
    now = aware(now)
    dup = find_duplicate(session, warning)
    wider: Coverage | None = None
    if dup is not None:
        wider = _wider_repeat(session, warning, plan, now, dup)
        if wider is None:
            return _duplicate(dup)
    never = _never_acted_on(warning)
    if never is not None:
        return ignored(warning, never)
    if ends_warnings(warning):
        return assess_end(session, warning, plan, now)
    later = superseded_by(session, sender=warning.sender, identifier=warning.identifier)
    if later is not None:
        # An index listing the newest message first: its update or cancel came in first.
        return _came_after(session, warning, plan, now, later)
    if warning.expires is not None and warning.expires < now:
        return ignored(warning, f"already expired at {warning.expires.isoformat()}")
    if warning.hazard is None:
        what = warning.event or warning.event_code or warning.headline or "?"
        return ignored(warning, f"not a hazard of the {plan.plan} plan (event {what!r})")
    if warning.hazard not in plan.warning_levels:
        known = ", ".join(sorted(plan.warning_levels))
        return ignored(
            warning, f"hazard {warning.hazard!r} has no levels in the {plan.plan} plan ({known})"
        )
    if warning.colour is None:
        return ignored(warning, "no warning colour: the level cannot be told")
    level = plan.level_for_warning(warning.hazard, warning.colour)
    coverage = wider or _coverage(session, warning)
    if coverage.empty:
        a = ignored(warning, "covers no village in the registry")
        return Assessment(a.decision, coverage=coverage)
    towns = assess_towns(
        session, warning=warning, plan=plan, now=now, level=level, coverage=coverage
    )
    label = f"{warning.hazard} {warning.colour.value} → level {level.value}"
    return _combine(warning, level=level, label=label, coverage=coverage, towns=towns)


def _duplicate(dup: FeedRecord) -> Assessment:
    """The same warning again (rule 1): the stored decision stands, nothing changes."""
    before = decision_of(dup)
    prefix = dup.reason.split("): ", 1)[0] + "): " if before.drill else ""
    return Assessment(
        Decision(
            action=Action.DUPLICATE,
            reason=(
                f"{prefix}already received at {dup.received_at.isoformat()} "
                f"(decided {dup.action}): nothing changes"
            ),
            level=before.level,
            town_codes=before.town_codes,
            village_codes=before.village_codes,
            drill=before.drill,
        )
    )


def _never_acted_on(warning: FeedWarning) -> str | None:
    """Why a warning of this status or message type is never acted on (rule 2), or None."""
    status = warning.status.strip().lower()
    if status in IGNORED_STATUSES:
        return f"status {warning.status}: recorded, never acted on"
    if status not in REAL_STATUSES | DRILL_STATUSES:
        return f"unknown status {warning.status!r}: recorded, not acted on"
    if warning.msg_type.strip().lower() not in MESSAGE_TYPES:
        return f"message type {warning.msg_type!r} carries no warning"
    return None


def _came_after(
    session: Session, warning: FeedWarning, plan: Plan, now: datetime, later: FeedRecord
) -> Assessment:
    """A message a recorded update or end already stands for (rule 3b)."""
    if record_ends(later):
        late = late_end(session, warning, plan, now, later)
        if late is not None:
            return late
    what = "cancelled" if record_ends(later) else "superseded"
    return ignored(
        warning, f"already {what} by {later.identifier}, received before it: starts nothing"
    )


def _coverage(session: Session, warning: FeedWarning) -> Coverage:
    villages = list(session.exec(select(Village).order_by(Village.code)))
    towns = {t.code: t for t in session.exec(select(Town))}
    return covered_villages(warning, villages, towns)


def _wider_repeat(
    session: Session, warning: FeedWarning, plan: Plan, now: datetime, dup: FeedRecord
) -> Coverage | None:
    """The area to decide a repeat over, when it is no mere duplicate; else None.

    QWeather alerts carry no area of their own: the same alert id comes from every
    location feed it touches, each with that feed's area geocodes. A repeat (same
    identifier) of a warning still running (not ended) that would start something —
    an Alert/Update of a counted status, not expired, with a plan hazard and a colour —
    and whose area covers villages the stored record does not, is decided again over
    the union of both areas (which widens the response, rule 5); ``record`` then
    updates the stored record in place (one record per warning, same id).
    """
    if dup.ended or ends_warnings(warning):
        return None
    if warning.status.strip().lower() not in REAL_STATUSES | DRILL_STATUSES:
        return None
    if warning.msg_type.strip().lower() not in MESSAGE_TYPES:
        return None
    if warning.expires is not None and warning.expires < now:
        return None
    if warning.hazard not in plan.warning_levels or warning.colour is None:
        return None
    cov = _coverage(session, warning)
    known = set(dup.village_codes)
    new = sorted(set(cov.village_codes) - known)
    if not new:
        return None
    return Coverage(
        village_codes=sorted(known | set(cov.village_codes)),
        town_codes=sorted(set(dup.town_codes) | set(cov.town_codes)),
        how=dict(cov.how),
        notes=[
            *cov.notes,
            f"received again with a wider area (villages {', '.join(new)}): "
            "decided over both areas",
        ],
    )


def _combine(
    warning: FeedWarning,
    *,
    level: Level,
    label: str,
    coverage: Coverage,
    towns: list[TownDecision],
) -> Assessment:
    """The warning's decision: the strongest of its towns' actions, over all it covers (rule 6)."""
    action = strongest(towns)
    if action == Action.DOWNGRADE:
        # what the downgraded towns go to (another warning in force may keep it above ours)
        level = max(
            (t.level for t in towns if t.action == action and t.level is not None),
            key=lambda lv: lv.rank,
            default=level,
        )
    detail = towns[0].reason if len(towns) == 1 else summary(towns)
    reason = f"{label}: {detail}"
    if coverage.notes:
        reason += " [" + "; ".join(coverage.notes) + "]"
    return Assessment(
        Decision(
            action=action,
            reason=drill_prefix(warning) + reason,
            level=level,
            town_codes=coverage.town_codes,
            village_codes=coverage.village_codes,
            drill=is_drill(warning),
        ),
        towns=towns,
        coverage=coverage,
    )


def decide(*, session: Session, warning: FeedWarning, plan: Plan, now: datetime) -> Decision:
    """The decision on one warning (see the module docstring); reads the database only."""
    return assess(session=session, warning=warning, plan=plan, now=now).decision
