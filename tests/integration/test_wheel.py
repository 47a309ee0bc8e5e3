"""A wheel install finds its plans, sample town and templates (no checkout beside it).

The wheel is built from this checkout (``pip wheel``, the project's own build
backend), unpacked into an empty folder and imported from there, from another
folder: the settings point into ``sanqing/_data/`` of the wheel, the plan loads
and a notice renders. A folder set wrong is refused at start naming its variable.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sanqing.settings import REPO_ROOT

pytestmark = pytest.mark.integration

PROBE = """
import json, sanqing
from sanqing.settings import get_settings
from sanqing.plans import load_plan
from sanqing.registry import find_town_dir
s = get_settings()
print(json.dumps({
    "package": sanqing.__file__,
    "config": str(s.config_dir),
    "templates": str(s.templates_dir),
    "plan": load_plan().title,
    "town": find_town_dir("jifeng").name,
    "templates_found": sorted(p.name for p in (s.templates_dir / "zh-CN" / "reports").glob("*.j2"))[:2],
}))
"""


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(REPO_ROOT)],
        check=True,
        timeout=300,
    )
    (wheel,) = out.glob("sanqing-*.whl")
    site = out / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    return site


def probe(site: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SANQING_")}
    environ |= {"PYTHONPATH": str(site), "PYTHONSAFEPATH": "1"} | env
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_wheel_finds_its_config_and_templates(unpacked: Path, tmp_path: Path) -> None:
    import json

    done = probe(unpacked, tmp_path)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert Path(found["package"]).is_relative_to(unpacked)  # the wheel's copy, not the checkout
    assert found["config"] == str(unpacked / "sanqing" / "_data" / "config")
    assert found["templates"] == str(unpacked / "sanqing" / "_data" / "templates")
    assert found["plan"] == "防汛抢险应急预案" and found["town"] == "jifeng"
    assert found["templates_found"]


def test_a_folder_set_wrong_is_refused_at_start_naming_its_variable(
    unpacked: Path, tmp_path: Path
) -> None:
    done = probe(unpacked, tmp_path, SANQING_TEMPLATES_DIR=str(tmp_path / "nowhere"))
    assert done.returncode != 0
    assert "SANQING_TEMPLATES_DIR" in done.stderr and "nowhere" in done.stderr
