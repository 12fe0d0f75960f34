"""HTTP routes of /api/routing: handoff requests and their queue, agents' status and profiles, teams."""

from __future__ import annotations

from aiohttp import web

from cs_backend.api.registry import ADMIN, SERVICE_AND_STAFF, STAFF, ApiRoute, Response
from cs_backend.api.requests import (
    parse_body,
    parse_id,
    parse_idempotent_body,
    parse_query,
)
from cs_backend.api.responses import model_response
from cs_backend.api.types import EmptyQuery
from cs_backend.app_keys import (
    CURRENT_ACCOUNT,
    DATABASE,
    HANDOFF_MESSAGING,
    HEALTH_SIGNALS,
    LIVE_EVENTS,
    ONBOARDING_CHECKLIST,
    RASA_CLIENT,
    ROUTING_ENGINE,
)
from cs_backend.routing.handoff_view import handoff_out, handoffs_out
from cs_backend.routing.models import HandoffRequest
from cs_backend.routing.packet import assemble_packet
from cs_backend.routing.position_updates import record_told
from cs_backend.routing.schemas import (
    ActiveHandoffQuery,
    AgentMessageCreate,
    AgentProfileList,
    AgentProfileOut,
    AgentProfileSet,
    AgentStatusSet,
    CustomerMessageCreate,
    CustomerMessageResult,
    HandoffCreate,
    HandoffMessageList,
    HandoffMessageOut,
    HandoffOut,
    HandoffPacketOut,
    HandoffTicketCreate,
    HandoffTransfer,
    NoteCreate,
    QueuePage,
    QueueQuery,
    TeamCreate,
    TeamList,
    TeamOut,
    TeamUpdate,
)
from cs_backend.routing.service import Actor, AgentView, RoutingEngine
from cs_backend.routing.unavailable import open_ticket


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
    return model_response(HandoffOut, await handoff_out(engine, handoff), status=status)


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
    app = request.app
    engine = app[ROUTING_ENGINE]
    handoff, created = await engine.request_handoff(data, key)
    if handoff.unavailable is not None and handoff.ticket_id is None:
        handoff, _ = await open_ticket(
            app[DATABASE],
            app[ONBOARDING_CHECKLIST],
            app[RASA_CLIENT],
            app[LIVE_EVENTS],
            handoff.id,
            data.email,
        )
    out = await handoff_out(engine, handoff)
    if created:
        await app[HEALTH_SIGNALS].publish(handoff.customer_id, "handoff.requested")
    if created and out.queue_position is not None:
        # The bot tells the customer this answer: the position updates start from it.
        await record_told(app[DATABASE], handoff.id, out.queue_position, engine.clock())
    return model_response(HandoffOut, out, status=201 if created else 200)


async def open_handoff_ticket(request: web.Request) -> web.Response:
    handoff_id = parse_id(request, "handoff")
    data = await parse_body(request, HandoffTicketCreate)
    app = request.app
    handoff, created = await open_ticket(
        app[DATABASE], app[ONBOARDING_CHECKLIST], app[RASA_CLIENT], app[LIVE_EVENTS], handoff_id, data.email
    )
    return await _handoff_response(app[ROUTING_ENGINE], handoff, status=201 if created else 200)


async def active_handoff(request: web.Request) -> web.Response:
    query = parse_query(request.query, ActiveHandoffQuery)
    engine = request.app[ROUTING_ENGINE]
    return await _handoff_response(engine, await engine.active_handoff(query.sender_id))


async def add_customer_message(request: web.Request) -> web.Response:
    handoff_id = parse_id(request, "handoff")
    data = await parse_body(request, CustomerMessageCreate)
    app = request.app
    handoff, stored = await app[HANDOFF_MESSAGING].add_customer_message(
        handoff_id, data.text, data.message_id
    )
    result = CustomerMessageResult(handoff=await handoff_out(app[ROUTING_ENGINE], handoff), stored=stored)
    return model_response(CustomerMessageResult, result)


async def list_messages(request: web.Request) -> web.Response:
    handoff_id = parse_id(request, "handoff")
    parse_query(request.query, EmptyQuery)
    messages = await request.app[HANDOFF_MESSAGING].transcript(handoff_id)
    return model_response(HandoffMessageList, {"items": messages})


async def send_agent_message(request: web.Request) -> web.Response:
    handoff_id = parse_id(request, "handoff")
    data = await parse_body(request, AgentMessageCreate)
    messaging = request.app[HANDOFF_MESSAGING]
    message = await messaging.send_agent_message(handoff_id, _staff(request), data.text, data.client_id)
    return model_response(HandoffMessageOut, message, status=201)


async def add_note(request: web.Request) -> web.Response:
    handoff_id = parse_id(request, "handoff")
    data = await parse_body(request, NoteCreate)
    note = await request.app[HANDOFF_MESSAGING].add_note(handoff_id, _staff(request), data.text)
    return model_response(HandoffMessageOut, note, status=201)


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
    out.handoff = await handoff_out(app[ROUTING_ENGINE], packet.handoff)
    return model_response(HandoffPacketOut, out)


async def read_queue(request: web.Request) -> web.Response:
    query = parse_query(request.query, QueueQuery)
    engine = request.app[ROUTING_ENGINE]
    queued, total, held = await engine.queue_page(query.limit, query.offset)
    positions = range(query.offset + 1, query.offset + 1 + len(queued))
    page = QueuePage(
        items=await handoffs_out(engine, queued, list(positions)),
        total=total,
        limit=query.limit,
        offset=query.offset,
        held=await handoffs_out(engine, held, [None] * len(held)),
    )
    return model_response(QueuePage, page)


async def accept_handoff(request: web.Request) -> web.Response:
    handoff_id = parse_id(request, "handoff")
    engine = request.app[ROUTING_ENGINE]
    handoff = await engine.accept(handoff_id, _staff(request))
    await request.app[HANDOFF_MESSAGING].accepted(handoff)
    return await _handoff_response(engine, handoff)


async def decline_handoff(request: web.Request) -> web.Response:
    handoff_id = parse_id(request, "handoff")
    engine = request.app[ROUTING_ENGINE]
    return await _handoff_response(engine, await engine.decline(handoff_id, _staff(request)))


async def resolve_handoff(request: web.Request) -> web.Response:
    handoff_id = parse_id(request, "handoff")
    engine = request.app[ROUTING_ENGINE]
    actor = _staff(request)
    handoff = await engine.resolve(handoff_id, actor)
    await request.app[HANDOFF_MESSAGING].ended(handoff, "resolved", actor)
    return await _handoff_response(engine, handoff)


async def record_first_response(request: web.Request) -> web.Response:
    handoff_id = parse_id(request, "handoff")
    engine = request.app[ROUTING_ENGINE]
    return await _handoff_response(engine, await engine.record_first_response(handoff_id, _staff(request)))


async def cancel_handoff(request: web.Request) -> web.Response:
    handoff_id = parse_id(request, "handoff")
    engine = request.app[ROUTING_ENGINE]
    actor = _actor(request)
    handoff = await engine.cancel(handoff_id, actor)
    if actor is not None:
        # A person ended it: the bot is told to take the conversation back. The service (the bot itself)
        # cancels only what it already knows is over.
        await request.app[HANDOFF_MESSAGING].ended(handoff, "cancelled", actor)
    return await _handoff_response(engine, handoff)


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
        "offered at once when an eligible agent is free (docs/HANDOFF.md); while queued the answer has its "
        "queue_position and estimated_wait_seconds. Publishes handoff.queued, then handoff.assigned. When "
        "nobody could take it now (no agent online who fits its language, skill and team, or the team is "
        "outside its business hours) it is not queued: it is cancelled at once with `unavailable` "
        "(no_agent or closed, then `reopens_at`), and with an email known (given, or the customer's) a "
        "ticket carrying the packet is opened (`ticket_id`); without one, POST .../ticket opens it. "
        "Publishes handoff.cancelled then. A team_id that names no team: 404.",
        body=HandoffCreate,
        idempotency_key=True,
        responses={
            201: Response(
                "Handoff queued (or already offered) with its queue position, or closed as unavailable.",
                HandoffOut,
            ),
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
        description=_ONLY_THEIRS + " Only an assigned (offered) handoff can be accepted (409). The "
        "transcript gets a system entry and the customer is told (EXTERNAL_handoff_update, accepted).",
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
        description=_ONLY_THEIRS + " Only an accepted handoff (409). The transcript gets a system entry and "
        "the bot takes the conversation back (EXTERNAL_handoff_ended, resolved: it asks CSAT and CES).",
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
        description=_ONLY_THEIRS + " The service may cancel any. Resolved or cancelled handoffs: 409. "
        "Cancelled by an agent or admin, the transcript gets a system entry and the bot takes the "
        "conversation back (EXTERNAL_handoff_ended, cancelled).",
        responses={200: Response("The cancelled handoff.", HandoffOut)},
        errors=(404, 409),
        access=SERVICE_AND_STAFF,
    ),
    ApiRoute(
        "POST",
        "/api/routing/handoffs/{id}/ticket",
        open_handoff_ticket,
        summary="Open the ticket carrying the packet of a handoff nobody could take, once the email is known",
        tag="routing",
        description="Only for a handoff closed as unavailable (409 otherwise). Opens a ticket (the packet "
        "as readable text) for this email (customer created if new) and answers the handoff with its "
        "ticket_id; a handoff that has its ticket already answers it again (200), so a retry needs no "
        "Idempotency-Key: the handoff has one ticket at most. Publishes ticket.created.",
        body=HandoffTicketCreate,
        responses={
            201: Response("Ticket opened: the handoff with its ticket_id.", HandoffOut),
            200: Response("The handoff had its ticket already.", HandoffOut),
        },
        errors=(400, 404, 409, 413),
    ),
    ApiRoute(
        "GET",
        "/api/routing/conversations/active-handoff",
        active_handoff,
        summary="The conversation's queued, assigned or accepted handoff",
        tag="routing",
        description="What the bot re-enters its relay loop with after it lost its tracker. 404 when the "
        "conversation has none.",
        query=ActiveHandoffQuery,
        responses={200: Response("The handoff.", HandoffOut)},
        errors=(400, 404),
    ),
    ApiRoute(
        "POST",
        "/api/routing/handoffs/{id}/customer-messages",
        add_customer_message,
        summary="Store a customer's message to the agent (the bot's relay), published live",
        tag="routing",
        description="Stored while the handoff is queued, assigned or accepted (once per message_id) and "
        "published as handoff.message. For a resolved or cancelled handoff nothing is stored (stored "
        "false): the bot leaves its relay loop.",
        body=CustomerMessageCreate,
        responses={200: Response("The handoff, and whether the message was stored.", CustomerMessageResult)},
        errors=(400, 404, 413),
    ),
    ApiRoute(
        "GET",
        "/api/routing/handoffs/{id}/messages",
        list_messages,
        summary="A handoff's transcript: the customer's and agent's messages, notes and system entries",
        tag="routing",
        query=EmptyQuery,
        responses={200: Response("The transcript, oldest first.", HandoffMessageList)},
        errors=(400, 404),
        access=STAFF,
    ),
    ApiRoute(
        "POST",
        "/api/routing/handoffs/{id}/messages",
        send_agent_message,
        summary="Send the customer a message (relayed through Rasa)",
        tag="routing",
        description="The agent holding the accepted handoff, or an admin (403 otherwise; 409 unless "
        "accepted). Stores the message, relays it (EXTERNAL_agent_message), records the first response "
        "and publishes handoff.message. When Rasa cannot be reached the message stays stored with delivery "
        "failed and the answer is 503; sending again with the same client_id retries its delivery (never "
        "a second copy), and a delivered one is answered as it is.",
        body=AgentMessageCreate,
        responses={201: Response("The message, delivered.", HandoffMessageOut)},
        errors=(400, 403, 404, 409, 413, 503),
        access=STAFF,
    ),
    ApiRoute(
        "POST",
        "/api/routing/handoffs/{id}/notes",
        add_note,
        summary="Add an internal note to a handoff (never shown to the customer)",
        tag="routing",
        description="Any agent or admin. Published as handoff.message.",
        body=NoteCreate,
        responses={201: Response("The note.", HandoffMessageOut)},
        errors=(400, 404, 413),
        access=STAFF,
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
