"""HTTP routes of /api/tickets."""

from __future__ import annotations

from aiohttp import web

from cs_backend.api.registry import SERVICE_AND_STAFF, ApiRoute, Response
from cs_backend.api.requests import parse_body, parse_id, parse_idempotent_body, parse_query
from cs_backend.api.responses import created_response, model_response
from cs_backend.app_keys import DATABASE, HEALTH_SIGNALS, LIVE_EVENTS
from cs_backend.live_events import publish_safely
from cs_backend.tickets import service
from cs_backend.tickets.schemas import TicketCreate, TicketOut, TicketPage, TicketQuery, TicketStatusUpdate


async def create_ticket(request: web.Request) -> web.Response:
    data, key = await parse_idempotent_body(request, TicketCreate)
    ticket, created = await service.create_ticket(request.app[DATABASE], data, key)
    if created:
        await request.app[HEALTH_SIGNALS].publish(ticket.customer_id, "ticket.created")
    return await created_response(request, TicketOut, ticket, created, event="ticket.created")


async def get_ticket(request: web.Request) -> web.Response:
    ticket = await service.get_ticket(request.app[DATABASE], parse_id(request, "ticket"))
    return model_response(TicketOut, ticket)


async def list_tickets(request: web.Request) -> web.Response:
    query = parse_query(request.query, TicketQuery)
    page = await service.list_tickets(request.app[DATABASE], query)
    return model_response(TicketPage, page)


async def update_ticket(request: web.Request) -> web.Response:
    ticket_id = parse_id(request, "ticket")
    data = await parse_body(request, TicketStatusUpdate)
    ticket = await service.change_status(request.app[DATABASE], ticket_id, data.status)
    out = TicketOut.model_validate(ticket)
    await publish_safely(request.app[LIVE_EVENTS], "ticket.updated", out.model_dump(mode="json"))
    await request.app[HEALTH_SIGNALS].publish(ticket.customer_id, f"ticket.{ticket.status}")
    return model_response(TicketOut, out)


ROUTES = [
    ApiRoute(
        "POST",
        "/api/tickets",
        create_ticket,
        summary="Open a ticket",
        tag="tickets",
        description="Upserts the customer (by email) and, with sender_id, the conversation (sender_id, "
        "channel) in the same transaction. Publishes ticket.created after the commit.",
        body=TicketCreate,
        idempotency_key=True,
        responses={
            201: Response("Ticket created.", TicketOut),
            200: Response("Idempotency-Key seen before: the ticket first created with it.", TicketOut),
        },
        errors=(400, 413),
    ),
    ApiRoute(
        "GET",
        "/api/tickets",
        list_tickets,
        summary="List tickets, newest first",
        tag="tickets",
        description='sender_id (with optional channel) answers "my last ticket".',
        query=TicketQuery,
        responses={200: Response("A page of tickets.", TicketPage)},
        errors=(400,),
        access=SERVICE_AND_STAFF,
    ),
    ApiRoute(
        "GET",
        "/api/tickets/{id}",
        get_ticket,
        summary="Get a ticket",
        tag="tickets",
        responses={200: Response("The ticket.", TicketOut)},
        errors=(404,),
        access=SERVICE_AND_STAFF,
    ),
    ApiRoute(
        "PATCH",
        "/api/tickets/{id}",
        update_ticket,
        summary="Change a ticket's status",
        tag="tickets",
        description="Allowed: open→pending, open→resolved, pending→open, pending→resolved, resolved→closed, "
        "resolved→open. Anything else (including the same status) is 409. Publishes ticket.updated.",
        body=TicketStatusUpdate,
        responses={200: Response("The updated ticket.", TicketOut)},
        errors=(400, 404, 409, 413),
        access=SERVICE_AND_STAFF,
    ),
]
