"""HTTP routes of /api/canned-responses: agents and admins list them, admins maintain them."""

from __future__ import annotations

from aiohttp import web

from cs_backend.api.registry import ADMIN, STAFF, ApiRoute, Response
from cs_backend.api.requests import parse_body, parse_id, parse_query
from cs_backend.api.responses import model_response
from cs_backend.app_keys import DATABASE
from cs_backend.canned_responses import service
from cs_backend.canned_responses.schemas import (
    CannedResponseCreate,
    CannedResponseList,
    CannedResponseOut,
    CannedResponseQuery,
    CannedResponseUpdate,
)


async def list_canned_responses(request: web.Request) -> web.Response:
    query = parse_query(request.query, CannedResponseQuery)
    items = await service.list_responses(request.app[DATABASE], query.language)
    return model_response(CannedResponseList, {"items": items})


async def create_canned_response(request: web.Request) -> web.Response:
    data = await parse_body(request, CannedResponseCreate)
    response = await service.create_response(request.app[DATABASE], data)
    return model_response(CannedResponseOut, response, status=201)


async def update_canned_response(request: web.Request) -> web.Response:
    response_id = parse_id(request, "canned response")
    change = await parse_body(request, CannedResponseUpdate)
    response = await service.update_response(request.app[DATABASE], response_id, change)
    return model_response(CannedResponseOut, response)


async def delete_canned_response(request: web.Request) -> web.Response:
    response_id = parse_id(request, "canned response")
    await service.delete_response(request.app[DATABASE], response_id)
    return web.Response(status=204)


_SHORTCUT_TAKEN = "A shortcut another response has: 409 naming `shortcut`, and nothing changes."

ROUTES = [
    ApiRoute(
        "GET",
        "/api/canned-responses",
        list_canned_responses,
        summary="Canned responses, by shortcut",
        tag="canned-responses",
        description='What the agent console offers when an agent types "/" and a shortcut in the reply box.',
        query=CannedResponseQuery,
        responses={200: Response("Every canned response (of the language asked).", CannedResponseList)},
        errors=(400,),
        access=STAFF,
    ),
    ApiRoute(
        "POST",
        "/api/canned-responses",
        create_canned_response,
        summary="Create a canned response",
        tag="canned-responses",
        description=_SHORTCUT_TAKEN,
        body=CannedResponseCreate,
        responses={201: Response("Created.", CannedResponseOut)},
        errors=(400, 409, 413),
        access=ADMIN,
    ),
    ApiRoute(
        "PATCH",
        "/api/canned-responses/{id}",
        update_canned_response,
        summary="Change a canned response's title, shortcut, text or language",
        tag="canned-responses",
        description=_SHORTCUT_TAKEN,
        body=CannedResponseUpdate,
        responses={200: Response("The changed response.", CannedResponseOut)},
        errors=(400, 404, 409, 413),
        access=ADMIN,
    ),
    ApiRoute(
        "DELETE",
        "/api/canned-responses/{id}",
        delete_canned_response,
        summary="Delete a canned response",
        tag="canned-responses",
        responses={204: Response("Deleted.")},
        errors=(404,),
        access=ADMIN,
    ),
]
