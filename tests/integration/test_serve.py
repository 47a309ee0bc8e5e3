"""The control room for real: `sanqing serve --host 0.0.0.0` with its own Prefect server.

Runs `sanqing serve` in a child process, open to the network as a duty officer would
for colleagues' browsers, and so with a password (``PREFECT_SERVER_API_AUTH_STRING``):
the API refuses a client without it, and every run serve starts must carry it. Then
it works the control room through the API as a duty officer would in the UI: a drill
that never waits; a level-II response that pauses for the commander's approval and the
villages' roll calls; a raise to level I that the commander rejects; the after-rain
patrol that ends it. Stopping serve stops its server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from sanqing.db import session_scope
from sanqing.forms import code_in
from sanqing.models import (
    Activation,
    Approval,
    Escalation,
    Household,
    Machine,
    Notice,
    NoticeStatus,
    Relocation,
    Report,
)
from sanqing.plans import load_plan
from sanqing.reporting import summarize
from sanqing.settings import get_settings
from tests.integration.conftest import ControlRoom, serving_control_room, wait_for_deployments

pytestmark = pytest.mark.integration

DEPLOYMENTS = (
    "flood-response/flood-response",
    "drill/drill",
    "rain-watch/rain-watch",
    "after-rain-patrol/after-rain-patrol",
    "report-upward/report-upward",
)


#: The control room's password (HTTP basic auth, "user:password").
AUTH = "duty:flood-2026"


@pytest.fixture
def room(db_url: str, tmp_path: Path) -> Iterator[ControlRoom]:
    env = {"PREFECT_SERVER_API_AUTH_STRING": AUTH, "PREFECT_UI_ENABLED": "false"}
    with serving_control_room(tmp_path, host="0.0.0.0", env=env) as room:
        yield room


@pytest.fixture
def control_room(room: ControlRoom) -> str:
    return room.api_url


def wait_for(run_id: Any, done: Any, what: str, log: Path, timeout: float = 180) -> Any:
    """Poll the run until ``done(run)``; fail with the serve log when it does not come."""
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(run_id)
            if done(run):
                return run
            if run.state is not None and run.state.is_final():
                pytest.fail(f"run ended before {what}: {run.state!r}\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} in {timeout} s: {run.state!r}\n{log.read_text()[-3000:]}")
            time.sleep(0.5)


def paused_for(key: str, suffix: str = "") -> Any:
    """A run paused with a form (the input keyset is set), its pause key starting with ``key``."""

    def check(run: Any) -> bool:
        st = run.state
        return bool(
            st is not None
            and st.is_paused()
            and st.state_details.run_input_keyset
            and (st.state_details.pause_key or "").startswith(key)
            and (st.state_details.pause_key or "").endswith(suffix)
        )

    return check


def completed(run: Any) -> bool:
    return bool(run.state is not None and run.state.is_completed())


def run_log_after(run_id: Any, start: str, last: str, timeout: float = 30) -> list[str]:
    """The run's log lines from the one beginning with ``start``, once one begins with ``last``
    (a served run sends its log in batches, the last ones as its process ends)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            rows = client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])),
                sort=LogSort.TIMESTAMP_ASC,
            )
            messages = [r.message for r in rows]
            begun = [i for i, m in enumerate(messages) if m.startswith(start)]
            after = messages[begun[0] :] if begun else []
            if any(m.startswith(last) for m in after) or time.monotonic() > deadline:
                return after
            time.sleep(1)


def input_schema(run_id: Any) -> dict[str, Any]:
    """The JSON schema of the form a paused run waits with (what the UI renders)."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        st = client.read_flow_run(run_id).state
        assert st is not None and st.state_details.run_input_keyset
        key = st.state_details.run_input_keyset["schema"]
        return json.loads(client.read_flow_run_input(flow_run_id=run_id, key=key))


def resume(run_id: Any, answer: dict[str, Any]) -> Any:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.resume_flow_run(run_id, run_input=answer)


def test_the_control_room_asks_people_and_never_makes_a_drill_wait(
    control_room: str, room: ControlRoom, tmp_path: Path
) -> None:
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.client.schemas.responses import SetStateStatus
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    # Open to the network, so with a password: the health probe alone answers without it.
    assert httpx.get(f"{control_room}/health").status_code == 200
    assert httpx.get(f"{control_room}/admin/version").status_code == 401
    assert httpx.get(f"{control_room}/admin/version", auth=("duty", "wrong")).status_code == 401
    user, password = AUTH.split(":")
    assert httpx.get(f"{control_room}/admin/version", auth=(user, password)).status_code == 200

    log = tmp_path / "serve.log"
    with temporary_settings(updates={PREFECT_API_URL: control_room, PREFECT_API_AUTH_STRING: AUTH}):
        wait_for_deployments(control_room, DEPLOYMENTS, log)
        board_port = room.board_url.rstrip("/").rsplit(":", 1)[1]
        assert f"态势看板 / situation board: http://0.0.0.0:{board_port}/" in log.read_text()
        with get_client(sync_client=True) as client:
            watch = client.read_deployment_by_name("rain-watch/rain-watch")
            assert watch.schedules and watch.schedules[0].schedule.interval.total_seconds() == 300
            reports = client.read_deployment_by_name("report-upward/report-upward")
            assert reports.schedules[0].schedule.interval.total_seconds() == 30 * 60
            # every machine is a single-slot global concurrency limit
            with session_scope() as s:
                machines = sorted(s.exec(select(Machine.code)))
            assert len(machines) == 4
            for code in machines:
                assert client.read_global_concurrency_limit_by_name(f"machine-{code}").limit == 1

        # A drill never waits: the scenario answers for the commander, villages and patrol.
        drill = run_deployment(
            "drill/drill", parameters={"scenario": "orange-rainstorm"}, timeout=240, poll_interval=1
        )
        assert drill.state is not None and drill.state.is_completed(), drill.state

        # A manual start at level II waits for the commander's approval.
        started = run_deployment(
            "flood-response/flood-response",
            parameters={"town": "鸡峰镇", "level": "II"},
            timeout=0,
        )
        run = wait_for(
            started.id,
            paused_for("approval-flood-621221106-manual-", "-ii-1"),
            "approval form",
            log,
        )
        assert run.name.startswith("flood-鸡峰镇-II级-")
        with (
            session_scope() as s
        ):  # only danger waits for nobody: planned moves wait for the answer
            act = real_activation(s)
            before = list(s.exec(select(Relocation).where(Relocation.activation_id == act.id)))
            assert all(r.urgent and r.zone == "danger" for r in before)  # 三个紧急撤离: night
            local_tz = ZoneInfo(get_settings().timezone)
            nights = {
                load_plan("flood").defaults.is_night(t.astimezone(local_tz).time())
                for t in (act.activated_at, datetime.now(UTC))
            }
            if nights == {False}:  # by day, with nothing found yet, nobody moves before the answer
                assert before == []
            elif nights == {True}:  # at night the danger zones move at once
                assert before
        # The situation board, open to the network too: the same password; it shows the
        # response waiting for the commander and links to the paused run.
        assert httpx.get(room.board_url).status_code == 401
        assert httpx.get(room.board_url, auth=("duty", "wrong")).status_code == 401
        page = httpx.get(room.board_url, auth=(user, password))
        assert page.status_code == 200 and "待指挥长审批" in page.text
        assert f"/runs/flow-run/{run.id}" in page.text and "指挥长审批" in page.text
        data = httpx.get(f"{room.board_url}board.json", auth=(user, password)).json()
        assert [r["state"] for r in data["responses"]] == ["awaiting_approval"]
        assert [w["id"] for w in data["waiting"]] == [str(run.id)]
        # an answer without the approver's name is refused; the run stays paused
        bad = resume(run.id, {"approve": True})
        assert bad.status != SetStateStatus.ACCEPT
        assert resume(run.id, {"approve": True, "name": "王镇长", "remarks": "同意"}).status == (
            SetStateStatus.ACCEPT
        )

        # Orders go out, the first report goes up, then the villages report back.
        wait_for(run.id, paused_for("roll-call-1"), "roll-call form", log)
        with session_scope() as s:
            act = real_activation(s)
            rels = {
                v: sorted(
                    r.household_code
                    for r in s.exec(
                        select(Relocation).where(
                            Relocation.activation_id == act.id, Relocation.village_code == v
                        )
                    )
                )
                for v in act.village_codes
            }
            refused = rels[SHIMEN][0]
            refused_head = s.get(Household, refused).head_name  # type: ignore[union-attr]
            assert [
                r.kind for r in s.exec(select(Report).where(Report.activation_id == act.id))
            ] == ["initial"]
        # the form offers villages (tabs holding their codes) and households from the
        # registry (a select of 「石门村 户主（户号）」: the label is sent, the code read back)
        form = input_schema(run.id)["definitions"]
        offered = form["HouseholdRollCall"]["properties"]["household"]["enum"]
        assert f"石门村 {refused_head}（{refused}）" in offered
        label = {code_in(text): text for text in offered}
        first = [
            {
                "village": v,
                "others": "in_shelter",
                "households": (
                    [{"household": label[refused], "status": "refused", "note": "老人不愿离开"}]
                    if v == SHIMEN
                    else []
                ),
                "reporter": "村值守",
            }
            for v in act.village_codes
            if v != HEBA
        ]
        # a village not on the form's list is refused by the server, in the form: the run
        # stays paused for the same roll call
        wrong = [{"village": "石门村", "others": "moved"}]  # the name, not a listed choice
        assert resume(run.id, {"villages": wrong}).status == SetStateStatus.REJECT
        assert resume(run.id, {"villages": first}).status == SetStateStatus.ACCEPT
        # 河坝村 has not reported: the run asks again for what is left
        wait_for(run.id, paused_for("roll-call-2"), "second roll-call form", log)
        unreachable = rels[HEBA][0]
        last = [
            {
                "village": HEBA,
                "households": [{"household": label[unreachable], "status": "unreachable"}],
                "others": "moved",
            }
        ]
        assert resume(run.id, {"villages": last}).status == SetStateStatus.ACCEPT
        wait_for(run.id, completed, "completion", log)
        # the run log goes on after the wait: the approval and every step after it (INFO)
        after = run_log_after(run.id, "waiting for the commander's approval", "向县里报送")
        assert "指挥长已批准转移" in after and any(m.startswith("下达转移指令") for m in after)

        with session_scope() as s:
            act = real_activation(s)
            approval = s.exec(select(Approval).where(Approval.activation_id == act.id)).one()
            assert (approval.decision, approval.approver, approval.simulated) == (
                "approved",
                "王镇长",
                False,
            )
            statuses = {
                r.household_code: r.status
                for r in s.exec(select(Relocation).where(Relocation.activation_id == act.id))
            }
            assert statuses[refused] == "refused" and statuses[unreachable] == "unreachable"
            assert "ordered" not in statuses.values()
            assert set(statuses.values()) == {"refused", "unreachable", "in_shelter", "moved"}
            # 应撤必撤: the refusing and the unreachable household went to their first secretary
            escalations = s.exec(select(Escalation).where(Escalation.activation_id == act.id)).all()
            assert sorted(e.household_code for e in escalations) == sorted([refused, unreachable])
            assert all(e.kind == "roll_call" and e.to_cadre_code for e in escalations)
            kinds = [r.kind for r in s.exec(select(Report).where(Report.activation_id == act.id))]
            assert kinds == ["initial", "follow_up"]
            figures = summarize(session=s, activation_id=act.id)
            assert (figures["households_refused"], figures["households_unreachable"]) == (1, 1)
        with get_client(sync_client=True) as client:
            artifacts = client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
            )
        by_type = {a.type: a for a in artifacts}
        assert float(by_type["progress"].data) == 100.0
        by_key = {a.key: a for a in artifacts if a.key}
        report_md = next(str(a.data) for k, a in by_key.items() if k.startswith("report-"))
        assert "续报一" in report_md
        # links to the rendered notices and cards: files on this machine, not in Prefect,
        # opened through the board (with its password off loopback)
        links = next(str(a.data) for k, a in by_key.items() if k.startswith("notices-"))
        assert "避险明白卡" in links and f"({room.board_url}print/{act.id}/notices/card/)" in links
        cards_url = f"{room.board_url}print/{act.id}/notices/card/"
        assert httpx.get(cards_url).status_code == 401
        listing = httpx.get(cards_url, auth=(user, password))
        assert listing.status_code == 200  # the cards' folder: a folder per village
        assert f'href="/print/{act.id}/notices/card/' in listing.text
        folder = get_settings().data_dir / "print" / act.id
        cards = list((folder / "notices" / "card").rglob("*.html"))
        with session_scope() as s:  # cards are printed for moving households that had none
            missing = {
                code
                for code in statuses
                if not s.get(Household, code).card_issued  # type: ignore[union-attr]
            }
        assert missing and len(cards) == len(missing)
        assert (folder / "reports" / "follow_up-1.txt").is_file()
        heads = set(statuses)  # household codes never appear in the artifacts
        assert not any(code in str(a.data) for a in artifacts for code in heads)
        table = by_type["table"].data
        rows = json.loads(table) if isinstance(table, str) else table
        assert (sum(r["拒绝"] for r in rows), sum(r["联系不上"] for r in rows)) == (1, 1)

        # Raising it to level I asks again; the commander says no: nobody more is told to move.
        started = run_deployment(
            "flood-response/flood-response",
            parameters={"town": "鸡峰镇", "level": "I"},
            timeout=0,
        )
        wait_for(
            started.id,
            paused_for("approval-flood-621221106-manual-", "-i-2"),
            "level-I approval",
            log,
        )
        resume(
            started.id, {"approve": False, "name": "王镇长", "remarks": "雨势减弱，暂不扩大转移"}
        )
        wait_for(started.id, completed, "completion after the rejection", log)
        with session_scope() as s:
            act = real_activation(s)
            assert act.level == "I" and act.status == "active"
            assert s.exec(
                select(func.count())
                .select_from(Relocation)
                .where(Relocation.activation_id == act.id)
            ).one() == len(statuses)
            decisions = [
                a.decision
                for a in s.exec(
                    select(Approval)
                    .where(Approval.activation_id == act.id)
                    .order_by(Approval.requested_at)
                )
            ]
            assert decisions == ["approved", "rejected"]
            latest = s.exec(
                select(Report).where(Report.activation_id == act.id).order_by(Report.seq.desc())
            ).first()
            assert latest is not None and "未批准" in latest.text

        # The rain has passed: the after-rain patrol's all-clear ends the response (终报).
        started = run_deployment(
            "after-rain-patrol/after-rain-patrol", parameters={"town": "鸡峰镇"}, timeout=0
        )
        wait_for(started.id, paused_for("patrol-1"), "patrol form", log)
        resume(started.id, {"all_clear": True, "name": "巡查组长", "remarks": "各点无新险情"})
        wait_for(started.id, completed, "stand-down", log)
        with session_scope() as s:
            act = real_activation(s)
            assert act.status == "stood_down"
            kinds = [r.kind for r in s.exec(select(Report).where(Report.activation_id == act.id))]
            assert kinds[-1] == "final"
            drill_act = s.exec(select(Activation).where(Activation.drill)).one()
            assert (drill_act.level, drill_act.scenario, drill_act.status) == (
                "II",
                "orange-rainstorm",
                "stood_down",
            )

        # One deliverer, on since serve started, sent everything: not a run a minute.
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

        with get_client(sync_client=True) as client:
            dep = client.read_deployment_by_name("deliver-outbox/deliver-outbox")
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id]))
            )
        started_runs = [r for r in runs if r.state is not None and not r.state.is_scheduled()]
        assert [r.state.type.value for r in started_runs if r.state] == ["RUNNING"], runs
        cutoff = datetime.now(UTC) - timedelta(seconds=90)
        with session_scope() as s:
            waiting = s.exec(
                select(func.count())
                .select_from(Notice)
                .where(Notice.status == NoticeStatus.PENDING, col(Notice.created_at) < cutoff)
            ).one()
        assert waiting == 0


SHIMEN = "621221106202"  # 石门村
HEBA = "621221106204"  # 河坝村


def drill_rels(s: Any) -> list[Any]:
    drill_act = s.exec(select(Activation).where(Activation.drill)).one()
    return list(s.exec(select(Relocation).where(Relocation.activation_id == drill_act.id)))


def real_activation(s: Any) -> Activation:
    return s.exec(select(Activation).where(Activation.drill == False)).one()  # noqa: E712
