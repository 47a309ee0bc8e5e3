"""The normalized warning a response starts from (feeds and the manual form produce it)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from sanqing.labels import label
from sanqing.plans import Colour


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

    def name(self, locale: str) -> str:
        """What the warning is called: 暴雨橙色预警 / rainstorm orange warning."""
        return label(locale, "warning", "name").format(
            hazard=label(locale, "hazard", self.hazard), colour=label(locale, "colour", self.colour)
        )

    @property
    def label_zh(self) -> str:
        return self.name("zh-CN")
