"""The UI form of flood-response speaks the coordinator's language (no server needed)."""

from __future__ import annotations

from prefect.utilities.callables import parameter_schema

from flows.flood_response import flood_response


def test_flood_response_form_fields_have_chinese_titles_and_enums() -> None:
    schema = parameter_schema(flood_response.fn).model_dump()
    props = schema["properties"]
    titles = {name: p.get("title") for name, p in props.items()}
    assert titles["town"] == "乡镇" and titles["level"] == "响应级别" and titles["drill"] == "演练"
    assert all(t and t != name for name, t in titles.items())  # every field titled, not just named
    levels = schema["definitions"]["Level"]["enum"]
    assert levels == ["IV", "III", "II", "I"]
    assert props["town"]["default"] == "jifeng" and props["drill"]["default"] is False
    # the description the coordinator reads in the UI is the flow's docstring, in Chinese first
    assert flood_response.description and flood_response.description.startswith("防汛应急响应")
