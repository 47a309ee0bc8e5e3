"""The one way a task is declared: its options typed, in one place.

Idempotence lives in the database (row ids derived from the activation and the
subject), so tasks are never cached: a rerun re-checks the database and changes
nothing already there. A task that touches the database is retried on contention
or an outage (SQLite may be briefly locked by a neighbouring village's write),
never on bad input, which fails the same way every time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import Task

from sanqing.errors import SanqingError

P = ParamSpec("P")
R = TypeVar("R")

DB_RETRIES = 2
DB_RETRY_DELAYS: list[float] = [1, 5]


def not_bad_input(task: Any, task_run: Any, state: Any) -> bool:
    """Retry contention and outages, never bad input: it fails the same way every time."""
    return not isinstance(state.data, SanqingError)


def db_task(
    name: str,
    *,
    retries: int = DB_RETRIES,
    retry_delay_seconds: list[float] | None = None,
    retry_condition_fn: Callable[[Any, Any, Any], bool] | None = not_bad_input,
    task_run_name: Any = None,  # a template, or a callable naming the run
) -> Callable[[Callable[P, R]], Task[P, R]]:
    """A task of the domain: not cached, retried ``retries`` times unless the input was bad."""
    return task(
        name=name,
        task_run_name=task_run_name,
        cache_policy=NO_CACHE,
        retries=retries,
        retry_delay_seconds=retry_delay_seconds or DB_RETRY_DELAYS,
        retry_condition_fn=retry_condition_fn,
    )
