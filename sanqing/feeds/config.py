"""Which feeds the rain watch polls (``config/feeds.yaml``), validated on load."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sanqing.errors import ConfigError, describe_validation
from sanqing.feeds.fetch import FEED_DEADLINE_S
from sanqing.settings import get_settings

DEFAULT_POLL_INTERVAL = timedelta(minutes=5)


class FeedSource(BaseModel):
    """One feed: a CAP alert/index URL or a QWeather endpoint, and what area it stands for."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(title="名称")
    url: str = Field(title="地址", description="http(s) URL or file path")
    area_codes: list[str] = Field(
        default_factory=list,
        title="区划代码",
        description="for feeds that carry no area (QWeather): the division codes the location stands for",
    )
    area_desc: str = Field("", title="区域")
    deadline_s: float = Field(
        FEED_DEADLINE_S,
        gt=0,
        le=3600,
        title="时限（秒）",
        description="the whole poll of this feed (index and linked messages) is given up after this",
    )


class FeedsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    poll_minutes: int = Field(int(DEFAULT_POLL_INTERVAL.total_seconds() // 60), ge=1, le=1440)
    feeds: list[FeedSource] = Field(default_factory=list)


def load_feeds(path: Path | None = None) -> FeedsConfig:
    """Load ``config/feeds.yaml`` (no file: no feeds), naming the file, key and reason on error."""
    path = path or get_settings().config_dir / "feeds.yaml"
    if not path.is_file():
        return FeedsConfig()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return FeedsConfig.model_validate(data)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid feeds file\n  {describe_validation(exc)}") from exc
