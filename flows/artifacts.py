"""What a flood-response run shows in the Prefect UI: progress, figures, report, print folder.

Aggregates only: names of residents never reach Prefect (the print folder is linked,
its files stay on this machine).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import UUID

from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.futures import as_completed

from sanqing.labels import label
from sanqing.outbox.rendering import markdown_text
from sanqing.settings import DEFAULT_LOCALE, get_settings
from tasks import records

#: What Prefect allows in an artifact key: lowercase letters, digits and dashes.
_KEY_UNSAFE = re.compile(r"[^a-z0-9-]+")


class VillageProgress:
    """A progress artifact in the run: village steps done out of all of them.

    Updated as villages finish, at most once a second and at the end of each
    step: every update is an API call, and a county run has hundreds of villages.
    """

    MIN_INTERVAL_S = 1.0

    def __init__(self, town: str, *, steps: int) -> None:
        self.steps, self.done = max(steps, 1), 0
        artifact_id = create_progress_artifact(
            progress=0.0, description=f"{town}: 各村排查、转移、通知进度 / village steps done"
        )
        assert isinstance(artifact_id, UUID)  # a sync flow: not the coroutine of the async variant
        self.artifact_id = artifact_id
        self.last = time.monotonic()

    def finish(self) -> None:
        """All village steps done (also those a held approval skipped)."""
        if self.done < self.steps:
            self.done = self.steps
            update_progress_artifact(self.artifact_id, progress=100.0)

    def wait(self, futures: Any) -> None:
        """Wait for every village of a step, moving the bar as they finish; raise on failure."""
        pending = list(futures)
        for i, future in enumerate(as_completed(pending), start=1):
            future.result()  # a failed village fails the run (after its retries)
            self.done += 1
            if i == len(pending) or time.monotonic() - self.last >= self.MIN_INTERVAL_S:
                update_progress_artifact(self.artifact_id, progress=100.0 * self.done / self.steps)
                self.last = time.monotonic()


#: The names of a town run's final states, as the UI shows them (a state's event is
#: named after it: ``flows.lost_runs`` must know them too).
ROUND_DONE = "本轮完成·响应继续"
RESPONSE_ENDED = "响应已结束"


def end_state(figures: dict[str, Any]) -> Any:
    """The run's final state, named for what it means to the duty officer: a run that
    finished its round while the response goes on is not "Completed" (the response has
    not ended; the after-rain patrol ends it). The figures stay the run's result."""
    from prefect.states import Completed

    if figures.get("status") == "active":
        return Completed(
            data=figures,
            name=ROUND_DONE,
            message="本轮处置已完成，应急响应仍在进行：雨后巡查确认安全后结束（终报）",
        )
    return Completed(data=figures, name=RESPONSE_ENDED, message="应急响应已结束（终报已报送）")


def artifact_key(figures: dict[str, Any]) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in figures["activation_id"].lower())[:90]


def publish_artifacts(figures: dict[str, Any], report_text: str) -> None:
    """The situation in the UI: relocations per village and the report (aggregates only)."""
    key = artifact_key(figures)
    create_table_artifact(
        key=f"relocations-{key}",
        table=[
            {
                "村": v["name"],
                "应转移户": v["households_to_relocate"],
                "应转移人": v["people_to_relocate"],
                "已转移户": v["households_relocated"],
                "在安置点人": v["in_shelter"],
                "拒绝": v["refused"],
                "联系不上": v["unreachable"],
                "安置缺口人": v["shortfall_people"],
            }
            for v in figures["village_figures"]
        ],
        description=f"{figures['town']} relocations per village",
    )
    create_markdown_artifact(
        key=f"report-{key}",
        markdown=report_markdown(report_text),
        description=f"{figures['town']} report upward",
    )


def report_markdown(report_text: str) -> str:
    """The report as the county reads it, wrapped to the page (not a code block cut off at
    the right): its heading lines bold, each paragraph its own, the signature kept."""
    # names and findings come from ledgers: markup escaped, as everywhere (markdown_text)
    lines = [markdown_text(line) for line in report_text.splitlines()]
    out: list[str] = []
    heading = True
    for line in lines:
        if not line:
            heading = False
            out.append("")
        elif heading:  # the lines above the first blank one: notes, office, title, number
            out.append(f"**{line}**  ")
        else:
            out.append(line + "  ")
    return "\n".join(out).strip()


def publish_print_folder(figures: dict[str, Any], folder: str, counts: dict[str, int]) -> None:
    """Links to the rendered notices and cards (files on this machine: names stay out of Prefect)."""
    root = Path(folder)
    link = _print_link(root)
    rows = [
        f"| {label(DEFAULT_LOCALE, 'channel', ch)} | {n} | [{ch}/]({link('notices', ch)}) |"
        for ch, n in sorted(counts.items())
    ]
    create_markdown_artifact(
        key=f"notices-{artifact_key(figures)}",
        markdown="\n".join(
            [
                f"## {figures['town']} 通知、明白卡和报告（本机文件）",
                "",
                "| 渠道 | 份数 | 文件夹 |",
                "|---|---|---|",
                *rows,
                f"| 报告 | {len(figures['reports'])} | [reports/]({link('reports')}) |",
                "",
                f"打印文件夹：`{root}`（入户叫应清单和避险明白卡含住户信息，仅在本机保存）",
            ]
        ),
        description=f"{figures['town']} rendered notices and cards",
    )


def _print_link(root: Path) -> Any:
    """Links into the print folder: through the board (it serves the folder, browsers can
    open it) when SANQING_BOARD_URL is known, else the files themselves on this machine."""
    board = get_settings().board_url

    def link(*parts: str) -> str:
        if board:
            path = "/".join(quote(p) for p in (root.name, *parts))
            return f"{board.rstrip('/')}/print/{path}/"
        return root.joinpath(*parts).as_uri()

    return link


def review_key(activation_id: str) -> str:
    """``review-<activation>`` within Prefect's key rules (drill-flood-…_DRILL → …-drill)."""
    return "review-" + _KEY_UNSAFE.sub("-", activation_id.lower()).strip("-")[:90]


def publish_review(activation_id: str, locale: str) -> None:
    """The after-action review (复盘) of a response that has just ended, in the run's artifacts.

    Household codes and counts only: no resident's name or phone reaches Prefect.
    """
    create_markdown_artifact(
        key=review_key(activation_id),
        markdown=records.review_markdown(activation_id, locale),
        description=f"{activation_id} 复盘 / after-action review",
    )
