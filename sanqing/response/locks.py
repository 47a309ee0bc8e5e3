"""One response per town: the town and village locks, and reading an activation that is still open."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select as select_rows
from sqlalchemy import update
from sqlmodel import Session, col, select

from sanqing.errors import (
    UnknownActivation,
    UnknownVillage,
)
from sanqing.models import (
    Activation,
    ActivationStatus,
    Town,
    Village,
)


def lock_town(session: Session, town_code: str) -> None:
    """Hold the town until this transaction ends: one response, one allocator at a time.

    Opening, continuing and standing down a town's response, and every allocation of
    its shelter places, machinery and reports, happen under this lock. Two runs for
    one town (two warnings, a coordinator starting the plan twice, a stand-down
    arriving mid-run) then never open two responses, give the last shelter places or
    the same excavator twice, or write for a response that has just ended. A row
    lock on PostgreSQL and the write lock on SQLite (``_lock_row``), so the reads
    that follow see everything committed before, and the next holder waits for this
    transaction to commit. Call it before reading what it guards.
    """
    _lock_row(session, Town, col(Town.code) == town_code, key=Town.key)


def hold_open(session: Session, activation_id: str) -> Activation | None:
    """The activation, held against a stand-down until this transaction ends; None if it ended.

    For the per-village steps, which may run side by side: PostgreSQL takes a share
    lock on the activation row (a stand-down, which updates the row, waits for the
    steps holding it, and the steps that come after it see it ended); SQLite takes
    its database write lock. Call it before reading what the step decides on.
    """
    if session.get_bind().dialect.name == "postgresql":
        # the row read as it is locked: one statement
        act = session.exec(
            select(Activation)
            .where(col(Activation.id) == activation_id)
            .with_for_update(read=True)
            .execution_options(populate_existing=True)
        ).first()
    else:
        # A non-key column: rewriting the key would make SQLite check every child row.
        session.execute(
            update(Activation)
            .where(col(Activation.id) == activation_id)
            .values(updated_at=Activation.updated_at)
        )
        act = session.get(Activation, activation_id, populate_existing=True)
    if act is None:
        raise UnknownActivation(activation_id)
    return act if act.status == ActivationStatus.ACTIVE else None


def hold_town_open(session: Session, activation_id: str) -> Activation | None:
    """The activation under its town's lock (see ``lock_town``); None if it has ended."""
    act = get_activation(session, activation_id)
    lock_town(session, act.town_code)
    session.refresh(act)
    return act if act.status == ActivationStatus.ACTIVE else None


def lock_village(session: Session, village_code: str) -> None:
    """Hold the village until this transaction ends: two runs never write its lists at once."""
    _lock_row(session, Village, col(Village.code) == village_code, name=Village.name)


def _lock_row(session: Session, model: type[Any], where: Any, **same: Any) -> None:
    """A row lock until the transaction ends, as an UPDATE of a non-key column takes.

    PostgreSQL: ``SELECT … FOR NO KEY UPDATE``, the lock such an UPDATE takes, without
    writing a row version per lock (thousands a county run, never vacuumed where
    autovacuum is off, and every foreign-key check scans them). SQLite: the no-op
    UPDATE (``same``: a column set to itself), which takes its database write lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = list(model.__table__.primary_key.columns)
        session.execute(select_rows(*key).where(where).with_for_update(key_share=True))
    else:
        session.execute(update(model).where(where).values(**same))


def get_activation(session: Session, activation_id: str) -> Activation:
    act = session.get(Activation, activation_id)
    if act is None:
        raise UnknownActivation(activation_id)
    return act


def villages_of(session: Session, *, town_code: str, only: Sequence[str] = ()) -> list[Village]:
    """The town's villages (all, or those named by code), sorted by code."""
    rows = list(
        session.exec(select(Village).where(Village.town_code == town_code).order_by(Village.code))
    )
    if not only:
        return rows
    by_code = {v.code: v for v in rows}
    missing = [c for c in only if c not in by_code]
    if missing:
        raise UnknownVillage(", ".join(missing), where=f"town {town_code}")
    return [by_code[c] for c in sorted(set(only))]


#: Villages a town's step fans out to at most: a big town's villages go in groups so a
#: county run does not pay Prefect's cost of a task run per village and step.
MAX_VILLAGE_TASKS = 6
#: In a county run a town's step is one task: the towns are the county's parallelism, and
#: ~14 task runs a town instead of ~34 spare the Prefect server ~400 for 20 towns.
COUNTY_VILLAGE_TASKS = 1


def village_groups(villages: Sequence[str], max_tasks: int = MAX_VILLAGE_TASKS) -> list[list[str]]:
    """Villages in contiguous groups, at most ``max_tasks`` of them (one village each if few)."""
    if not villages:
        return []
    size = -(-len(villages) // max(1, max_tasks))
    return [list(villages[i : i + size]) for i in range(0, len(villages), size)]
