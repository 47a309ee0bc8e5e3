"""Runs whose machine died, marked crashed when their heartbeats stop (失联运行).

While a flow run runs, Prefect sends a heartbeat event for it every
``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` seconds (180 by default, 30 at least), paused
ones too. When a worker's machine dies, its runs' processes die with it and nobody
tells the server: the towns on it would show "Running" for ever, and a county run
waiting for that batch would wait for ever. This automation on the server marks a
run that sent a heartbeat and then neither another one nor a final state within
``within`` as Crashed: the county run then names that batch's towns failed, and
running the county again runs them again (not the towns of batches that completed).

    python -m flows.lost_runs [--within SECONDS]

Once per Prefect server (again changes only the window). ``within`` must be longer
than the workers' heartbeat interval, or live runs are crashed between two beats:
it defaults to three of Prefect's default heartbeats (9 minutes), which also rides
out a server restart or a network outage of several minutes.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.settings import get_current_settings

from flows.artifacts import RESPONSE_ENDED, ROUND_DONE

NAME = "sanqing-lost-runs"
HEARTBEAT = "prefect.flow-run.heartbeat"
SUSPENDED = "prefect.flow-run.Suspended"
#: A run that reached one of these is not lost, however long it stays silent (the event
#: of a state is named after the state: a town run ends in one of sanqing's own names).
FINAL_EVENTS = frozenset(
    f"prefect.flow-run.{state}"
    for state in ("Completed", "Failed", "Cancelled", "Crashed", ROUND_DONE, RESPONSE_ENDED)
)
#: Heartbeats missed before a run counts as lost (one late event is not a dead machine).
MISSED = 3
#: Prefect's default heartbeat interval: a worker started without the setting beats so.
PREFECT_DEFAULT_HEARTBEAT_S = 180


def heartbeat_s() -> int:
    """This process's heartbeat interval; set the workers' the same (or shorter)."""
    return get_current_settings().flows.heartbeat_frequency or PREFECT_DEFAULT_HEARTBEAT_S


def default_within_s() -> int:
    """Three heartbeats, and never fewer than three of Prefect's default (9 minutes)."""
    return MISSED * max(heartbeat_s(), PREFECT_DEFAULT_HEARTBEAT_S)


def lost_run_automation(within_s: int) -> AutomationCore:
    """Every flow run on its own: a heartbeat, then nothing for ``within_s`` → Crashed."""
    return AutomationCore(
        name=NAME,
        description="失联运行：心跳停止（所在机器宕机或断网）的运行标记为崩溃，全县响应据此列出失败乡镇",
        trigger=EventTrigger(
            after={HEARTBEAT},
            # a suspended run has no process to beat for it until it is resumed
            expect={HEARTBEAT, SUSPENDED, *FINAL_EVENTS},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=within_s),
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=f"{within_s} 秒未收到心跳：所在机器可能已宕机或断网，请重新运行 / "
                f"no heartbeat for {within_s} s: its machine may be down",
            )
        ],
    )


def ensure_lost_run_detection(within_s: int | None = None) -> UUID:
    """Create the automation on the server of ``PREFECT_API_URL``, or set its window."""
    if within_s is not None and within_s < max(10, 2 * heartbeat_s()):
        raise ValueError(
            f"within {within_s} s is shorter than two heartbeats ({heartbeat_s()} s each, "
            "PREFECT_FLOWS_HEARTBEAT_FREQUENCY) or Prefect's least (10 s): live runs "
            "would be crashed between two heartbeats"
        )
    return put_automation(lost_run_automation(within_s or default_within_s()))


def put_automation(automation: AutomationCore) -> UUID:
    """The automation of that name on the server, created or replaced: one, however often."""
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(automation.name)
        if not existing:
            return client.create_automation(automation)
        first, *extra = existing
        client.update_automation(first.id, automation)
        for duplicate in extra:  # two setups at once: keep one
            client.delete_automation(duplicate.id)
        return first.id


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--within", type=int, default=None, help="seconds without a heartbeat")
    args = p.parse_args(argv)
    try:
        automation_id = ensure_lost_run_detection(args.within)
    except ValueError as exc:  # a window that would crash live runs: say so, no traceback
        p.error(str(exc))
    print(f"{NAME}: {automation_id} (within {args.within or default_within_s()} s)")


if __name__ == "__main__":
    main()
