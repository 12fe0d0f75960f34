"""HTTP routes of a customer's export and deletion (admins only)."""

from __future__ import annotations

from aiohttp import web

from cs_backend.api.registry import ADMIN, ApiRoute, Response
from cs_backend.api.requests import parse_id
from cs_backend.api.responses import model_response
from cs_backend.app_keys import CURRENT_ACCOUNT, DATABASE, EVENT_STORE, RASA_CLIENT, TRACKER_STORE
from cs_backend.privacy import service
from cs_backend.privacy.schemas import CustomerDeletionOut, CustomerExport


async def export_customer(request: web.Request) -> web.Response:
    app = request.app
    export = await service.export_customer(
        app[DATABASE], app[RASA_CLIENT], app[EVENT_STORE], parse_id(request, "customer")
    )
    return model_response(CustomerExport, export)


async def delete_customer(request: web.Request) -> web.Response:
    app = request.app
    account = request.get(CURRENT_ACCOUNT)
    deletion = await service.delete_customer(
        app[DATABASE],
        app[RASA_CLIENT],
        app[EVENT_STORE],
        parse_id(request, "customer"),
        account_id=account.id if account is not None else None,
        tracker_store=app[TRACKER_STORE],
    )
    return model_response(CustomerDeletionOut, deletion)


ROUTES = [
    ApiRoute(
        "GET",
        "/api/customers/{id}/export",
        export_customer,
        summary="Export everything stored about a customer (JSON)",
        tag="privacy",
        description="Every cs_backend row of the customer, and each of their conversations' Rasa tracker "
        "and event-store events. 503 when Rasa or the event store cannot be read (an export is complete "
        "or none).",
        responses={200: Response("The customer's data.", CustomerExport)},
        errors=(404, 503),
        access=ADMIN,
    ),
    ApiRoute(
        "DELETE",
        "/api/customers/{id}",
        delete_customer,
        summary="Delete everything stored about a customer",
        tag="privacy",
        description="Empties the Rasa trackers of their conversations, deletes their event-store rows, then "
        "their cs_backend rows, and records who deleted which customer id. 503 when Rasa or the event store "
        "cannot be reached: cs_backend keeps every row and the message says what was done; asking again "
        "finishes the deletion.",
        responses={200: Response("The customer's data is deleted.", CustomerDeletionOut)},
        errors=(404, 503),
        access=ADMIN,
    ),
]
