"""Response body of GET /api/openapi.json."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class OpenApiDocument(BaseModel):
    """An OpenAPI 3.1 document (described loosely: it describes itself)."""

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]
