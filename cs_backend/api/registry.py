"""The route registry every domain uses: each domain's `ROUTES` lists `ApiRoute`s, and `add_api_routes` adds
them to the aiohttp router and records them on the app, where the OpenAPI document (api/openapi.py) and the
route table of docs/ARCHITECTURE.md (cs_backend/reference.py) are built from them: neither can forget a route.
Each route declares who may call it (`access`); the auth middleware (cs_backend/auth) enforces it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel

from cs_backend.app_keys import API_ROUTES, ROUTE_ACCESS

# Who can be behind a request. "service": a caller that signs its requests with the service secret
# (cs_backend/auth); "agent" and "admin": a person signed in with a bearer session (cs_backend/accounts).
Principal = Literal["service", "agent", "admin"]
PRINCIPALS: Final[tuple[Principal, ...]] = ("service", "agent", "admin")
# Who may call a route: "public" (anyone, on purpose: health checks, the OpenAPI document, signing in), or the
# principals allowed; any other authenticated principal gets 403.
Access = Literal["public"] | frozenset[Principal]
PUBLIC: Final = "public"
SERVICE: Final[frozenset[Principal]] = frozenset({"service"})
STAFF: Final[frozenset[Principal]] = frozenset({"agent", "admin"})
SERVICE_AND_STAFF: Final[frozenset[Principal]] = SERVICE | STAFF
ADMIN: Final[frozenset[Principal]] = frozenset({"admin"})


def access_label(access: Access) -> str:
    """How the docs show an access: "public", or the allowed principals in PRINCIPALS order."""
    if access == PUBLIC:
        return PUBLIC
    return ", ".join(principal for principal in PRINCIPALS if principal in access)


@dataclass(frozen=True)
class Response:
    description: str
    model: type[BaseModel] | None = None
    # For non-JSON responses (the event stream).
    media_type: str = "application/json"


@dataclass(frozen=True)
class ApiRoute:
    """An aiohttp route plus what the OpenAPI document says about it."""

    method: Literal["GET", "POST", "PATCH", "PUT", "DELETE"]
    path: str
    handler: Handler
    summary: str
    tag: str
    responses: Mapping[int, Response]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    idempotency_key: bool = False
    # Error statuses besides 500, which every route can return.
    errors: Sequence[int] = field(default_factory=tuple)
    description: str | None = None
    # The service only, unless a route says otherwise: a new route cannot be left open by forgetting this.
    access: Access = SERVICE

    @property
    def path_parameters(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.path)


def add_api_routes(app: web.Application, routes: Sequence[ApiRoute]) -> None:
    for route in routes:
        aiohttp_route = app.router.add_route(route.method, route.path, route.handler)
        app[API_ROUTES].append(route)
        app[ROUTE_ACCESS][aiohttp_route] = route.access
