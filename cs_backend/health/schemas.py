"""Response bodies of /health/*."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class LiveStatus(BaseModel):
    status: Literal["ok"]


class ReadyStatus(BaseModel):
    status: Literal["ready", "unavailable"]
    checks: dict[str, str] = Field(
        description='Each dependency ("database", "live_events"): "ok", or what is wrong with it.'
    )
