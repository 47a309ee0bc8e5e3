"""What people answer during a response: the commander, the villages, the patrol.

The same models serve the control room (the forms of a paused run in the Prefect
UI), the drill scenarios (simulated answers) and the tests. Field titles are
Chinese because the duty officer reads them at 2 a.m.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from sanqing.forms import labelled, one_of
from sanqing.models import InspectionStatus


class ApprovalAnswer(BaseModel):
    """指挥长审批：是否下达群众转移令。"""

    model_config = ConfigDict(extra="forbid")

    approve: bool = Field(
        title="是否批准转移",
        description="批准：立即通知群众按预案转移；不批准：不下达转移令，排查、抢通和报告照常进行",
    )
    name: str = Field(min_length=1, max_length=40, title="审批人", description="指挥长姓名")
    remarks: str = Field("", max_length=500, title="意见")


class FindingInput(BaseModel):
    """What a monitor found at a hazard point (by code or by name)."""

    model_config = ConfigDict(extra="forbid")

    hazard: str = Field(title="隐患点", description="hazard point code or name")
    status: InspectionStatus = Field(title="结果")
    note: str = Field("", title="情况")


class RollCallStatus(StrEnum):
    """What a village reports of one household (点名结果)."""

    MOVED = "moved"  # 已转移（投亲靠友或已离开危险区）
    IN_SHELTER = "in_shelter"  # 已到集中安置点
    REFUSED = "refused"  # 拒不转移
    UNREACHABLE = "unreachable"  # 联系不上
    WITH_RELATIVES = "with_relatives"  # 投亲靠友
    REMOVED = "removed"  # 已带离（拒不转移，由镇组织带离；须填带离负责人）


class Others(StrEnum):
    """What the households not listed one by one are."""

    MOVED = "moved"  # 其余均已转移
    IN_SHELTER = "in_shelter"  # 其余均已到安置点
    UNCONFIRMED = "unconfirmed"  # 其余尚未核实（逐户填报时）


#: 已转移 / 已到安置点 / 拒绝转移 / 联系不上 …: the form lists the words, the answer holds the code.
StatusChoice = Annotated[
    RollCallStatus,
    WithJsonSchema(one_of(labelled("relocation", [s.value for s in RollCallStatus]))),
]
#: 其余均已转移 / 其余均已到安置点 / 其余尚未核实.
OthersChoice = Annotated[
    Others, WithJsonSchema(one_of(labelled("others", [o.value for o in Others])))
]


class HouseholdRollCall(BaseModel):
    """一户的点名结果。"""

    model_config = ConfigDict(extra="forbid")

    household: str = Field(min_length=1, title="户", description="户编号，或本村唯一的户主姓名")
    status: StatusChoice = Field(title="情况", description="已带离：须填带离负责人")
    note: str = Field("", max_length=200, title="备注")
    by: str = Field("", max_length=40, title="带离负责人", description="已带离时必填：谁带离")


class VillageRollCall(BaseModel):
    """一个村的点名回报：逐户填报，或只列例外、其余统一填报。"""

    model_config = ConfigDict(extra="forbid")

    village: str = Field(min_length=1, title="村", description="村名或村代码")
    households: list[HouseholdRollCall] = Field(
        default_factory=list,
        title="逐户情况",
        description="拒绝、联系不上等例外户（也可逐户全部列出）",
    )
    others: OthersChoice = Field(
        Others.MOVED, title="其余各户", description="未逐户列出的各户的情况"
    )
    reporter: str = Field("", max_length=40, title="报告人")


class PatrolAnswer(BaseModel):
    """雨后巡查结果：确认安全后方可结束响应、群众返回。"""

    model_config = ConfigDict(extra="forbid")

    all_clear: bool = Field(
        title="巡查确认安全", description="各隐患点雨后巡查无新险情，群众可以返回"
    )
    name: str = Field(min_length=1, max_length=40, title="巡查负责人")
    dangers: list[str] = Field(
        default_factory=list, title="仍有险情的隐患点", description="隐患点名称或编号"
    )
    remarks: str = Field("", max_length=500, title="情况说明")


class DrillTimes(BaseModel):
    """A drill's clock: minutes its script lets pass before each answer (not waited for)."""

    model_config = ConfigDict(extra="forbid")

    approval: float = Field(10, ge=0, le=24 * 60)  # after the start, the commander answers
    in_rain: float = Field(20, ge=0, le=24 * 60)  # then the monitors' patrol in the rain
    roll_call: float = Field(45, ge=0, le=24 * 60)  # after the first report, the roll call
    follow_up: float = Field(30, ge=0, le=24 * 60)  # each step up the chain reports back
    patrol: float = Field(360, ge=0, le=7 * 24 * 60)  # the rain stops; the patrol after it


class SimulatedAnswers(BaseModel):
    """A drill's answers: nobody is asked; the timeline marks them simulated."""

    model_config = ConfigDict(extra="forbid")

    approval: ApprovalAnswer = ApprovalAnswer(
        approve=True, name="演练指挥长", remarks="同意按预案转移"
    )
    # Villages not listed report every household in its shelter (or moved, with no place).
    roll_calls: list[VillageRollCall] = Field(default_factory=list)
    # when each answer comes, on the drill's clock
    minutes: DrillTimes = Field(default_factory=DrillTimes)
    # 雨中除险: what the monitors find on their patrol while it rains (points not named: no
    # change, marked simulated); danger found now moves the threatened households at once.
    during: list[FindingInput] = Field(default_factory=list)
    # 应撤必撤: what each step up the chain found, round by round (after the first
    # secretary, after the town leader, after 带离 …); only the households named change.
    follow_ups: list[list[VillageRollCall]] = Field(default_factory=list, max_length=5)
    patrol: PatrolAnswer = PatrolAnswer(
        all_clear=True, name="演练巡查组", remarks="雨后巡查未发现新险情"
    )
