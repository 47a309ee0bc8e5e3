"""The registry loader: the jifeng sample, idempotent reloads, and bad ledgers refused row by row."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, SQLModel, select

from sanqing import db
from sanqing.errors import ConfigError, RegistryError, RowProblem, UnknownTown
from sanqing.models import (
    AssistanceTeam,
    Cadre,
    CadreRole,
    Grid,
    HazardKind,
    HazardPoint,
    HazardThreat,
    Household,
    Machine,
    RoadSegment,
    Shelter,
    Town,
    Village,
)
from sanqing.registry import ensure_registry, find_town, load_town_dir
from sanqing.settings import REPO_ROOT

JIFENG_DIR = REPO_ROOT / "config" / "towns" / "jifeng"
TABLES: tuple[type[SQLModel], ...] = (
    Town, Village, AssistanceTeam, Cadre, Grid, RoadSegment, Household, HazardPoint,
    HazardThreat, Shelter, Machine,
)  # fmt: skip


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _table(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def _write(path: Path, table: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(table)


def _counts(session: Session) -> dict[str, int]:
    return {
        t.__tablename__: session.exec(select(func.count()).select_from(t)).one()  # type: ignore[attr-defined]
        for t in TABLES
    }


@pytest.fixture
def jifeng_copy(tmp_path: Path) -> Path:
    town_dir = tmp_path / "jifeng"
    shutil.copytree(JIFENG_DIR, town_dir)
    return town_dir


def test_jifeng_sample_loads_without_problems(db_url: str) -> None:
    with db.session_scope() as session:
        report = load_town_dir(session, JIFENG_DIR)
    assert report.problems == [] and report.ok
    report.raise_for_problems()
    assert report.town_code == "621221106"
    files = {
        name: len(_rows(JIFENG_DIR / f"{name}.csv")) for name in report.counts if name != "town"
    }
    assert {k: v for k, v in report.counts.items() if k != "town"} == files

    with db.session_scope() as session:
        town = session.get(Town, "621221106")
        assert town is not None and town.name == "鸡峰镇" and town.county == "成县"
        assert town.duty_phone.startswith("0939-32")
        villages = {v.code: v for v in session.exec(select(Village)).all()}
        reference = _rows(JIFENG_DIR / "villages.csv")
        assert set(villages) == {r["code"] for r in reference}
        for r in reference:
            v = villages[r["code"]]
            assert (v.name, v.lat, v.lon) == (r["name"], float(r["lat"]), float(r["lon"]))
            households = session.exec(
                select(Household).where(Household.village_code == v.code)
            ).all()
            assert len(households) == pytest.approx(int(r["households"]), rel=0.03)
            assert sum(h.members for h in households) == pytest.approx(
                int(r["population"]), rel=0.03
            )

        hazards = session.exec(select(HazardPoint)).all()
        assert 30 <= len(hazards) <= 60
        assert {h.kind for h in hazards} == set(HazardKind)
        shimen = [h for h in hazards if h.name == "石门洞滑坡"]
        assert len(shimen) == 1
        assert shimen[0].kind == HazardKind.LANDSLIDE and shimen[0].risk == "very_high"
        assert villages[shimen[0].village_code].name == "石门村"
        rockfall_villages = set()
        for h in hazards:
            if h.kind == HazardKind.ROCKFALL_ROAD and h.road_code:
                road = session.get(RoadSegment, h.road_code)
                assert road is not None and road.village_code == h.village_code
                if road.road_name == "成康公路":
                    assert road.road_class == "县道"
                    rockfall_villages.add(villages[h.village_code].name)
        assert {"河坝村", "鸡心村"} <= rockfall_villages

        teams = session.exec(select(AssistanceTeam)).all()
        assert len(teams) == 6 and {t.village_code for t in teams} == set(villages)
        team_cadres = session.exec(select(Cadre).where(Cadre.team_code.is_not(None))).all()  # type: ignore[union-attr]
        assert len(team_cadres) == 9
        assert sorted(c.role for c in team_cadres).count(CadreRole.FIRST_SECRETARY) == 6
        leaders = session.exec(select(Cadre).where(Cadre.role == CadreRole.TOWN_LEADER)).all()
        assert 3 <= len(leaders) <= 4 and all(c.village_code is None for c in leaders)

        cadres = {c.code: c for c in session.exec(select(Cadre)).all()}
        grids = {g.code: g for g in session.exec(select(Grid)).all()}
        for h in session.exec(select(Household)).all():
            assert h.responsible_cadre_code in cadres
            assert cadres[h.responsible_cadre_code].village_code == h.village_code
            assert h.grid_code in grids and grids[h.grid_code].village_code == h.village_code
        for g in grids.values():
            assert cadres[g.responsible_cadre_code or ""].role == CadreRole.GRID_MEMBER


def test_loading_twice_changes_nothing_and_a_correction_updates(
    db_url: str, jifeng_copy: Path
) -> None:
    with db.session_scope() as session:
        first = load_town_dir(session, jifeng_copy)
    with db.session_scope() as session:
        before = _counts(session)
    with db.session_scope() as session:
        second = load_town_dir(session, jifeng_copy)
    with db.session_scope() as session:
        assert _counts(session) == before
    assert first.counts == second.counts

    table = _table(jifeng_copy / "households.csv")
    members = table[0].index("members")
    code = table[1][0]
    table[1][members] = "7"
    _write(jifeng_copy / "households.csv", table)
    with db.session_scope() as session:
        load_town_dir(session, jifeng_copy)
    with db.session_scope() as session:
        household = session.get(Household, code)
        assert household is not None and household.members == 7
        assert _counts(session) == before


def _problems_at(problems: list[RowProblem], file: str, row: int) -> list[RowProblem]:
    return [p for p in problems if p.file.name == file and p.row == row]


def test_a_corrupted_ledger_refuses_bad_rows_and_loads_the_rest(
    db_url: str, jifeng_copy: Path
) -> None:
    households = _table(jifeng_copy / "households.csv")
    header = households[0]
    col = {name: i for i, name in enumerate(header)}
    threats = _rows(jifeng_copy / "hazard_threats.csv")
    threatened = {t["household_code"] for t in threats}
    # Line numbers count the header as line 1: table index i is line i + 1.
    bad_members = next(i for i, r in enumerate(households) if i and r[0] in threatened)
    households[bad_members][col["members"]] = "0"
    unknown_village = bad_members + 1
    households[unknown_village][col["village_code"]] = "621221106299"
    bad_flag = bad_members + 2
    households[bad_flag][col["hardship"]] = "yes"
    households.append(list(households[5]))  # a duplicate household code
    bad_id = bad_members + 3
    households[bad_id][col["head_id_number"]] = "62122119800101"
    _write(jifeng_copy / "households.csv", households)
    refused = {households[i][0] for i in (bad_members, unknown_village, bad_flag, bad_id)}
    good_households = len(households) - 1 - len(refused) - 1

    with db.session_scope() as session:
        report = load_town_dir(session, jifeng_copy)

    file = "households.csv"
    (p,) = _problems_at(report.problems, file, bad_members + 1)
    assert p.column == "members" and p.file == jifeng_copy / file
    (p,) = _problems_at(report.problems, file, unknown_village + 1)
    assert p.column == "village_code" and "621221106299" in p.reason
    (p,) = _problems_at(report.problems, file, bad_flag + 1)
    assert p.column == "hardship" and "1 or 0" in p.reason
    (p,) = _problems_at(report.problems, file, len(households))
    assert p.column == "code" and "duplicate" in p.reason and "line 6" in p.reason
    (p,) = _problems_at(report.problems, file, bad_id + 1)
    assert p.column == "head_id_number" and "6212211980" not in p.reason  # personal data
    assert "households.csv:" in str(p)

    refused_threats = [t for t in threats if t["household_code"] in refused]
    assert refused_threats
    threat_problems = [p for p in report.problems if p.file.name == "hazard_threats.csv"]
    assert len(threat_problems) == len(refused_threats)
    assert all(p.column == "household_code" and "refused" in p.reason for p in threat_problems)
    assert len(report.problems) == 5 + len(refused_threats)

    assert report.counts["households"] == good_households
    assert report.counts["hazard_threats"] == len(threats) - len(refused_threats)
    with db.session_scope() as session:
        assert session.exec(select(func.count()).select_from(Household)).one() == good_households
        for code in refused:
            assert session.get(Household, code) is None
        assert session.exec(select(func.count()).select_from(HazardPoint)).one() == len(
            _rows(jifeng_copy / "hazard_points.csv")
        )
    with pytest.raises(RegistryError, match="registry row"):
        report.raise_for_problems()


def test_a_refused_cadre_refuses_what_depends_on_it(db_url: str, jifeng_copy: Path) -> None:
    cadres = _table(jifeng_copy / "cadres.csv")
    role = cadres[0].index("role")
    grid_member = next(i for i, r in enumerate(cadres) if r[role] == "grid_member")
    cadres[grid_member][role] = "mayor"
    _write(jifeng_copy / "cadres.csv", cadres)
    with db.session_scope() as session:
        report = load_town_dir(session, jifeng_copy)
    (p,) = _problems_at(report.problems, "cadres.csv", grid_member + 1)
    assert p.column == "role" and "'mayor'" in p.reason
    grid_problems = [p for p in report.problems if p.file.name == "grids.csv"]
    assert len(grid_problems) == 1 and grid_problems[0].column == "responsible_cadre_code"
    assert f"cadres.csv:{grid_member + 1}" in grid_problems[0].reason


def test_a_missing_column_is_a_clear_error_and_nothing_is_loaded(
    db_url: str, jifeng_copy: Path
) -> None:
    table = _table(jifeng_copy / "shelters.csv")
    drop = table[0].index("capacity")
    _write(jifeng_copy / "shelters.csv", [r[:drop] + r[drop + 1 :] for r in table])
    with pytest.raises(RegistryError) as caught, db.session_scope() as session:
        load_town_dir(session, jifeng_copy)
    (p,) = caught.value.problems
    assert (p.file.name, p.row, p.column) == ("shelters.csv", 1, "capacity")
    assert "shelters.csv:1 [capacity]" in str(caught.value)
    with db.session_scope() as session:
        assert session.exec(select(func.count()).select_from(Town)).one() == 0


def test_missing_file_and_bad_town_yaml_are_config_errors(db_url: str, jifeng_copy: Path) -> None:
    (jifeng_copy / "machinery.csv").unlink()
    with pytest.raises(ConfigError, match=r"machinery\.csv"), db.session_scope() as session:
        load_town_dir(session, jifeng_copy)
    (jifeng_copy / "town.yaml").write_text("code: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"town\.yaml.*YAML"), db.session_scope() as session:
        load_town_dir(session, jifeng_copy)
    (jifeng_copy / "town.yaml").write_text("code: '6212'\nkey: jifeng\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"town\.yaml.*code"), db.session_scope() as session:
        load_town_dir(session, jifeng_copy)


def test_ensure_registry_loads_once_and_finds_towns(db_url: str) -> None:
    assert ensure_registry() == "621221106"
    with db.session_scope() as session:
        loaded = _counts(session)
    assert loaded["household"] == len(_rows(JIFENG_DIR / "households.csv"))
    assert ensure_registry("621221106") == "621221106"
    assert ensure_registry("jifeng") == "621221106"
    with db.session_scope() as session:
        assert _counts(session) == loaded
        for name in ("jifeng", "621221106", "鸡峰镇"):
            assert find_town(session, name).code == "621221106"
        with pytest.raises(UnknownTown, match="jifeng"):
            find_town(session, "nowhere")
    with pytest.raises(UnknownTown, match="Known towns: jifeng"):
        ensure_registry("nowhere")


# --- hostile ledgers: what looks right but is not -----------------------------------------


def test_a_header_that_repeats_a_column_is_refused_and_nothing_is_loaded(
    db_url: str, jifeng_copy: Path
) -> None:
    # A second "capacity" column would win in a dict: every shelter got its 99,999 places.
    table = _table(jifeng_copy / "shelters.csv")
    _write(
        jifeng_copy / "shelters.csv",
        [[*r, "99999" if i else "capacity"] for i, r in enumerate(table)],
    )
    with pytest.raises(RegistryError) as caught, db.session_scope() as session:
        load_town_dir(session, jifeng_copy)
    (p,) = caught.value.problems
    assert (p.file.name, p.row, p.column) == ("shelters.csv", 1, "capacity")
    assert "twice" in p.reason and "5" in p.reason and f"{len(table[0]) + 1}" in p.reason
    with db.session_scope() as session:
        assert session.exec(select(func.count()).select_from(Shelter)).one() == 0


def test_codes_ids_and_phones_take_ascii_digits_and_no_invisible_characters(
    db_url: str, jifeng_copy: Path
) -> None:
    households = _table(jifeng_copy / "households.csv")
    col = {name: i for i, name in enumerate(households[0])}
    threatened = {t["household_code"] for t in _rows(jifeng_copy / "hazard_threats.csv")}
    free = [i for i, r in enumerate(households) if i and r[0] not in threatened]
    full_width_id, full_width_phone, zero_width_code, arabic_digit, bidi_grid = free[:5]
    fw = str.maketrans("0123456789", "０１２３４５６７８９")
    households[full_width_id][col["head_id_number"]] = households[full_width_id][
        col["head_id_number"]
    ].translate(fw)
    phone = households[full_width_phone][col["phone"]]
    households[full_width_phone][col["phone"]] = phone[:2] + phone[2:].translate(fw)  # 13８…
    code = households[zero_width_code][0]
    households[zero_width_code][0] = code[:-2] + "\u200b" + code[-2:]
    households[arabic_digit][col["village_code"]] = (
        households[arabic_digit][col["village_code"]][:-1] + "\u0663"
    )  # ARABIC-INDIC DIGIT THREE
    households[bidi_grid][col["grid_code"]] = "\u202e" + households[bidi_grid][col["grid_code"]]
    _write(jifeng_copy / "households.csv", households)

    with db.session_scope() as session:
        report = load_town_dir(session, jifeng_copy)

    file = "households.csv"
    expect = {
        full_width_id: ("head_id_number", "FULLWIDTH DIGIT"),
        full_width_phone: ("phone", "FULLWIDTH DIGIT"),
        zero_width_code: ("code", "U+200B"),
        arabic_digit: ("village_code", "ARABIC-INDIC DIGIT"),
        bidi_grid: ("grid_code", "U+202E"),
    }
    for i, (column, char) in expect.items():
        (p,) = _problems_at(report.problems, file, i + 1)
        assert p.column == column and char in p.reason, p
        assert f"{file}:{i + 1} [{column}]" in str(p)
    (p,) = _problems_at(report.problems, file, full_width_id + 1)
    # the script of the digit, never the digit: an ID number is personal data
    assert "ASCII" in p.reason and "６" not in p.reason and "U+FF" not in p.reason
    (p,) = _problems_at(report.problems, file, zero_width_code + 1)
    assert "invisible" in p.reason
    assert len(report.problems) == len(expect)
    assert report.counts["households"] == len(households) - 1 - len(expect)
    with db.session_scope() as session:
        assert session.get(Household, code) is None
        assert session.get(Household, code[:-2] + "\u200b" + code[-2:]) is None


def test_names_lose_invisible_characters_and_control_characters_are_refused(
    db_url: str, jifeng_copy: Path
) -> None:
    villages = _table(jifeng_copy / "villages.csv")
    village_code, village_name = villages[2][0], villages[2][1]
    villages[2][1] = village_name[:1] + "\u200b" + village_name[1:] + "\ufeff"
    _write(jifeng_copy / "villages.csv", villages)
    cadres = _table(jifeng_copy / "cadres.csv")
    name = cadres[0].index("name")
    cadre_code, cadre_name = cadres[1][0], cadres[1][name]
    cadres[1][name] = "\u202e" + cadre_name
    _write(jifeng_copy / "cadres.csv", cadres)
    households = _table(jifeng_copy / "households.csv")
    head = households[0].index("head_name")
    threatened = {t["household_code"] for t in _rows(jifeng_copy / "hazard_threats.csv")}
    bad = next(i for i, r in enumerate(households) if i and r[0] not in threatened)
    households[bad][head] = households[bad][head] + "\x00\x1b[2J"
    _write(jifeng_copy / "households.csv", households)

    with db.session_scope() as session:
        report = load_town_dir(session, jifeng_copy)

    (p,) = report.problems
    assert (p.file.name, p.row, p.column) == ("households.csv", bad + 1, "head_name")
    assert "control character" in p.reason and "U+0000" in p.reason
    assert households[bad][head][:2] not in p.reason  # a resident's name is not echoed
    with db.session_scope() as session:
        village = session.get(Village, village_code)
        cadre = session.get(Cadre, cadre_code)
        assert village is not None and village.name == village_name
        assert cadre is not None and cadre.name == cadre_name
