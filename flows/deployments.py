"""The deployments the control room serves: what a coordinator can start from the UI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flows.drill import drill
from flows.flood_response import flood_response
from flows.rain_watch import rain_watch
from sanqing.feeds.config import load_feeds

#: Flow runs one served process runs at once (a town's response is one run).
DEFAULT_SERVE_LIMIT = 4


def deployments() -> list[Any]:
    """flood-response (a form), drill (training) and rain-watch (on the feeds' interval)."""
    return [
        flood_response.to_deployment(
            name="flood-response",
            description="防汛应急响应：选择乡镇和响应级别（或填写预警），启动预案。",
            tags=["flood"],
        ),
        drill.to_deployment(
            name="drill", description="应急演练：按演练脚本运行防汛预案。", tags=["drill"]
        ),
        rain_watch.to_deployment(
            name="rain-watch",
            interval=timedelta(minutes=load_feeds().poll_minutes),
            description="雨情值守：轮询预警信息源，自动启动、调整或结束响应。",
            tags=["watch"],
        ),
    ]


def serve_all(limit: int = DEFAULT_SERVE_LIMIT) -> None:
    """Serve every deployment from this process until interrupted."""
    from prefect import serve

    serve(*deployments(), limit=limit)
