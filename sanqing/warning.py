"""The normalized warning a response starts from (feeds and the manual form produce it)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from sanqing.plans import Colour

#: Hazards a flood response answers, with their Chinese names.
HAZARD_NAMES_ZH = {
    "rainstorm": "暴雨",
    "geological": "地质灾害气象风险",
    "flood": "山洪",
}
COLOUR_NAMES_ZH = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}


class WarningInfo(BaseModel):
    """A warning, as the response needs it (the fields the UI form shows)."""

    model_config = ConfigDict(extra="forbid")

    identifier: str = Field(min_length=1, max_length=200, title="预警编号")
    hazard: str = Field("rainstorm", title="灾种", description="rainstorm / geological / flood")
    colour: Colour = Field(title="预警颜色")
    headline: str = Field("", title="标题")
    description: str = Field("", title="内容")
    sender: str = Field("", title="发布单位")
    sent: datetime | None = Field(None, title="发布时间")
    status: str = Field("Actual", title="状态", description="Actual / Exercise / Test")
    area_desc: str = Field("", title="影响区域")
    village_codes: list[str] = Field(
        default_factory=list,
        title="涉及村",
        description="12-digit village codes; empty means every village of the town",
    )

    @property
    def label_zh(self) -> str:
        hazard = HAZARD_NAMES_ZH.get(self.hazard, self.hazard)
        return f"{hazard}{COLOUR_NAMES_ZH[self.colour.value]}预警"
