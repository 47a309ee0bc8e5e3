"""Whether a warning a response is started for is still in force, read at the last moment.

The watch checks a decision before carrying it out, but the response itself starts
later (a deployment run on a worker, a flow under load): a cancel, all-clear or
update recorded in between must still stop it. ``warning_gone`` is read under the
town lock in the activation step, in the same transaction that would open the
response, so a cancel recorded before it always wins.
"""

from __future__ import annotations

from sqlmodel import Session

from sanqing.feeds.chains import record_id, superseded_by, withdrawn_why
from sanqing.models import FeedRecord


def warning_gone(session: Session, *, sender: str, identifier: str) -> str | None:
    """Why the recorded warning may not start or raise a response any more, or None.

    None too for a warning no feed gave (a manual or scenario warning): nothing can
    cancel it but the commander. Expiry is not judged here: the watch does that with
    its own clock before it hands the decision on.
    """
    rec = session.get(FeedRecord, record_id(sender, identifier), populate_existing=True)
    if rec is None:
        return None
    if (why := withdrawn_why(rec)) is not None:
        return why
    later = superseded_by(session, sender=rec.sender, identifier=rec.identifier)
    if later is not None:
        return f"{later.msg_type} {later.identifier} was recorded for it"
    if rec.ended:
        return f"warning {rec.identifier} has ended (cancelled, all-clear or expired)"
    return None
