"""A town's epidemic resources (``config/towns/<town>/epidemic.yaml``), checked on load.

What the epidemic plan works with that the flood ledgers do not hold: the monitoring
and testing points (24 小时执勤), what each kind of point holds at the start and who
supplies and pays for it (物资保障), where banners hang and in how many days the
door-knocking reaches every household (宣传引导), and the vaccination site and the
vehicles that take residents there (接送疫苗接种). A wrong file is refused in one
message naming the file, the key and why.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path

from pydantic import Field, ValidationError, model_validator

from sanqing.errors import PlanConfigError, describe_validation
from sanqing.plans import Strict, read_plan_yaml
from sanqing.rules.shuttles import Vehicle as ShuttleVehicle
from sanqing.settings import get_settings


class Point(Strict):
    code: str = Field(pattern=r"^[0-9A-Za-z_.\-]+$")  # reaches ids and file names
    name: str = Field(min_length=1)
    kind: str = Field(min_length=1)  # 检测点 / 卡点 / 集中隔离点, as the plan names them
    village: str | None = None  # staffed by its mixed group; None: by the town's leaders
    place: str = ""


class Supplier(Strict):
    supplier: str
    paid_by: str


class Site(Strict):
    name: str
    opens: time = time(8, 30)
    hours_open: int = Field(8, ge=1, le=24)
    per_hour: int = Field(30, ge=1)
    round_trip_minutes: int = Field(60, ge=10, le=600)


class Vehicle(Strict):
    code: str = Field(pattern=r"^[0-9A-Za-z_.\-]+$")
    name: str
    seats: int = Field(ge=1, le=60)
    wheelchair_places: int = Field(0, ge=0, le=10)
    driver: str
    phone: str  # the driver's work phone: notified with the trips

    def shuttle(self) -> ShuttleVehicle:
        return ShuttleVehicle(self.code, self.seats, self.wheelchair_places, self.driver)


class TownResources(Strict):
    points: list[Point] = Field(default_factory=list)
    stock: dict[str, dict[str, int]] = Field(default_factory=dict)  # kind → item → count
    suppliers: dict[str, Supplier] = Field(default_factory=dict)  # kind or "default"
    banner_places: list[str] = Field(default_factory=lambda: ["村委会门口"])
    door_knock_days: int = Field(3, ge=1, le=30)
    vaccination_site: Site | None = None
    vehicles: list[Vehicle] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> TownResources:
        for what, codes in (
            ("point", [p.code for p in self.points]),
            ("vehicle", [v.code for v in self.vehicles]),
        ):
            twice = sorted({c for c in codes if codes.count(c) > 1})
            if twice:
                raise ValueError(f"{what} code {twice[0]} appears more than once")
        return self

    def supplier_of(self, kind: str) -> Supplier:
        return (
            self.suppliers.get(kind)
            or self.suppliers.get("default")
            or Supplier(supplier="", paid_by="")
        )


def resources_path(town_key: str) -> Path:
    return get_settings().towns_dir / town_key / "epidemic.yaml"


def load_town_resources(town_key: str) -> TownResources:
    """The town's ``epidemic.yaml``; a town without one has no points, vehicles or site."""
    path = resources_path(town_key)
    if not path.is_file():
        return TownResources()
    data = read_plan_yaml(path)
    try:
        return TownResources.model_validate(data)
    except ValidationError as exc:
        raise PlanConfigError(f"{path}: invalid\n  {describe_validation(exc)}") from exc
