"""JSON responses built from pydantic response models."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel


def model_response(model: type[BaseModel], source: Any, status: int = 200) -> web.Response:
    """Serialise `source` (an ORM row or a mapping) through `model`: exactly the documented fields."""
    body = model.model_validate(source, from_attributes=True).model_dump_json()
    return web.Response(text=body, status=status, content_type="application/json")
