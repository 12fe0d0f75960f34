"""HTTP routes of /api/identities and GET /api/customers/{id}/identities."""

from __future__ import annotations

import logging
from datetime import timedelta

from aiohttp import web

from cs_backend.api.errors import ApiError, NotFound
from cs_backend.api.registry import PUBLIC, SERVICE, STAFF, ApiRoute, Response
from cs_backend.api.requests import parse_body, parse_id
from cs_backend.api.responses import model_response
from cs_backend.app_keys import CURRENT_ACCOUNT, DATABASE, SETTINGS
from cs_backend.db import utcnow
from cs_backend.identities import service
from cs_backend.identities.schemas import (
    BindingOut,
    CustomerIdentitiesOut,
    IdentityOut,
    LinkCodeOut,
    LinkCodeRedemption,
    LinkedOut,
    WebsiteBinding,
    WebsiteUnlink,
    WebsiteUserProof,
)
from cs_backend.identities.website_hash import verified

logger = logging.getLogger(__name__)


class UserHashRefused(ApiError):
    status = 401


def _check_proof(request: web.Request, proof: WebsiteUserProof) -> None:
    """The website user's hash must verify under WEBSITE_IDENTITY_SECRET (logged without the hash)."""
    if not verified(request.app[SETTINGS].website_identity_secret, proof.user_id, proof.user_hash):
        logger.warning("website user proof refused (user_hash does not verify, or no secret is configured)")
        raise UserHashRefused("user_hash does not verify", {"user_hash": "not this user's hash"})


async def bind_website_user(request: web.Request) -> web.Response:
    # Idempotent by its state (binding again changes nothing), so it takes no Idempotency-Key: a 422 for a key
    # reused with another body is one it could never give. The outbox's key header is ignored.
    data = await parse_body(request, WebsiteBinding)
    attached = await service.bind_website_user(
        request.app[DATABASE], data.user_id, data.sender_id, data.channel, utcnow()
    )
    return model_response(BindingOut, attached)


async def issue_link_code(request: web.Request) -> web.Response:
    proof = await parse_body(request, WebsiteUserProof)
    _check_proof(request, proof)
    settings = request.app[SETTINGS]
    issued = await service.issue_link_code(
        request.app[DATABASE], proof.user_id, timedelta(minutes=settings.link_code_minutes), utcnow()
    )
    username = settings.telegram_bot_username
    telegram_link = f"https://t.me/{username}?start={issued.deep_link_token}" if username else None
    body = {"code": issued.code, "telegram_link": telegram_link, "expires_at": issued.expires_at}
    return model_response(LinkCodeOut, body, status=201)


async def redeem_link_code(request: web.Request) -> web.Response:
    # Idempotent by its state, like bind_website_user: redeeming for the customer already linked answers 200.
    data = await parse_body(request, LinkCodeRedemption)
    linked = await service.redeem_link_code(
        request.app[DATABASE], data.code, data.sender_id, data.channel, utcnow()
    )
    return model_response(LinkedOut, linked)


async def unlink_identity(request: web.Request) -> web.Response:
    actor = f"account:{request[CURRENT_ACCOUNT].id}"
    identity = await service.unlink_identity(
        request.app[DATABASE], parse_id(request, "identity"), actor, utcnow()
    )
    return model_response(IdentityOut, identity)


async def unlink_own_identity(request: web.Request) -> web.Response:
    data = await parse_body(request, WebsiteUnlink)
    _check_proof(request, data)
    database = request.app[DATABASE]
    own = await service.website_customer_id(database, data.user_id)
    identities = (await service.identities_of(database, own))[0] if own is not None else []
    if not any(identity.id == data.identity_id and identity.kind != "website" for identity in identities):
        # Another customer's identity is answered like a missing one: nothing to learn by guessing ids.
        raise NotFound(f"identity {data.identity_id} not found", {"identity_id": "not yours"})
    identity = await service.unlink_identity(database, data.identity_id, "customer", utcnow())
    return model_response(IdentityOut, identity)


async def get_customer_identities(request: web.Request) -> web.Response:
    identities, events = await service.identities_of(request.app[DATABASE], parse_id(request, "customer"))
    return model_response(CustomerIdentitiesOut, {"identities": identities, "events": events})


ROUTES = [
    ApiRoute(
        "POST",
        "/api/identities/website/bindings",
        bind_website_user,
        summary="Bind a conversation to the verified website user's customer (anonymous customer merged in)",
        tag="identities",
        body=WebsiteBinding,
        responses={200: Response("The conversation is the customer's.", BindingOut)},
        errors=(400, 409, 413),
        access=SERVICE,
    ),
    ApiRoute(
        "POST",
        "/api/identities/link-codes",
        issue_link_code,
        summary="A one-time code (and Telegram deep link) for a website user to link Slack or Telegram",
        tag="identities",
        body=WebsiteUserProof,
        responses={201: Response("A new code, single use, expiring.", LinkCodeOut)},
        errors=(400, 401, 413, 429),
        description="Public on purpose: the body proves the user with the HMAC the website's server made "
        "(user_hash under WEBSITE_IDENTITY_SECRET), the one its page gives the chat widget.",
        access=PUBLIC,
    ),
    ApiRoute(
        "POST",
        "/api/identities/link-codes/redeem",
        redeem_link_code,
        summary="Link a Slack or Telegram user to the customer of a link code",
        tag="identities",
        body=LinkCodeRedemption,
        responses={200: Response("Linked (or linked already to this customer).", LinkedOut)},
        errors=(400, 404, 409, 413, 429),
        access=SERVICE,
    ),
    ApiRoute(
        "POST",
        "/api/identities/{id}/unlink",
        unlink_identity,
        summary="Undo a link (audited)",
        tag="identities",
        responses={200: Response("The identity, unlinked.", IdentityOut)},
        errors=(404,),
        access=STAFF,
    ),
    ApiRoute(
        "POST",
        "/api/identities/website/unlink",
        unlink_own_identity,
        summary="A website user undoes a link of their own (audited)",
        tag="identities",
        body=WebsiteUnlink,
        responses={200: Response("The identity, unlinked.", IdentityOut)},
        errors=(400, 401, 404, 413),
        description="Public on purpose: the body proves the user (user_hash), as for link codes.",
        access=PUBLIC,
    ),
    ApiRoute(
        "GET",
        "/api/customers/{id}/identities",
        get_customer_identities,
        summary="A customer's identities and their audit",
        tag="identities",
        responses={200: Response("Identities, active and unlinked, and the audit.", CustomerIdentitiesOut)},
        errors=(404,),
        access=STAFF,
    ),
]
