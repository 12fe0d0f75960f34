"""JSON responses built from pydantic response models, including the answer of a create that may find its
row already there (and publishes the new row's live event)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from cs_backend.app_keys import LIVE_EVENTS
from cs_backend.live_events import publish_safely


def model_response(model: type[BaseModel], source: Any, status: int = 200) -> web.Response:
    """Serialise `source` (an ORM row or a mapping) through `model`: exactly the documented fields."""
    body = model.model_validate(source, from_attributes=True).model_dump_json()
    return web.Response(text=body, status=status, content_type="application/json")


async def created_response(
    request: web.Request, model: type[BaseModel], row: Any, created: bool, *, event: str | None = None
) -> web.Response:
    """201 with the row just created, or 200 with the one that was there already (an upsert's existing row,
    the row first created with a repeated Idempotency-Key).

    With `event`, a new row is also published as that live event, with the body the client gets. The caller
    has committed: subscribers can already read what they are told about. An existing row was published when
    it was created, so a repeated request publishes nothing.
    """
    out = model.model_validate(row, from_attributes=True)
    if created and event is not None:
        await publish_safely(request.app[LIVE_EVENTS], event, out.model_dump(mode="json"))
    return model_response(model, out, status=201 if created else 200)
