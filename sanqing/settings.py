"""Settings from the environment (prefix ``SANQING_``), with embedded defaults."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The checkout (or installed tree) that holds ``config/`` and ``templates/``.
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = Path.home() / ".sanqing"
DEFAULT_TOWN = "jifeng"
DEFAULT_LOCALE = "zh-CN"
SUPPORTED_LOCALES = ("zh-CN", "en")


class Settings(BaseSettings):
    """Where sanqing keeps its data and finds its configuration."""

    model_config = SettingsConfigDict(env_prefix="SANQING_", extra="ignore")

    data_dir: Path = Field(DEFAULT_DATA_DIR, description="App database, Prefect home, outputs.")
    database_url: str | None = Field(
        None, description="Any SQLAlchemy URL; default: SQLite file in the data directory."
    )
    config_dir: Path = REPO_ROOT / "config"
    templates_dir: Path = REPO_ROOT / "templates"
    locale: str = DEFAULT_LOCALE
    timezone: str = "Asia/Shanghai"
    feed_timeout_s: float = Field(15.0, gt=0, description="Timeout of one feed request.")
    pause_poll_s: int = Field(
        2, ge=1, le=60, description="How often a run waiting for an answer checks for it."
    )

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'sanqing.db'}"

    @property
    def plans_dir(self) -> Path:
        return self.config_dir / "plans"

    @property
    def towns_dir(self) -> Path:
        return self.config_dir / "towns"

    @property
    def scenarios_dir(self) -> Path:
        return self.config_dir / "scenarios"


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (tests call ``get_settings.cache_clear()``)."""
    return Settings()
