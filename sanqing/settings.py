"""Settings from the environment (prefix ``SANQING_``), with embedded defaults."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, NonNegativeFloat, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_HERE = Path(__file__).resolve().parent
#: The checkout: ``config/`` and ``templates/`` beside the packages.
REPO_ROOT = _HERE.parent
#: Where a wheel ships them (``sanqing/_data/``; see pyproject.toml's force-include).
SHIPPED = _HERE / "_data"


def shipped(name: str) -> Path:
    """``config/`` or ``templates/`` of the checkout, else the copy the wheel ships."""
    in_checkout = REPO_ROOT / name
    if (REPO_ROOT / "pyproject.toml").is_file() and in_checkout.is_dir():
        return in_checkout
    return SHIPPED / name


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
    config_dir: Path = Field(
        default_factory=lambda: shipped("config"),
        description="Plans, towns, scenarios, feeds; default: the checkout's or the wheel's.",
    )
    templates_dir: Path = Field(
        default_factory=lambda: shipped("templates"),
        description="Notice and report templates; default: the checkout's or the wheel's.",
    )
    locale: str = DEFAULT_LOCALE
    timezone: str = "Asia/Shanghai"
    feed_timeout_s: float = Field(15.0, gt=0, description="Timeout of one feed request.")
    # Delivery channels (issue 5). Unset endpoints: that channel writes files under the
    # data directory (outbox/<channel>/), so the drill needs no gateway.
    sms_url: str | None = Field(None, description="SMS gateway: POST JSON {to, text, …}.")
    sms_key: str | None = Field(None, description="Bearer token of the SMS gateway.")
    sms_sender: str | None = Field(None, description="Sender name or number for the gateway.")
    sms_template: str | None = Field(None, description="Gateway template id, if it needs one.")
    sms_rate_per_s: float = Field(20, ge=0, description="SMS per second at most (0: no limit).")
    wecom_webhook_url: str | None = Field(None, description="WeCom group robot (village groups).")
    dingtalk_webhook_url: str | None = Field(None, description="DingTalk group robot (cadres).")
    dingtalk_secret: str | None = Field(None, description="DingTalk 加签 secret, if signed.")
    robot_rate_per_s: float = Field(0.3, ge=0, description="Group-robot posts per second.")
    county_report_url: str | None = Field(None, description="County receiver of reports.")
    county_report_key: str | None = Field(None, description="Bearer token of the receiver.")
    ack_url: str | None = Field(
        None,
        description="Where cadres' 收到 links point (the ack receiver as they reach it); unset: no link.",
    )
    ack_secret: str | None = Field(None, description="Signs the 收到 links (HMAC-SHA256).")
    board_url: str | None = Field(
        None,
        description="The situation board as browsers reach it (`sanqing serve` sets it for "
        "its runs): the runs link their print folder there.",
    )
    receipt_token: str | None = Field(
        None, description="Bearer token the SMS gateway sends with its delivery receipts."
    )
    ack_port: int = Field(8765, ge=1, le=65535, description="Port of `sanqing ack-server`.")
    channel_timeout_s: float = Field(10, gt=0, description="Timeout of one delivery request.")
    message_ttl_hours: float = Field(
        6, gt=0, description="A message not delivered this long after it was written expires."
    )
    delivery_max_attempts: int = Field(6, ge=1, description="Tries per message before failed.")
    pause_poll_s: int = Field(
        2, ge=1, le=60, description="How often a run waiting for an answer checks for it."
    )
    # --- delivery under faults (issue 9): retries, 收到 links, the ack server ----------------
    delivery_backoff_s: tuple[NonNegativeFloat, ...] | None = Field(
        None,
        min_length=1,
        description="Seconds before the n-th retry, as JSON ([5, 30, 120]); the last repeats. "
        "Unset: 5 s, 30 s, 2 min, 5 min, 15 min.",
    )
    ack_link_ttl_hours: float = Field(
        24, gt=0, description="A 收到 link works this long after the task was sent."
    )
    ack_workers: int = Field(
        16, ge=1, le=256, description="Requests the ack server handles at once."
    )
    ack_socket_timeout_s: float = Field(
        10, gt=0, description="The ack server drops a connection silent this long."
    )

    @field_validator("config_dir", "templates_dir")
    @classmethod
    def _a_folder(cls, value: Path, info: ValidationInfo) -> Path:
        """Refuse at start a folder that is not there, naming the variable that sets it."""
        if not value.is_dir():
            env = f"SANQING_{(info.field_name or '').upper()}"
            what = (info.field_name or "").removesuffix("_dir")
            raise ValueError(
                f"{value} is not a folder: set {env} to the folder of sanqing's {what}"
            )
        return value

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
