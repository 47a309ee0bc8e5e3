"""`sanqing init` and the one-line error: data is printed as written, never read as markup."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from sanqing.settings import REPO_ROOT, get_settings


def _edit_csv(path: Path, edit: object) -> None:
    with path.open(encoding="utf-8", newline="") as fh:
        table = list(csv.reader(fh))
    edit(table)  # type: ignore[operator]
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(table)


@pytest.fixture
def config_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of config/ in a folder whose name Rich would read as a tag, used by sanqing."""
    config = tmp_path / "[column]" / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    monkeypatch.setenv("SANQING_CONFIG_DIR", str(config))
    get_settings.cache_clear()
    return config


def init(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["init", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_refused_rows_are_printed_as_written(config_copy: Path) -> None:
    town = config_copy / "towns" / "jifeng"

    def village_named_markup(table: list[list[str]]) -> None:
        table.append(list(table[1]))
        table[-1][0], table[-1][1] = "621221106299", "[/red]x"

    def household_in_markup(table: list[list[str]]) -> None:
        table[1][table[0].index("village_code")] = "[/red]x"

    _edit_csv(town / "villages.csv", village_named_markup)
    _edit_csv(town / "households.csv", household_in_markup)
    code, output = init()
    assert code == 1, output
    assert "households.csv:2 [village_code]: '[/red]x'" in output
    assert "row(s) refused" in output
    assert "village" in output  # the table of what loaded is still printed


def test_an_error_is_one_line_with_its_brackets(config_copy: Path) -> None:
    (config_copy / "towns" / "jifeng" / "town.yaml").write_text("code: '6212'\n", "utf-8")
    code, output = init()
    assert code == 2
    (line,) = output.splitlines()
    assert line.startswith("错误 / error: ") and "[column]" in line and "town.yaml" in line
    code, output = init("--town", "[/red]x")
    assert code == 2 and "[/red]x" in output and len(output.splitlines()) == 1
