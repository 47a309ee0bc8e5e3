"""The sample-registry generator: deterministic, realistic in shape, loadable at county scale."""

from __future__ import annotations

import csv
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from bench.samplegen import (
    COLUMNS,
    DEFAULT_SEED,
    REGISTRATIONS_FILE,
    generate_county,
    generate_jifeng,
    id_check_digit,
)
from sanqing import db
from sanqing.models import HazardKind
from sanqing.registry import load_town_dir
from sanqing.settings import REPO_ROOT

JIFENG_DIR = REPO_ROOT / "config" / "towns" / "jifeng"
GENERATED = ["town.yaml", *COLUMNS, REGISTRATIONS_FILE]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def fresh_jifeng(tmp_path: Path) -> Path:
    """A town directory holding only the reference villages.csv."""
    town_dir = tmp_path / "jifeng"
    town_dir.mkdir()
    shutil.copy(JIFENG_DIR / "villages.csv", town_dir / "villages.csv")
    return town_dir


def test_same_seed_gives_identical_bytes_and_matches_the_repo(
    fresh_jifeng: Path, tmp_path: Path
) -> None:
    other = tmp_path / "again"
    shutil.copytree(fresh_jifeng, other)
    generate_jifeng(fresh_jifeng, seed=DEFAULT_SEED)
    generate_jifeng(other, seed=DEFAULT_SEED)
    for name in GENERATED:
        assert (fresh_jifeng / name).read_bytes() == (other / name).read_bytes(), name
        # The sample in the repository is the generator's output: regenerate it after a change.
        assert (fresh_jifeng / name).read_bytes() == (JIFENG_DIR / name).read_bytes(), name
    # The reference file is read, never rewritten.
    assert (fresh_jifeng / "villages.csv").read_bytes() == (
        JIFENG_DIR / "villages.csv"
    ).read_bytes()


def test_another_seed_gives_another_registry(fresh_jifeng: Path) -> None:
    generate_jifeng(fresh_jifeng, seed=DEFAULT_SEED + 1)
    ours = (fresh_jifeng / "households.csv").read_bytes()
    assert ours != (JIFENG_DIR / "households.csv").read_bytes()
    # The villages are the reference ones whatever the seed.
    assert {r["village_code"] for r in _rows(fresh_jifeng / "households.csv")} == {
        r["code"] for r in _rows(JIFENG_DIR / "villages.csv")
    }


def test_jifeng_sample_has_the_shape_of_the_real_ledger() -> None:
    villages = _rows(JIFENG_DIR / "villages.csv")
    households = _rows(JIFENG_DIR / "households.csv")
    for v in villages:
        mine = [h for h in households if h["village_code"] == v["code"]]
        assert len(mine) == pytest.approx(int(v["households"]), rel=0.03)
        people = sum(int(h["members"]) for h in mine)
        assert people == pytest.approx(int(v["population"]), rel=0.03)
    assert {int(h["members"]) for h in households} <= set(range(1, 8))

    ratings = Counter(h["safety_rating"] for h in households)
    assert 0.28 < ratings["A"] / len(households) < 0.42
    assert 0.02 < ratings["D"] / len(households) < 0.10
    for h in households:
        assert re.fullmatch(r"1[358]\d{9}", h["phone"]) or h["phone"] == ""
        number = h["head_id_number"]
        assert number.startswith("621221") and number[17] == id_check_digit(number[:17])
        if h["elderly_alone"] == "1" or h["five_guarantee"] == "1":
            assert int(h["members"]) <= 2
    assert 0.03 < sum(h["elderly_alone"] == "1" for h in households) / len(households) < 0.09

    hazards = _rows(JIFENG_DIR / "hazard_points.csv")
    assert 30 <= len(hazards) <= 60
    assert {h["kind"] for h in hazards} == {k.value for k in HazardKind}
    assert len({h["name"] for h in hazards}) == len(hazards)
    threats = _rows(JIFENG_DIR / "hazard_threats.csv")
    threatened = Counter(t["household_code"] for t in threats)
    assert 0.20 <= len(threatened) / len(households) <= 0.30
    assert any(n > 1 for n in threatened.values())  # a few households face two hazards

    cadres = _rows(JIFENG_DIR / "cadres.csv")
    loads = Counter(h["responsible_cadre_code"] for h in households)
    assert max(loads.values()) >= 30 and min(loads.values()) < 15  # unequal, as in the field
    assert {c["role"] for c in cadres if not c["village_code"]} == {"town_leader"}

    shelters = _rows(JIFENG_DIR / "shelters.csv")
    members = {h["code"]: int(h["members"]) for h in households}
    # everyone who moves at Ⅰ: any hazard zone, and every C- or D-rated house
    moving = set(threatened) | {h["code"] for h in households if h["safety_rating"] in "CD"}
    at_risk = sum(members[c] for c in moving)
    capacity = sum(int(s["capacity"]) for s in shelters)
    assert 0.85 * at_risk <= capacity <= 1.02 * at_risk  # close to, or slightly short of, all
    assert all(1 <= n <= 4 for n in Counter(s["village_code"] for s in shelters).values())
    assert 3 <= len(_rows(JIFENG_DIR / "machinery.csv")) <= 5


def test_small_county_loads_cleanly_with_unique_codes(db_url: str, tmp_path: Path) -> None:
    dirs = generate_county(
        tmp_path / "county",
        towns=2,
        villages_per_town=3,
        households_per_village=40,
        hazard_points_per_town=12,
        seed=7,
    )
    assert len({d.name for d in dirs}) == 2
    for name in (
        "villages.csv",
        "cadres.csv",
        "households.csv",
        "hazard_points.csv",
        "shelters.csv",
    ):
        codes = [r["code"] for d in dirs for r in _rows(d / name)]
        assert len(codes) == len(set(codes)), name
    town_codes = [re.search(r"code: '(\d+)'", (d / "town.yaml").read_text()) for d in dirs]
    assert [m.group(1) for m in town_codes if m] == ["621221101", "621221102"]
    with db.session_scope() as session:
        reports = [load_town_dir(session, d) for d in dirs]
    for report in reports:
        assert report.problems == []
        assert report.counts["villages"] == 3
        assert report.counts["households"] == 120
        assert report.counts["hazard_points"] == 12
        assert {v["code"][:9] for v in _rows(report.town_dir / "villages.csv")} == {
            report.town_code
        }
