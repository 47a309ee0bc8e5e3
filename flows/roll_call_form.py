"""The roll-call form of one pause: villages and households picked from the registry.

Each pause builds its own form class: the villages still to report and the
households ordered to move there are choices (``oneOf`` of code and label), so the
server refuses a village or household that is not on the list at once, in the
form, instead of the run refusing it after a green "resumed". A refused answer
comes back as the next form's initial data, so nothing typed is lost.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, WithJsonSchema, create_model

from flows.control import RollCallInput
from sanqing.answers import HouseholdRollCall, VillageRollCall
from sanqing.forms import code_in, one_of, pick_list


def _pick(options: dict[str, str], *, long: bool = False) -> Any:
    """A string chosen among ``options`` (any string when there is nothing to offer): tabs,
    or for a ``long`` list a select of labels ending with the code (see sanqing.forms)."""
    if not options:
        return Annotated[str, WithJsonSchema({"type": "string"})]
    return Annotated[str, WithJsonSchema(pick_list(options) if long else one_of(options))]


def roll_call_form(
    villages: dict[str, str],
    households: dict[str, str],
    typed: list[dict[str, Any]] | None = None,
) -> type[RollCallInput]:
    """A ``RollCallInput`` whose village and household fields offer only these choices;
    ``typed`` (a refused answer) is the form's initial data."""
    household = create_model(
        "HouseholdRollCall",
        __base__=HouseholdRollCall,
        household=(
            _pick(households, long=True),
            Field(title="户", description="本村转移名单上的户：户主姓名（户号）"),
        ),
    )
    village = create_model(
        "VillageRollCall",
        __base__=VillageRollCall,
        village=(_pick(villages), Field(title="村", description="本次响应中尚未回报的村")),
        households=(
            list[household],
            Field(
                default_factory=list,
                title="逐户情况",
                description="拒绝、联系不上等例外户（也可逐户全部列出）",
            ),
        ),
    )
    initial: Any = [village.model_validate(v) for v in typed] if typed else ...
    return create_model(
        "RollCallInput",
        __base__=RollCallInput,
        villages=(
            list[village],
            Field(
                initial,
                min_length=1,
                title="各村点名",
                description="每个村一项：列出例外户，其余各户统一填报",
            ),
        ),
    )


def as_roll_calls(given: RollCallInput) -> list[VillageRollCall]:
    """The plain answers inside a pause's form (its classes are built per pause); a
    household picked from the list by its label is its code again."""
    out = []
    for v in given.villages:
        data = v.model_dump()
        for h in data.get("households", []):
            h["household"] = code_in(h["household"])
        out.append(VillageRollCall.model_validate(data))
    return out
