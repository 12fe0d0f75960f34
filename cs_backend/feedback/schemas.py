"""Request and response bodies of /api/feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from cs_backend.api.types import (
    STORABLE,
    ApiModel,
    Channel,
    PageLimit,
    PageOffset,
    QueryModel,
    ResponseModel,
    RowId,
    SenderId,
    trimmed,
)
from cs_backend.feedback.models import SCORE_RANGES, Kind, Resolver

Comment = Annotated[str, trimmed(2000, min_length=0), STORABLE]
Intent = Annotated[str, trimmed(200), STORABLE]


class FeedbackCreate(ApiModel):
    # _score_in_kind_range's rule: csat scores 1-5, ces scores 1-7.
    schema_rules = {
        "oneOf": [
            {"properties": {"kind": {"const": kind}, "score": {"minimum": low, "maximum": high}}}
            for kind, (low, high) in SCORE_RANGES.items()
        ]
    }
    kind: Kind = Field(description="csat (score 1-5) or ces (customer effort score, 1-7).")
    score: int = Field(
        description="1-5 for csat, 1-7 for ces.", json_schema_extra={"minimum": 1, "maximum": 7}
    )
    comment: Comment | None = Field(
        default=None, description="Up to 2000 characters; empty means no comment."
    )
    ticket_id: RowId | None = Field(default=None, description="Must be an existing ticket.")
    sender_id: SenderId | None = Field(
        default=None, description="Rasa sender id: links the rating to the conversation (sender_id, channel)."
    )
    channel: Channel = Field(default="api", description="null or absent means api.")
    intent: Intent | None = Field(default=None, description="The intent the rating is about, for reporting.")
    resolver: Resolver = Field(default="bot", description="Who resolved the request: bot or agent.")
    agent_id: RowId | None = Field(
        default=None, description="With resolver agent: the account of the agent (must exist)."
    )
    handoff_id: RowId | None = Field(
        default=None,
        description="With resolver agent: the handoff (must exist); without sender_id or ticket_id the "
        "rating goes with the handoff's conversation.",
    )

    @field_validator("score")
    @classmethod
    def _score_in_kind_range(cls, score: int, info: ValidationInfo) -> int:
        # Runs after `kind` (declared first), so the range is the kind's; with an invalid kind (reported on
        # its own) only the widest range is checked.
        kind = info.data.get("kind")
        low, high = SCORE_RANGES.get(kind, (1, 7)) if isinstance(kind, str) else (1, 7)
        if not low <= score <= high:
            prefix = f"{kind} score" if kind in SCORE_RANGES else "score"
            raise PydanticCustomError(
                "score_range",
                "{prefix} must be between {low} and {high}",
                {"prefix": prefix, "low": low, "high": high},
            )
        return score

    @field_validator("comment")
    @classmethod
    def _empty_comment_is_none(cls, comment: str | None) -> str | None:
        return comment or None


class FeedbackOut(ResponseModel):
    id: int
    kind: Kind
    score: int
    comment: str | None
    ticket_id: int | None
    conversation_id: int | None
    channel: str
    intent: str | None
    resolver: Resolver
    agent_id: int | None
    handoff_id: int | None
    created_at: datetime


class FeedbackQuery(QueryModel):
    kind: Kind | None = None
    ticket_id: RowId | None = None
    limit: PageLimit = 20
    offset: PageOffset = 0


class FeedbackPage(ResponseModel):
    items: list[FeedbackOut] = Field(description="Newest first.")
    total: int = Field(description="Number of ratings matching the filters, over all pages.")
    limit: int
    offset: int
