"""Which villages a warning covers (sanqing/feeds/area.py): pure functions, no database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sanqing.feeds.area import covered_villages, division_prefix, point_in_polygon
from sanqing.feeds.model import FeedWarning, SourceFormat
from sanqing.models import Town, Village

SENT = datetime(2026, 7, 12, 10, 0, tzinfo=UTC)

JIFENG = Town(
    code="621221106",
    key="jifeng",
    name="鸡峰镇",
    county_code="621221",
    county="成县",
    office="鸡峰镇人民政府",
    duty_phone="0939-0000000",
    lat=33.68,
    lon=105.6317,
)
OTHER = Town(
    code="621221101",
    key="other",
    name="城关镇",
    county_code="621221",
    county="成县",
    office="城关镇人民政府",
    duty_phone="0939-0000001",
    lat=33.75,
    lon=105.72,
)
NEIGHBOUR_COUNTY = Town(
    code="621224101",
    key="far",
    name="城关镇",
    county_code="621224",
    county="康县",
    office="康县城关镇人民政府",
    duty_phone="0939-0000002",
    lat=33.33,
    lon=105.60,
)
TOWNS = {t.code: t for t in (JIFENG, OTHER, NEIGHBOUR_COUNTY)}


def _v(code: str, name: str, lat: float, lon: float) -> Village:
    return Village(code=code, town_code=code[:9], name=name, lat=lat, lon=lon)


VILLAGES = [
    _v("621221106201", "鸡心村", 33.6800, 105.6400),
    _v("621221106202", "石门村", 33.6400, 105.6100),
    _v("621221106203", "峰南村", 33.6500, 105.6500),
    _v("621221106204", "河坝村", 33.7000, 105.6600),
    _v("621221106205", "柳湾村", 33.6900, 105.6000),
    _v("621221106206", "庙坪村", 33.7200, 105.6300),
    _v("621221101201", "东关村", 33.7500, 105.7200),
    _v("621224101201", "西关村", 33.3300, 105.6000),
]
JIFENG_ALL = [f"621221106{n}" for n in range(201, 207)]


def warning(**kw: Any) -> FeedWarning:
    base: dict[str, Any] = {
        "identifier": "W-1",
        "sent": SENT,
        "source_format": SourceFormat.CAP,
        "hazard": "rainstorm",
        "colour": "orange",
    }
    return FeedWarning(**(base | kw))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("621221", ["621221101201", *JIFENG_ALL]),  # a county
        ("621221106", JIFENG_ALL),  # a town
        ("621221106202", ["621221106202"]),  # a village
        ("621221106000", JIFENG_ALL),  # a town padded to 12 digits
        ("621221000000", ["621221101201", *JIFENG_ALL]),  # a county padded to 12
        ("621200", ["621221101201", *JIFENG_ALL, "621224101201"]),  # the prefecture
        (" 621221106203 ", ["621221106203"]),  # whitespace around the value
    ],
)
def test_a_geocode_covers_every_village_whose_code_starts_with_it(
    value: str, expected: list[str]
) -> None:
    cov = covered_villages(warning(geocodes=[("行政区划代码", value)]), VILLAGES, TOWNS)
    assert cov.village_codes == sorted(expected)
    assert set(cov.how.values()) == {"geocode"}
    assert cov.town_codes == sorted({c[:9] for c in expected})
    assert cov.notes == []


def test_several_geocodes_add_up_and_villages_are_sorted() -> None:
    w = warning(geocodes=[("ADCODE", "621221106204"), ("ADCODE", "621221106201")])
    cov = covered_villages(w, VILLAGES, TOWNS)
    assert cov.village_codes == ["621221106201", "621221106204"]
    assert cov.town_codes == ["621221106"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("行政区划代码", "62122110"),  # 8 digits: no division
        ("行政区划代码", "6212211062"),  # 10 digits
        ("行政区划代码", "6212a1"),  # not numeric
        ("行政区划代码", "６２１２２１"),  # full-width digits are not read as a code
        ("SAME", "621221"),  # a foreign scheme that happens to be numeric
        ("行政区划代码", "000000"),
    ],
)
def test_implausible_geocodes_are_noted_and_not_used(name: str, value: str) -> None:
    cov = covered_villages(warning(geocodes=[(name, value)]), VILLAGES, TOWNS)
    assert cov.village_codes == []
    assert any("not an administrative-division code" in n for n in cov.notes)


def test_division_prefix() -> None:
    assert division_prefix("621221106201") == "621221106201"
    assert division_prefix("621221106000") == "621221106"
    assert division_prefix("620000") == "62"
    assert division_prefix("62122") is None


# A square around 鸡心村 (33.68, 105.64) and 河坝村 (33.70, 105.66), not 鸡峰镇's others.
SQUARE = [
    (33.675, 105.635),
    (33.675, 105.665),
    (33.705, 105.665),
    (33.705, 105.635),
    (33.675, 105.635),
]


def test_a_polygon_covers_the_villages_inside_it() -> None:
    cov = covered_villages(warning(polygons=[SQUARE]), VILLAGES, TOWNS)
    assert cov.village_codes == ["621221106201", "621221106204"]
    assert cov.how == {"621221106201": "polygon", "621221106204": "polygon"}


def test_an_open_ring_is_closed() -> None:
    cov = covered_villages(warning(polygons=[SQUARE[:-1]]), VILLAGES, TOWNS)
    assert cov.village_codes == ["621221106201", "621221106204"]


def test_a_concave_polygon_leaves_out_its_notch() -> None:
    # A "U" open to the north: 鸡心村 (33.68, 105.64) in the left arm, 河坝村 (33.70, 105.66)
    # in the right arm, 峰南村 (33.65, 105.65) in the base; the notch between the arms
    # holds a point at (33.70, 105.65) that must stay outside.
    u_shape = [
        (33.64, 105.63),
        (33.64, 105.67),
        (33.71, 105.67),
        (33.71, 105.655),
        (33.66, 105.655),
        (33.66, 105.645),
        (33.71, 105.645),
        (33.71, 105.63),
    ]
    notch = _v("621221106299", "缺口村", 33.70, 105.65)
    cov = covered_villages(warning(polygons=[u_shape]), [*VILLAGES, notch], TOWNS)
    assert cov.village_codes == ["621221106201", "621221106203", "621221106204"]
    assert not point_in_polygon(33.70, 105.65, u_shape)


def test_points_on_the_edge_or_a_vertex_are_inside() -> None:
    assert point_in_polygon(33.675, 105.65, SQUARE)  # on the south edge
    assert point_in_polygon(33.69, 105.665, SQUARE)  # on the east edge
    assert point_in_polygon(33.675, 105.635, SQUARE)  # a vertex
    assert point_in_polygon(33.705, 105.665, SQUARE)  # the opposite vertex
    assert not point_in_polygon(33.674, 105.65, SQUARE)
    # a ray through a vertex counts the crossing once
    diamond = [(0.0, 1.0), (1.0, 2.0), (2.0, 1.0), (1.0, 0.0)]
    assert point_in_polygon(1.0, 0.5, diamond)
    assert not point_in_polygon(1.0, -0.5, diamond)
    assert not point_in_polygon(2.0, 0.0, diamond)


def test_a_degenerate_polygon_covers_nothing_and_says_so() -> None:
    line = [(33.6, 105.6), (33.8, 105.7), (33.6, 105.6)]
    cov = covered_villages(warning(polygons=[line]), VILLAGES, TOWNS)
    assert cov.village_codes == []
    assert any("fewer than three" in n for n in cov.notes)


def test_a_circle_covers_the_villages_within_its_radius() -> None:
    # 3 km around 石门村 (33.64, 105.61): 峰南村 is ~3.9 km away, 柳湾村 ~5.6 km
    cov = covered_villages(warning(circles=[(33.64, 105.61, 3.0)]), VILLAGES, TOWNS)
    assert cov.village_codes == ["621221106202"]
    assert cov.how == {"621221106202": "circle"}
    wider = covered_villages(warning(circles=[(33.64, 105.61, 4.0)]), VILLAGES, TOWNS)
    assert wider.village_codes == ["621221106202", "621221106203"]
    # the radius itself is included: a zero radius covers the centre
    exact = covered_villages(warning(circles=[(33.64, 105.61, 0.0)]), VILLAGES, TOWNS)
    assert exact.village_codes == ["621221106202"]


def test_geocode_polygon_and_circle_add_up_and_the_first_match_is_how() -> None:
    w = warning(
        geocodes=[("行政区划代码", "621221106201")],
        polygons=[SQUARE],
        circles=[(33.64, 105.61, 1.0)],
    )
    cov = covered_villages(w, VILLAGES, TOWNS)
    assert cov.how == {
        "621221106201": "geocode",
        "621221106202": "circle",
        "621221106204": "polygon",
    }


def test_area_description_is_only_a_fallback_and_says_so() -> None:
    by_village = covered_villages(warning(area_desc="成县鸡峰镇石门村、河坝村"), VILLAGES, TOWNS)
    # names the county too: every village of 成县 (the description is read generously)
    assert by_village.village_codes == ["621221101201", *JIFENG_ALL]
    assert set(by_village.how.values()) == {"area_desc"}
    assert any("area description" in n for n in by_village.notes)

    villages = covered_villages(warning(area_desc="石门村、河坝村"), VILLAGES, TOWNS)
    assert villages.village_codes == ["621221106202", "621221106204"]

    town = covered_villages(warning(area_desc="鸡峰镇"), VILLAGES, TOWNS)
    assert town.village_codes == JIFENG_ALL

    # with a geocode, the description is not read at all
    precise = covered_villages(
        warning(area_desc="鸡峰镇", geocodes=[("行政区划代码", "621221106202")]), VILLAGES, TOWNS
    )
    assert precise.village_codes == ["621221106202"]
    assert precise.notes == []


def test_unusable_geocodes_leave_the_fallback_open() -> None:
    w = warning(area_desc="石门村", geocodes=[("SAME", "123456")])
    cov = covered_villages(w, VILLAGES, TOWNS)
    assert cov.village_codes == ["621221106202"]
    assert len(cov.notes) == 2


@pytest.mark.parametrize(
    "kw",
    [
        {"geocodes": [("行政区划代码", "110101")]},  # Beijing
        {"polygons": [[(39.9, 116.3), (39.9, 116.5), (40.0, 116.5), (40.0, 116.3)]]},
        {"circles": [(39.9, 116.4, 20.0)]},
        {"area_desc": "北京市东城区"},
        {},
    ],
)
def test_a_warning_elsewhere_covers_nothing(kw: dict[str, Any]) -> None:
    cov = covered_villages(warning(**kw), VILLAGES, TOWNS)
    assert cov.empty
    assert cov.village_codes == [] and cov.town_codes == [] and cov.how == {}


@pytest.mark.parametrize(
    "name", ["ISO3166-2", "FIPS6", "UGC", "SAME", "EMMA_ID", "NUTS3", "postcode", "ZIP", ""]
)
@pytest.mark.parametrize("value", ["621221", "621221106", "621221106202"])
def test_geocodes_of_foreign_schemes_are_never_read_as_chinese_codes(name: str, value: str) -> None:
    cov = covered_villages(warning(geocodes=[(name, value)]), VILLAGES, TOWNS)
    assert cov.village_codes == []
    assert any("not an administrative-division code" in n and repr(value) in n for n in cov.notes)


@pytest.mark.parametrize(
    "name",
    ["行政区划代码", "admin", "ADCODE", "adcode", "GB/T 2260", "GB2260", "areaCode", "AreaCode"],
)
def test_the_names_of_chinese_division_codes_are_read(name: str) -> None:
    cov = covered_villages(warning(geocodes=[(name, "621221106202")]), VILLAGES, TOWNS)
    assert cov.village_codes == ["621221106202"]
