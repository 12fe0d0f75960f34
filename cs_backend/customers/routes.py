"""HTTP routes of /api/customers."""

from __future__ import annotations

from aiohttp import web

from cs_backend.api.registry import SERVICE_AND_STAFF, ApiRoute, Response
from cs_backend.api.requests import parse_body, parse_id
from cs_backend.api.responses import created_response, model_response
from cs_backend.app_keys import DATABASE
from cs_backend.customers import service
from cs_backend.customers.schemas import CustomerCreate, CustomerOut


async def upsert_customer(request: web.Request) -> web.Response:
    data = await parse_body(request, CustomerCreate)
    customer, created = await service.upsert_customer(request.app[DATABASE], data)
    return await created_response(request, CustomerOut, customer, created)


async def get_customer(request: web.Request) -> web.Response:
    customer = await service.get_customer(request.app[DATABASE], parse_id(request, "customer"))
    return model_response(CustomerOut, customer)


ROUTES = [
    ApiRoute(
        "POST",
        "/api/customers",
        upsert_customer,
        summary="Create the customer of an email, or return the existing one",
        tag="customers",
        body=CustomerCreate,
        responses={
            201: Response("Customer created.", CustomerOut),
            200: Response("A customer with this email already existed.", CustomerOut),
        },
        errors=(400, 413),
    ),
    ApiRoute(
        "GET",
        "/api/customers/{id}",
        get_customer,
        summary="Get a customer",
        tag="customers",
        responses={200: Response("The customer.", CustomerOut)},
        errors=(404,),
        access=SERVICE_AND_STAFF,
    ),
]
