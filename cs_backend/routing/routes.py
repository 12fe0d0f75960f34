"""HTTP routes of /api/routing: handoff requests and their queue, agents' status and profiles, teams."""

from __future__ import annotations

from aiohttp import web

from cs_backend.api.registry import ADMIN, SERVICE_AND_STAFF, STAFF, ApiRoute, Response
from cs_backend.api.requests import parse_body, parse_id, parse_idempotent_body, parse_query
from cs_backend.api.responses import model_response
from cs_backend.api.types import EmptyQuery
from cs_backend.app_keys import CURRENT_ACCOUNT, DATABASE, ONBOARDING_CHECKLIST, RASA_CLIENT, ROUTING_ENGINE
from cs_backend.routing.models import HandoffRequest
from cs_backend.routing.packet import assemble_packet
from cs_backend.routing.schemas import (
    AgentProfileList,
    AgentProfileOut,
    AgentProfileSet,
    AgentStatusSet,
    HandoffCreate,
    HandoffOut,
    HandoffPacketOut,
    HandoffTransfer,
    QueuePage,
    QueueQuery,
    TeamCreate,
    TeamList,
    TeamOut,
    TeamUpdate,
)
from cs_backend.routing.service import Actor, AgentView, RoutingEngine


def _actor(request: web.Request) -> Actor | None:
    """The signed-in person behind the request; None for a service call."""
    account = request.get(CURRENT_ACCOUNT)
    return Actor.of(account) if account is not None else None


def _staff(request: web.Request) -> Actor:
    actor = _actor(request)
    assert actor is not None, "a STAFF route is only reached with a signed-in account"
    return actor


async def _handoff_response(
    engine: RoutingEngine, handoff: HandoffRequest, status: int = 200
) -> web.Response:
    out = HandoffOut.model_validate(handoff)
    out.queue_position = await engine.queue_position(handoff)
    return model_response(HandoffOut, out, status=status)


def _profile_out(view: AgentView) -> AgentProfileOut:
    profile = view.profile
    return AgentProfileOut(
        account_id=profile.account_id,
        display_name=view.display_name,
        team_id=profile.team_id,
        skills=profile.skills,
        languages=profile.languages,
        capacity=profile.capacity,
        status=profile.status,
        load=view.load,
        status_changed_at=profile.status_changed_at,
        last_assigned_at=profile.last_assigned_at,
    )


async def request_handoff(request: web.Request) -> web.Response:
    data, key = await parse_idempotent_body(request, HandoffCreate)
    engine = request.app[ROUTING_ENGINE]
    handoff, created = await engine.request_handoff(data, key)
    return await _handoff_response(engine, handoff, status=201 if created else 200)


async def get_handoff(request: web.Request) -> web.Response:
    engine = request.app[ROUTING_ENGINE]
    handoff = await engine.get_handoff(parse_id(request, "handoff"))
    return await _handoff_response(engine, handoff)


async def get_packet(request: web.Request) -> web.Response:
    app = request.app
    packet = await assemble_packet(
        app[DATABASE], app[ONBOARDING_CHECKLIST], app[RASA_CLIENT], parse_id(request, "handoff")
    )
    out = HandoffPacketOut.model_validate(packet)
    out.handoff.queue_position = await app[ROUTING_ENGINE].queue_position(packet.handoff)
    return model_response(HandoffPacketOut, out)


async def read_queue(request: web.Request) -> web.Response:
    query = parse_query(request.query, QueueQuery)
    engine = request.app[ROUTING_ENGINE]
    queued, total, held = await engine.queue_page(query.limit, query.offset)
    items = []
    for position, handoff in enumerate(queued, start=query.offset + 1):
        out = HandoffOut.model_validate(handoff)
        out.queue_position = position
        items.append(out)
    page = QueuePage(
        items=items,
        total=total,
        limit=query.limit,
        offset=query.offset,
        held=[HandoffOut.model_validate(h) for h in held],
    )
    return model_response(QueuePage, page)


async def accept_handoff(request: web.Request) -> web.Response:
    handoff_id = parse_id(request, "handoff")
    engine = request.app[ROUTING_ENGINE]
    return await _handoff_response(engine, await engine.accept(handoff_id, _staff(request)))


async def decline_handoff(request: web.Request) -> web.Response:
    handoff_id = parse_id(request, "handoff")
    engine = request.app[ROUTING_ENGINE]
    return await _handoff_response(engine, await engine.decline(handoff_id, _staff(request)))


async def resolve_handoff(request: web.Request) -> web.Response:
    handoff_id = parse_id(request, "handoff")
    engine = request.app[ROUTING_ENGINE]
    return await _handoff_response(engine, await engine.resolve(handoff_id, _staff(request)))


async def record_first_response(request: web.Request) -> web.Response:
    handoff_id = parse_id(request, "handoff")
    engine = request.app[ROUTING_ENGINE]
    return await _handoff_response(engine, await engine.record_first_response(handoff_id, _staff(request)))


async def cancel_handoff(request: web.Request) -> web.Response:
    handoff_id = parse_id(request, "handoff")
    engine = request.app[ROUTING_ENGINE]
    return await _handoff_response(engine, await engine.cancel(handoff_id, _actor(request)))


async def transfer_handoff(request: web.Request) -> web.Response:
    handoff_id = parse_id(request, "handoff")
    data = await parse_body(request, HandoffTransfer)
    engine = request.app[ROUTING_ENGINE]
    handoff = await engine.transfer(handoff_id, _staff(request), data.agent_id, data.team_id)
    return await _handoff_response(engine, handoff)


async def set_own_status(request: web.Request) -> web.Response:
    data = await parse_body(request, AgentStatusSet)
    view = await request.app[ROUTING_ENGINE].set_status(request[CURRENT_ACCOUNT].id, data.status)
    return model_response(AgentProfileOut, _profile_out(view))


async def set_profile(request: web.Request) -> web.Response:
    account_id = parse_id(request, "account")
    data = await parse_body(request, AgentProfileSet)
    view = await request.app[ROUTING_ENGINE].set_profile(account_id, data)
    return model_response(AgentProfileOut, _profile_out(view))


async def list_profiles(request: web.Request) -> web.Response:
    parse_query(request.query, EmptyQuery)
    items = [_profile_out(view) for view in await request.app[ROUTING_ENGINE].list_profiles()]
    return model_response(AgentProfileList, AgentProfileList(items=items))


async def create_team(request: web.Request) -> web.Response:
    data = await parse_body(request, TeamCreate)
    team = await request.app[ROUTING_ENGINE].create_team(data)
    return model_response(TeamOut, team, status=201)


async def update_team(request: web.Request) -> web.Response:
    team_id = parse_id(request, "team")
    data = await parse_body(request, TeamUpdate)
    team = await request.app[ROUTING_ENGINE].update_team(team_id, data)
    return model_response(TeamOut, team)


async def list_teams(request: web.Request) -> web.Response:
    parse_query(request.query, EmptyQuery)
    teams = await request.app[ROUTING_ENGINE].list_teams()
    return model_response(TeamList, {"items": teams})


_ONLY_THEIRS = (
    "An agent may act only on a handoff offered to or held by them (403 otherwise); an admin on any."
)

ROUTES = [
    ApiRoute(
        "POST",
        "/api/routing/handoffs",
        request_handoff,
        summary="Hand a conversation to a person: queue it and offer it to an eligible agent",
        tag="routing",
        description="Upserts the conversation (sender_id, channel) and, with email, the customer. The "
        "handoff is queued (priority, then at-risk and high-value customers, then longest waiting) and "
        "offered at once when an eligible agent is free (docs/HANDOFF.md). Publishes handoff.queued, then "
        "handoff.assigned. A team_id that names no team: 404.",
        body=HandoffCreate,
        idempotency_key=True,
        responses={
            201: Response("Handoff queued (or already offered): its state and queue position.", HandoffOut),
            200: Response("Idempotency-Key seen before: the handoff first created with it.", HandoffOut),
        },
        errors=(400, 404, 413),
    ),
    ApiRoute(
        "GET",
        "/api/routing/queue",
        read_queue,
        summary="The live queue, in the order it is served, and the handoffs held by agents",
        tag="routing",
        query=QueueQuery,
        responses={200: Response("The queue.", QueuePage)},
        errors=(400,),
        access=STAFF,
    ),
    ApiRoute(
        "GET",
        "/api/routing/handoffs/{id}",
        get_handoff,
        summary="Get a handoff, with its queue position while queued",
        tag="routing",
        description="Open to the service too: the assistant tells the customer their place in the queue.",
        responses={200: Response("The handoff.", HandoffOut)},
        errors=(404,),
        access=SERVICE_AND_STAFF,
    ),
    ApiRoute(
        "GET",
        "/api/routing/handoffs/{id}/packet",
        get_packet,
        summary="The handoff packet: what the agent needs first about the conversation and the customer",
        tag="routing",
        description="The handoff (reason, priority), a suggested priority with its reasons, the customer's "
        "profile, onboarding progress, open tickets, last CSAT and CES, churn signals, and a summary of the "
        "conversation from Rasa's tracker (intents, filled slots, last messages, messages not understood). "
        "When Rasa cannot be reached, conversation_available is false and the rest is still there. Reads "
        "only (docs/HANDOFF.md).",
        responses={200: Response("The packet.", HandoffPacketOut)},
        errors=(404,),
        access=STAFF,
    ),
    ApiRoute(
        "POST",
        "/api/routing/handoffs/{id}/accept",
        accept_handoff,
        summary="Accept a handoff offered to you: it is live with you",
        tag="routing",
        description=_ONLY_THEIRS + " Only an assigned (offered) handoff can be accepted (409).",
        responses={200: Response("The accepted handoff.", HandoffOut)},
        errors=(404, 409),
        access=STAFF,
    ),
    ApiRoute(
        "POST",
        "/api/routing/handoffs/{id}/decline",
        decline_handoff,
        summary="Decline a handoff offered to you: it goes back to the queue",
        tag="routing",
        description=_ONLY_THEIRS + " It is offered to the next eligible agent, never again to you.",
        responses={200: Response("The handoff, queued again or offered to someone else.", HandoffOut)},
        errors=(404, 409),
        access=STAFF,
    ),
    ApiRoute(
        "POST",
        "/api/routing/handoffs/{id}/first-response",
        record_first_response,
        summary="Record that you answered the customer (stops the first-response timer)",
        tag="routing",
        description=_ONLY_THEIRS
        + " Only an accepted handoff (409). The first call counts; later ones change "
        "nothing.",
        responses={200: Response("The handoff.", HandoffOut)},
        errors=(404, 409),
        access=STAFF,
    ),
    ApiRoute(
        "POST",
        "/api/routing/handoffs/{id}/resolve",
        resolve_handoff,
        summary="Resolve a handoff live with you: the conversation goes back to the bot",
        tag="routing",
        description=_ONLY_THEIRS + " Only an accepted handoff (409).",
        responses={200: Response("The resolved handoff.", HandoffOut)},
        errors=(404, 409),
        access=STAFF,
    ),
    ApiRoute(
        "POST",
        "/api/routing/handoffs/{id}/transfer",
        transfer_handoff,
        summary="Transfer a handoff to another agent, or back to the queue (of a team)",
        tag="routing",
        description=_ONLY_THEIRS + " With agent_id, that agent must be eligible now (409 otherwise) and is "
        "offered it; without, it is queued again (with team_id: for that team). You are not offered it "
        "again.",
        body=HandoffTransfer,
        responses={200: Response("The transferred handoff.", HandoffOut)},
        errors=(400, 404, 409, 413),
        access=STAFF,
    ),
    ApiRoute(
        "POST",
        "/api/routing/handoffs/{id}/cancel",
        cancel_handoff,
        summary="Cancel a handoff that is no longer wanted (the customer left, the bot took it back)",
        tag="routing",
        description=_ONLY_THEIRS + " The service may cancel any. Resolved or cancelled handoffs: 409.",
        responses={200: Response("The cancelled handoff.", HandoffOut)},
        errors=(404, 409),
        access=SERVICE_AND_STAFF,
    ),
    ApiRoute(
        "PUT",
        "/api/routing/agents/me/status",
        set_own_status,
        summary="Set your own status: online, away or offline",
        tag="routing",
        description="Only online agents are offered handoffs; going online offers what waits for you. 404 "
        "when an admin has not given your account a routing profile.",
        body=AgentStatusSet,
        responses={200: Response("Your routing profile.", AgentProfileOut)},
        errors=(400, 404, 413),
        access=STAFF,
    ),
    ApiRoute(
        "GET",
        "/api/routing/agents",
        list_profiles,
        summary="Agents' routing profiles, with their status and load",
        tag="routing",
        query=EmptyQuery,
        responses={200: Response("Every routing profile.", AgentProfileList)},
        errors=(400,),
        access=ADMIN,
    ),
    ApiRoute(
        "PUT",
        "/api/routing/agents/{id}",
        set_profile,
        summary="Create or replace the routing profile of an account (skills, languages, capacity, team)",
        tag="routing",
        description="The path id is the account's. 404 for an unknown account or team, 409 for a disabled "
        "account.",
        body=AgentProfileSet,
        responses={200: Response("The routing profile.", AgentProfileOut)},
        errors=(400, 404, 409, 413),
        access=ADMIN,
    ),
    ApiRoute(
        "GET",
        "/api/routing/teams",
        list_teams,
        summary="Teams with their time zone and business hours",
        tag="routing",
        query=EmptyQuery,
        responses={200: Response("Every team, by name.", TeamList)},
        errors=(400,),
        access=ADMIN,
    ),
    ApiRoute(
        "POST",
        "/api/routing/teams",
        create_team,
        summary="Create a team",
        tag="routing",
        body=TeamCreate,
        responses={201: Response("Team created.", TeamOut)},
        errors=(400, 409, 413),
        access=ADMIN,
    ),
    ApiRoute(
        "PATCH",
        "/api/routing/teams/{id}",
        update_team,
        summary="Change a team's name, time zone or business hours",
        tag="routing",
        body=TeamUpdate,
        responses={200: Response("The updated team.", TeamOut)},
        errors=(400, 404, 409, 413),
        access=ADMIN,
    ),
]
