"""Response bodies of /health/*."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class LiveStatus(BaseModel):
    status: Literal["ok"]


class ReadyStatus(BaseModel):
    status: Literal["ready", "degraded", "unavailable"] = Field(
        description='"unavailable" (503) while the database is unusable; "degraded" (200) while another '
        'dependency fails (the backend still serves requests and commits writes); else "ready".'
    )
    checks: dict[str, str] = Field(
        description='Each dependency ("database", "live_events", "routing_live_state", "rate_limits", '
        '"rasa_events", and "rasa_tracker_store" when configured): "ok", or "unavailable: <why>".'
    )
