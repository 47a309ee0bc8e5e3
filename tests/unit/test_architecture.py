"""The house keeps its floors: the command line starts flows, flows call tasks, tasks
call the domain, and the domain never imports Prefect (import-linter's contracts in
pyproject.toml); flows hold no task and no database session; every task is declared
through ``tasks.options.db_task``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from sanqing.settings import REPO_ROOT


def modules(folder: str) -> list[Path]:
    return sorted((REPO_ROOT / folder).glob("*.py"))


def decorators(path: Path) -> list[tuple[str, int]]:
    """(name, line) of every decorator in the file: ``task`` for ``@task(...)`` too."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for d in node.decorator_list:
                target = d.func if isinstance(d, ast.Call) else d
                name = (
                    target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
                )
                out.append((name, d.lineno))
    return out


def test_the_import_contracts_hold() -> None:
    # in a process of its own: import-linter sets up logging, which would silence Prefect's
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout


@pytest.mark.parametrize("path", modules("flows"), ids=lambda p: p.name)
def test_flows_hold_no_task_and_no_session(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not [line for name, line in decorators(path) if name in {"task", "db_task"}]
    assert "session_scope" not in text, f"{path.name}: a flow reads the database through tasks/"


@pytest.mark.parametrize("path", modules("tasks"), ids=lambda p: p.name)
def test_every_task_is_declared_one_way(path: Path) -> None:
    raw = [line for name, line in decorators(path) if name == "task"]
    assert raw == [], f"{path.name}: declare tasks with tasks.options.db_task (lines {raw})"


def test_one_error_tree_in_one_file() -> None:
    """Every error class of ours is defined in sanqing/errors.py and drawn in its tree."""
    import sanqing.errors as errors

    elsewhere = []
    for path in sorted((REPO_ROOT / "sanqing").rglob("*.py")):
        if path.name == "errors.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and (
                node.name.endswith(("Error", "Expired", "Missing"))
                or any(getattr(b, "id", "") == "SanqingError" for b in node.bases)
            ):
                elsewhere.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.name}")
    assert elsewhere == []
    ours = [
        name
        for name, obj in vars(errors).items()
        if isinstance(obj, type) and issubclass(obj, errors.SanqingError)
    ]
    assert len(ours) >= 20
    doc = errors.__doc__ or ""
    assert [name for name in ours if name not in doc] == []


def _writes_notices(path: Path) -> list[int]:
    """Lines where the file writes Notice rows itself: ``upsert(…, Notice, …)`` or ``Notice(…)``."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        if name == "Notice" or (
            name == "upsert" and any(getattr(a, "id", "") == "Notice" for a in node.args)
        ):
            lines.append(node.lineno)
    return lines


def test_outbox_rows_have_one_writer() -> None:
    writer = REPO_ROOT / "sanqing" / "outbox" / "writer.py"
    assert _writes_notices(writer), "the writer itself must be seen writing"
    others = {
        str(p.relative_to(REPO_ROOT)): found
        for p in sorted((REPO_ROOT / "sanqing").rglob("*.py"))
        if p != writer and (found := _writes_notices(p))
    }
    assert others == {}, f"outbox rows written outside sanqing/outbox/writer.py: {others}"


#: A module holds one concern and a function does one thing: past these, split them.
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def test_modules_and_functions_stay_small() -> None:
    too_long = []
    for folder in ("sanqing", "flows", "tasks", "cli"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            where = path.relative_to(REPO_ROOT)
            if (lines := text.count("\n")) > MAX_MODULE_LINES:
                too_long.append(f"{where}: {lines} lines")
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    if length > MAX_FUNCTION_LINES:
                        too_long.append(f"{where}:{node.lineno} {node.name}: {length} lines")
    assert not too_long, (
        f"over {MAX_MODULE_LINES} lines a module or {MAX_FUNCTION_LINES} a function "
        "(docstring included):\n  " + "\n  ".join(too_long)
    )
