"""Scarce resources as Prefect global concurrency limits: one slot per piece of machinery.

``sanqing serve`` creates a limit ``machine-<code>`` (one slot) for every machine in
the registry. A road-clearing step holds the slots of its town's machines while it
decides who goes where, so two flows (two towns, two workers) never dispatch the
same excavator at once; the control room's Concurrency page shows who holds one.
On the embedded default there are no limits and the database lock alone serializes
the dispatch (it does on both backends).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlmodel import select

from sanqing.db import session_scope
from sanqing.models import Machine
from sanqing.response import get_activation


def machine_limit(code: str) -> str:
    return f"machine-{code}"


def create_machine_limits() -> list[str]:
    """Create (or keep) one single-slot limit per machine of every registered town."""
    from prefect.client.orchestration import get_client

    with session_scope() as session:
        codes = sorted(session.exec(select(Machine.code)))
    names = [machine_limit(c) for c in codes]
    with get_client(sync_client=True) as client:
        for name in names:
            client.upsert_global_concurrency_limit_by_name(name, 1)
    return names


def _existing(names: list[str]) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    have = []
    with get_client(sync_client=True) as client:
        for name in names:
            try:
                client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                continue
            have.append(name)
    return have


@contextmanager
def hold_machines(activation_id: str, timeout_s: float = 300) -> Iterator[list[str]]:
    """Hold the slots of the activation's town's machines that have a limit (none: no wait)."""
    from prefect.concurrency.sync import concurrency

    with session_scope() as session:
        town_code = get_activation(session, activation_id).town_code
        codes = sorted(session.exec(select(Machine.code).where(Machine.town_code == town_code)))
    names = _existing([machine_limit(c) for c in codes])
    if not names:
        yield []
        return
    with concurrency(names, occupy=1, strict=True, timeout_seconds=timeout_s):
        yield names
