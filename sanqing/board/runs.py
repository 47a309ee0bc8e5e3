"""The Prefect runs waiting for an answer (approval, roll call, patrol), for the board.

Read from the Prefect server's REST API with httpx (the domain never imports
Prefect): flow runs whose state is PAUSED, each with a link to its page in the UI,
where the duty officer answers.
"""

from __future__ import annotations

from typing import Any

import httpx

#: What a paused run waits for, by the start of its pause key (flows/people.py, patrol).
WAITING_FOR = {"approval": "指挥长审批", "roll-call": "转移点名核实", "patrol": "雨后巡查确认"}

#: The board waits this long for the Prefect API; a slow server must not stall the page.
API_TIMEOUT_S = 3.0


def waiting_runs(api_url: str, ui_url: str, auth: str | None = None) -> list[dict[str, Any]]:
    """Paused flow runs, oldest first: name, town, since, what they wait for, UI link.

    Raises ``httpx.HTTPError`` when the server cannot be read (the board says so).
    """
    user, _, password = (auth or "").partition(":")
    body = {
        "flow_runs": {"state": {"type": {"any_": ["PAUSED"]}}},
        "sort": "START_TIME_ASC",
        "limit": 50,
    }
    r = httpx.post(
        f"{api_url.rstrip('/')}/flow_runs/filter",
        json=body,
        auth=(user, password) if auth else None,
        timeout=API_TIMEOUT_S,
    )
    r.raise_for_status()
    from sanqing.registry import town_names

    names = town_names()
    out = []
    for run in r.json():
        state = run.get("state") or {}
        params = run.get("parameters") or {}
        out.append(
            {
                "id": run["id"],
                "name": run.get("name", run["id"]),
                "town": names.get(str(params.get("town", "")), str(params.get("town", ""))),
                "since": state.get("timestamp"),
                "waiting_for": _waiting_for((state.get("state_details") or {}).get("pause_key")),
                "url": f"{ui_url.rstrip('/')}/v2/runs/flow-run/{run['id']}",
            }
        )
    return out


def _waiting_for(key: str | None) -> str:
    for prefix, words in WAITING_FOR.items():
        if key and key.startswith(prefix):
            return words
    return "答复"
