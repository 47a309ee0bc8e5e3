"""`sanqing review` after `sanqing drill`: the review's figures are the database's.

The figures are counted here again from the rows, the percentiles by a nearest rank
of their own, and the drill's run holds the review as its artifact.
"""

from __future__ import annotations

import json
import math
import re
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from cli import app
from flows.artifacts import artifact_key, review_key
from sanqing.db import session_scope
from sanqing.models import Activation, Escalation, Notice, Relocation, Report
from sanqing.privacy import contains_personal_data

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_harness")]

CONFIRMED = {"moved", "in_shelter", "with_relatives", "removed", "returned"}


def sent_waits(act: Activation) -> dict[str, float | None]:
    """Seconds from each household's order to its first resident notice sent (drill clock)."""
    with session_scope() as s:
        rels = list(s.exec(select(Relocation).where(Relocation.activation_id == act.id)))
        notices = list(
            s.exec(
                select(Notice).where(
                    Notice.activation_id == act.id,
                    Notice.audience == "resident",
                    Notice.channel != "card",
                )
            )
        )
    shift = timedelta(seconds=act.clock_offset_s)
    waits: dict[str, float | None] = {}
    for r in rels:
        sent = [n.sent_at for n in notices if n.recipient == r.household_code and n.sent_at]
        waits[r.household_code] = (
            (min(sent) + shift - r.ordered_at).total_seconds() if sent else None
        )
    return waits


def test_review_of_a_drill_agrees_with_the_database(db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = CliRunner().invoke(app, ["drill", "--out", str(out)])
    assert done.exit_code == 0, done.output
    act_id = json.loads((out / "summary.json").read_text(encoding="utf-8"))["activation_id"]
    page = tmp_path / "review.html"
    done = CliRunner().invoke(app, ["review", act_id, "--html", str(page)])
    assert done.exit_code == 0, done.output
    md = done.stdout
    with session_scope() as s:
        act = s.get(Activation, act_id)
        assert act is not None
        rels = list(s.exec(select(Relocation).where(Relocation.activation_id == act_id)))
        reports = list(s.exec(select(Report).where(Report.activation_id == act_id)))
        steps = list(s.exec(select(Escalation).where(Escalation.activation_id == act_id)))
    confirmed = sum(r.status in CONFIRMED for r in rels)
    people = sum(r.people for r in rels)
    assert f"应转移{len(rels)}户{people}人，已核实{confirmed}户" in md
    assert f"升级处置{len(steps)}户次" in md and len(steps) == 4  # the scenario's chain
    assert f"| 合计 | {len(rels)} | {people} |" in md
    # every report is a deadline row, with the phone report and the approval
    rows = section(md, "## 二")
    assert len(rows) == len(reports) + 2 and len(reports) == 3
    late = sum(r.late or r.created_at > r.deadline_at for r in reports)
    assert sum(("超时" in row or "逾期" in row) for row in rows) >= late
    assert len(section(md, "## 五")) == len(steps)
    # reached: the drill's notices were sent to files after it ended
    waits = sent_waits(act)
    reached = sorted(w for w in waits.values() if w is not None)
    never = [code for code, w in waits.items() if w is None]
    assert f"| 通知发出 | {len(rels)} | {len(reached)} |" in md and reached
    median = reached[math.ceil(len(reached) / 2) - 1]
    (sent_row,) = [row for row in section(md, "## 三") if row.startswith("| 通知发出")]
    assert sent_row.split(" | ")[3] == duration(median)
    assert sent_row.endswith(f"| {len(never)} |")
    assert all(code in md for code in never)
    assert not contains_personal_data(md)
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and f"{len(rels)}户{people}人" in html
    # the drill's run published the review as it ended (before its notices went out)
    artifact = read_artifact(review_key(act_id))
    assert re.fullmatch(r"[a-z0-9-]+", review_key(act_id))
    assert f"| 合计 | {len(rels)} | {people} |" in artifact
    assert f"| 通知发出 | {len(rels)} | 0 |" in artifact and not contains_personal_data(artifact)


def test_the_after_rain_patrol_that_ends_a_response_shows_its_review(db_url: str) -> None:
    from flows.after_rain_patrol import after_rain_patrol
    from flows.flood_response import flood_response
    from sanqing.scenarios import load_scenario

    sc = load_scenario()
    figures = flood_response(
        town=sc.town, warning=sc.warning, drill=True, findings=sc.findings, roads=sc.roads
    )
    state = after_rain_patrol(town=sc.town, drill=True, return_state=True)
    assert state.result()["stood_down"]
    md = read_artifact(review_key(figures["activation_id"]), state.state_details.flow_run_id)
    assert "应急响应复盘报告" in md and "响应仍在进行" not in md  # it shows the end
    assert "| 终报 |" in md and not contains_personal_data(md)
    # the 终报 itself is shown by the run that ended the response
    final = read_artifact(f"report-{artifact_key(figures)}", state.state_details.flow_run_id)
    assert "（终报）" in final and "结束" in final and not contains_personal_data(final)


def section(md: str, heading: str) -> list[str]:
    """The table rows (no header) of the section that starts with ``heading``."""
    part = md.split(heading, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in part.splitlines() if line.startswith("| ")]
    return rows[1:]


def duration(seconds: float) -> str:
    """As the zh-CN review writes a duration."""
    n = round(abs(seconds))
    if n < 60:
        return f"{n}秒"
    if n < 3600:
        return f"{n // 60}分{n % 60:02d}秒"
    return f"{n // 3600}小时{n % 3600 // 60:02d}分"


def read_artifact(key: str, run_id: UUID | None = None) -> str:
    """The artifact's markdown (of that flow run, when given)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )
    from prefect.client.schemas.sorting import ArtifactSort

    runs = ArtifactFilterFlowRunId(any_=[run_id]) if run_id else None
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]), flow_run_id=runs),
            sort=ArtifactSort.CREATED_DESC,  # the newest: other tests drill the same id
        )
    assert len(found) >= 1, f"no artifact {key}"
    return str(found[0].data)
