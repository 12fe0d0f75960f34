"""HTTP routes of /api/conversations."""

from __future__ import annotations

from aiohttp import web

from cs_backend.api.registry import SERVICE_AND_STAFF, ApiRoute, Response
from cs_backend.api.requests import parse_body, parse_id
from cs_backend.api.responses import created_response, model_response
from cs_backend.app_keys import DATABASE
from cs_backend.conversations import service
from cs_backend.conversations.schemas import ConversationOut, ConversationUpsert


async def upsert_conversation(request: web.Request) -> web.Response:
    data = await parse_body(request, ConversationUpsert)
    conversation, created = await service.upsert_conversation(request.app[DATABASE], data)
    return await created_response(request, ConversationOut, conversation, created)


async def get_conversation(request: web.Request) -> web.Response:
    conversation = await service.get_conversation(request.app[DATABASE], parse_id(request, "conversation"))
    return model_response(ConversationOut, conversation)


ROUTES = [
    ApiRoute(
        "POST",
        "/api/conversations",
        upsert_conversation,
        summary="Create or refresh the conversation of a Rasa sender id and channel",
        tag="conversations",
        description="Upsert on (sender_id, channel): refreshes last_seen_at and, when email is given, "
        "attaches that customer (created if new).",
        body=ConversationUpsert,
        responses={
            201: Response("Conversation created.", ConversationOut),
            200: Response("The conversation already existed (last_seen_at refreshed).", ConversationOut),
        },
        errors=(400, 413),
    ),
    ApiRoute(
        "GET",
        "/api/conversations/{id}",
        get_conversation,
        summary="Get a conversation",
        tag="conversations",
        responses={200: Response("The conversation.", ConversationOut)},
        errors=(404,),
        access=SERVICE_AND_STAFF,
    ),
]
