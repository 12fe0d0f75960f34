"""Request and response bodies of /api/tasks."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from cs_backend.alerts.models import Kind, Status
from cs_backend.api.types import PageLimit, PageOffset, QueryModel, ResponseModel, RowId


class TaskOut(ResponseModel):
    id: int
    kind: Kind
    customer_id: int | None
    title: str
    detail: str
    source_ref: str = Field(description="What raised it, e.g. feedback:12 or health:7:<time>.")
    status: Status
    created_at: datetime
    done_at: datetime | None
    done_by: int | None = Field(description="The account that marked it done.")


class TaskQuery(QueryModel):
    status: Status | None = None
    kind: Kind | None = None
    customer_id: RowId | None = None
    limit: PageLimit = 20
    offset: PageOffset = 0


class TaskPage(ResponseModel):
    items: list[TaskOut] = Field(description="Newest first.")
    total: int = Field(description="Number of tasks matching the filters, over all pages.")
    limit: int
    offset: int
