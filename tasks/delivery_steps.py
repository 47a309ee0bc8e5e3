"""The delivery schedule's steps as tasks: send the outbox, the call lists, 叫应."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from sanqing.db import session_scope
from sanqing.delivery import deliver_until_settled
from sanqing.delivery.acknowledge import chase
from sanqing.delivery.fallback import fallback_unreached
from sanqing.models import Activation, ActivationStatus
from sanqing.plans import load_plan
from tasks import run_log
from tasks.options import db_task


@db_task("deliver", retries=0)
def deliver(activation_id: str | None, settle_s: float) -> dict[str, Any]:
    """One delivery pass (and retries due within ``settle_s``); counts per channel."""
    stats = deliver_until_settled(activation_id=activation_id, settle_s=settle_s)
    run_log.delivered(stats.as_dict())
    return {"pass": stats.as_dict(), "expired": stats.expired, "down": sorted(stats.channels_down)}


@db_task("fallback-unreached", retry_condition_fn=None)
def fallback(locale: str) -> int:
    """Residents the SMS did not reach go on their cadre's call list."""
    added = 0
    for act_id in running():  # a transaction each: one holds its activation against a stand-down
        with session_scope() as session:
            added += fallback_unreached(session, activation_id=act_id, locale=locale)
    if added:
        run_log.say("短信未送达：%d条转入干部电话通知清单", added)
    return added


@db_task("chase-acknowledgements", retry_condition_fn=None)
def chase_acknowledgements(plan: str) -> dict[str, int]:
    """Cadre tasks not answered in time: resent, then handed up the chain (叫应)."""
    resent = forwarded = 0
    for act_id in running():
        with session_scope() as session:
            r = chase(session, activation_id=act_id, plan=load_plan(plan))
        resent, forwarded = resent + r.resent, forwarded + r.forwarded
    return {"resent": resent, "forwarded": forwarded}


def running() -> list[str]:
    """The open activations (each step re-checks under its lock: one may end meanwhile)."""
    with session_scope() as session:
        return list(
            session.exec(select(Activation.id).where(Activation.status == ActivationStatus.ACTIVE))
        )
