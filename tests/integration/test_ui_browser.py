"""The control room in a real browser, on Prefect's V1 pages: the form and the approval.

(The UI that opens is V2: ``test_night_browser.py`` walks it, and its screenshots are
the README's. This one keeps the V1 pages working for a browser that chose them.)

Headless Chromium from the OS packages (``apt-get install chromium fonts-wqy-microhei``),
driven by Playwright, against a `prefect server start` with its UI and `sanqing serve`.
Every request that does not go to the local server is aborted (the UI calls an
analytics host). Screenshots go to the test's folder and ``test-artifacts/v1/``.

Where Chromium is missing the test is skipped with the command to install it, unless
SANQING_REQUIRE_BROWSER=1 (CI sets it, after installing Chromium): then it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from sanqing.db import session_scope
from sanqing.models import Activation, Approval
from sanqing.settings import REPO_ROOT
from tests.integration.conftest import running_control_room, wait_for_deployments

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
INSTALL = "apt-get install -y chromium fonts-wqy-microhei && pip install -e '.[test]'"
DOCS = REPO_ROOT / "docs"
ARTIFACTS = REPO_ROOT / "test-artifacts" / "v1"


def _browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False)
    if not fonts.stdout.strip():
        return "no Chinese font: the UI would show boxes"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = _browser_missing()
    if missing:
        if os.environ.get("SANQING_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser test required but {missing}; install: {INSTALL}")
        pytest.skip(f"{missing}; install: {INSTALL}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def shot(page: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path))
    # The README shows the V2 UI that opens (test_night_browser.py's screenshots); these
    # are of the V1 pages, kept for CI's artifacts only.
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, ARTIFACTS / name)
    assert path.stat().st_size > 10_000  # a rendered page, not a blank one
    return path


def test_the_duty_officer_starts_a_response_and_the_commander_approves_in_the_ui(
    browser: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with running_control_room(tmp_path, ui=True) as server:
        log = tmp_path / "serve.log"
        wait_for_deployments(server.api_url, ("flood-response/flood-response",), log)
        base = server.ui_url
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
        page.route(
            "**/*",
            lambda route: (
                route.continue_() if route.request.url.startswith(base) else route.abort()
            ),
        )

        # The deployments page lists the plan; its run form speaks Chinese.
        page.goto(f"{base}/deployments")
        expect(page.get_by_text("flood-response").first).to_be_visible(timeout=30_000)
        expect(page.get_by_text("after-rain-patrol").first).to_be_visible()
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            with get_client(sync_client=True) as client:
                dep = client.read_deployment_by_name("flood-response/flood-response")
            page.goto(f"{base}/deployments/deployment/{dep.id}/run")
            for title in ("乡镇", "响应级别", "演练", "预警"):
                expect(page.get_by_text(title, exact=False).first).to_be_visible(timeout=30_000)
            # the town comes from the registry, by its Chinese name
            expect(page.get_by_role("button", name="鸡峰镇")).to_be_visible()
            shot(page, tmp_path, "control-room-form.png")

            # A level-II start waits for the commander: the form shows what is asked.
            # (the sync client: Playwright's loop would turn run_deployment into a coroutine)
            with get_client(sync_client=True) as client:
                run = client.create_flow_run_from_deployment(
                    dep.id, parameters={"town": "鸡峰镇", "level": "II"}
                )
            wait_paused(run.id)
            page.goto(f"{base}/flow-runs/flow-run/{run.id}")
            page.get_by_role("button", name="Resume").first.click()
            expect(page.get_by_text("转移审批：二级应急响应")).to_be_visible(timeout=30_000)
            expect(page.get_by_text("是否批准转移").first).to_be_visible()
            dialog = page.get_by_role("dialog")
            dialog.get_by_role("switch").first.click()
            dialog.locator("textarea").first.fill("王镇长")
            shot(page, tmp_path, "control-room-approval.png")
            dialog.get_by_role("button", name="Submit").click()
            # On a loaded CI machine a click was lost (the dialog still open after 90 s,
            # the run paused): the officer presses Submit again, and so does the test.
            for _ in range(3):
                if left_pause(page, run.id, seconds=30):
                    break
                if dialog.is_visible():
                    shot(page, tmp_path, "control-room-approval-again.png")
                    dialog.get_by_role("button", name="Submit").click()
            assert left_pause(page, run.id, seconds=30), "the approval never reached the run"
            expect(dialog).to_be_hidden(timeout=30_000)

            # The UI's answer reaches the run: approved, by that name, not simulated.
            deadline = time.monotonic() + 60
            while True:
                with session_scope() as s:
                    row = s.exec(select(Approval)).first()
                if row is not None and row.decision is not None:
                    break
                if time.monotonic() > deadline:
                    pytest.fail(
                        "the approval given in the UI never reached the run:\n" + log.read_text()
                    )
                page.wait_for_timeout(
                    500
                )  # not time.sleep: the page routes requests in this thread
            assert (row.decision, row.approver, row.simulated) == ("approved", "王镇长", False)
            # the villages' roll call (through the API here) lets the run finish
            wait_paused(run.id)
            with session_scope() as s:
                act = s.exec(select(Activation)).one()
            with get_client(sync_client=True) as client:
                client.resume_flow_run(
                    run.id,
                    run_input={
                        "villages": [
                            {"village": v, "others": "in_shelter"} for v in act.village_codes
                        ]
                    },
                )
                deadline = time.monotonic() + 60
                while not (state := client.read_flow_run(run.id).state) or not state.is_final():
                    assert time.monotonic() < deadline, "run did not finish after the roll call"
                    time.sleep(0.5)
            assert state.is_completed(), state
        page.close()


def left_pause(page: Any, run_id: Any, *, seconds: float, pause_id: Any = None) -> bool:
    """Whether the run left its pause within ``seconds`` (polled from the page's thread).

    With ``pause_id`` (the id of the paused state that was answered), a new pause counts
    as having left it: a run that asks again pauses anew between two polls.
    """
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + seconds
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            state = client.read_flow_run(run_id).state
            if state is not None and (not state.is_paused() or state.id != (pause_id or state.id)):
                return True
            page.wait_for_timeout(500)
    return False


def wait_paused(run_id: Any, timeout: float = 120) -> None:
    """Until the run waits with a form (a new pause: the previous one was answered)."""
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            st = client.read_flow_run(run_id).state
            if st is not None and st.is_paused() and st.state_details.run_input_keyset:
                return
            assert time.monotonic() < deadline, f"run not paused for input: {st!r}"
            time.sleep(0.5)
