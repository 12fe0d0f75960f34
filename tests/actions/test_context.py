"""Follow-ups resolved against the step or ticket in focus (actions/context.py), against a real running
cs_backend (see conftest.py): the onboarding and ticket actions leave their step or ticket in focus, and
"how do I do that?", "and the next one?", "that one", "same problem again" are answered from it."""

from __future__ import annotations

from typing import Any

from action_test_support import (
    CHECKLIST_KEYS,
    CHECKLIST_TITLES,
    create_ticket,
    make_tracker,
    render_response,
    run_action,
    slot_values,
    user_event,
)
from conftest import RunningBackend
from rasa_sdk import Action

from actions.api.client import BackendClient
from actions.api.models import OnboardingProgress, OnboardingStepState
from actions.context import ActionReopenTicket, ActionResolveReference, latest_focus, step_after
from actions.onboarding import ActionOnboardingExplainStep, ActionOnboardingNextStep
from actions.onboarding_texts import STEP_TEXTS_ZH
from actions.tickets import ActionTicketStatus


class Conversation:
    """A conversation as Rasa keeps it: every event so far, and the slots they set."""

    def __init__(self, sender_id: str, **slots: Any) -> None:
        self.sender_id = sender_id
        self.events: list[dict[str, Any]] = []
        self.slots: dict[str, Any] = dict(slots)

    def say(self, text: str, intent: str) -> None:
        self.events.append(user_event(text, intent))

    async def run(self, action: Action) -> dict[str, Any]:
        """Runs `action` on the conversation so far, keeps its events; the slots it set."""
        tracker = make_tracker(self.sender_id, self.events, slots=self.slots)
        events, dispatcher = await run_action(action, tracker)
        assert dispatcher.messages == []  # the rules pick the response
        self.events.extend(events)
        values = slot_values(events)
        self.slots.update(values)
        return values

    async def follow_up(self, text: str, intent: str) -> dict[str, Any]:
        self.say(text, intent)
        return await self.run(ActionResolveReference())


def _progress(done: set[str]) -> OnboardingProgress:
    return OnboardingProgress(
        customer_id=1,
        steps=tuple(
            OnboardingStepState(
                key=key,
                title=CHECKLIST_TITLES[key],
                done=key in done,
                completed_at="2026-11-30T00:00:00Z" if key in done else None,
                source="customer" if key in done else None,
            )
            for key in CHECKLIST_KEYS
        ),
        done_count=len(done),
        total=len(CHECKLIST_KEYS),
        next_step=None,
        completed=False,
    )


def test_the_step_after_skips_the_steps_done() -> None:
    progress = _progress({"complete_profile", "connect_integration"})
    assert step_after("verify_email", progress) == "invite_teammate"
    assert step_after("create_project", progress) is None
    assert step_after("no_such_step", progress) is None


def test_the_focus_is_what_the_bot_mentioned_last() -> None:
    step = {"event": "slot", "name": "step_in_focus", "value": "verify_email"}
    ticket = {"event": "slot", "name": "ticket_in_focus", "value": "12"}
    cleared = {"event": "slot", "name": "ticket_in_focus", "value": None}
    assert latest_focus(make_tracker("s", [step, ticket])) == ("ticket", "12")
    assert latest_focus(make_tracker("s", [ticket, step])) == ("step", "verify_email")
    assert latest_focus(make_tracker("s", [step, cleared])) == ("step", "verify_email")
    # Carried over from an earlier session: slots without their events.
    assert latest_focus(make_tracker("s", [], slots={"ticket_in_focus": "12"})) == ("ticket", "12")
    assert latest_focus(make_tracker("s", [])) is None


async def test_how_do_i_do_that_explains_the_step_just_suggested(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    chat = Conversation(sender_id)
    chat.say("what should I do first?", "get_started")
    suggested = await chat.run(ActionOnboardingNextStep())
    assert suggested["step_in_focus"] == "sign_up"

    explained = await chat.follow_up("how do I do that?", "ask_how_to")
    assert explained["context_outcome"] == "step_explained"
    assert explained["onboarding_step_title"] == CHECKLIST_TITLES["sign_up"]
    (told,) = render_response("utter_onboarding_step_explained", chat.slots)
    assert "app.example.com/signup" in told


async def test_a_chinese_follow_up_is_told_the_step_in_chinese(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    # cs_backend's checklist is in English: the step must come from the Chinese texts, not from it.
    chat = Conversation(sender_id, language="zh")
    chat.say("不知道从哪开始", "get_started")
    assert (await chat.run(ActionOnboardingNextStep()))["step_in_focus"] == "sign_up"

    explained = await chat.follow_up("那个怎么弄", "ask_how_to")
    assert explained["onboarding_step_title"] == STEP_TEXTS_ZH["sign_up"].title
    assert explained["onboarding_step_how_to"] == STEP_TEXTS_ZH["sign_up"].how_to

    following = await chat.follow_up("然后呢", "ask_next_step")
    assert following["step_in_focus"] == "verify_email"
    assert following["onboarding_step_title"] == STEP_TEXTS_ZH["verify_email"].title


async def test_and_the_next_one_goes_on_from_the_step_in_focus(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    async with BackendClient() as client:
        await client.complete_onboarding_step("complete_profile", sender_id, "rest")
    chat = Conversation(sender_id)
    chat.say("how do I verify my email?", "explain_onboarding_step")
    chat.slots["onboarding_step"] = "verify_email"
    assert (await chat.run(ActionOnboardingExplainStep()))["step_in_focus"] == "verify_email"

    following = await chat.follow_up("and the next one?", "ask_next_step")
    # complete_profile is done: the next one to do is connect_integration.
    assert following["context_outcome"] == "next_step"
    assert (following["step_in_focus"], following["onboarding_step_title"]) == (
        "connect_integration",
        CHECKLIST_TITLES["connect_integration"],
    )
    (told,) = render_response("utter_context_next_step", chat.slots)
    assert told.startswith(f"The step after that is: {CHECKLIST_TITLES['connect_integration']}.")

    assert (await chat.follow_up("and then?", "ask_next_step"))["step_in_focus"] == "invite_teammate"
    assert (await chat.follow_up("and after that?", "ask_next_step"))["step_in_focus"] == "create_project"
    last = await chat.follow_up("and the next one?", "ask_next_step")
    assert last["context_outcome"] == "no_next_step"
    (told,) = render_response("utter_context_no_next_step", chat.slots)
    assert CHECKLIST_TITLES["create_project"] in told

    # "that one": the step the bot mentioned last.
    that = await chat.follow_up("that one", "refer_to_that")
    assert (that["context_outcome"], that["step_in_focus"]) == ("step_explained", "create_project")


async def test_with_nothing_in_focus_the_bot_asks_what_is_meant(backend_url: str, sender_id: str) -> None:
    for text, intent in [
        ("how do I do that?", "ask_how_to"),
        ("and the next one?", "ask_next_step"),
        ("that one", "refer_to_that"),
    ]:
        chat = Conversation(sender_id)
        assert (await chat.follow_up(text, intent))["context_outcome"] == "nothing_in_focus"
    (english,) = render_response("utter_ask_what_is_meant", {"language": "en"})
    (chinese,) = render_response("utter_ask_what_is_meant", {"language": "zh"})
    assert "Which setup step or which ticket" in english
    assert "设置步骤" in chinese

    chat = Conversation(sender_id)
    assert (await chat.follow_up("same problem again", "same_problem_again"))[
        "context_outcome"
    ] == "no_ticket"


async def test_that_one_after_a_ticket_tells_its_status(backend_url: str, sender_id: str) -> None:
    created = await create_ticket(sender_id)
    assert created["ticket_in_focus"] == created["ticket_id"]
    chat = Conversation(sender_id, **created)
    chat.events.append({"event": "slot", "name": "ticket_in_focus", "value": created["ticket_id"]})
    that = await chat.follow_up("that one", "refer_to_that")
    assert that["context_outcome"] == "ticket_found"
    assert (that["lookup_number"], that["lookup_status"]) == (created["ticket_id"], "open")
    (told,) = render_response("utter_ticket_status", chat.slots)
    assert told.startswith(f"Ticket #{created['ticket_id']} (")


async def test_a_ticket_in_focus_is_told_in_chinese(backend_url: str, sender_id: str) -> None:
    created = await create_ticket(sender_id)
    chat = Conversation(sender_id, language="zh", **created)
    chat.events.append({"event": "slot", "name": "ticket_in_focus", "value": created["ticket_id"]})
    that = await chat.follow_up("就那个", "refer_to_that")
    # The priority and the time as action_ticket_status tells them in Chinese, not cs_backend's words.
    assert that["lookup_priority"] == "高"  # the form's priority, high
    assert "年" in that["lookup_updated"] and "（UTC）" in that["lookup_updated"]


async def test_same_problem_again_follows_the_tickets_status(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    created = await create_ticket(sender_id)
    number = created["ticket_id"]
    chat = Conversation(sender_id, ticket_in_focus=number)

    still_open = await chat.follow_up("same problem again", "same_problem_again")
    assert (still_open["context_outcome"], still_open["lookup_number"]) == ("ticket_open", number)
    (told,) = render_response("utter_same_problem_ticket_open", chat.slots)
    assert f"#{number}" in told and "still being handled" in told

    backend.patch(f"/api/tickets/{number}", {"status": "resolved"})
    resolved = await chat.follow_up("it's happening again", "same_problem_again")
    assert resolved["context_outcome"] == "ticket_resolved"
    (offer,) = render_response("utter_offer_reopen_ticket", {**chat.slots, "language": "zh"})
    assert f"#{number}" in offer and "重新打开" in offer

    chat.say("/affirm", "affirm")
    reopened = await chat.run(ActionReopenTicket())
    assert (reopened["context_outcome"], reopened["lookup_status"]) == ("ticket_reopened", "open")
    assert backend.get(f"/api/tickets/{number}")["status"] == "open"
    # Reopened already (an agent, or the same click twice): still told as reopened, nothing changes.
    assert (await chat.run(ActionReopenTicket()))["context_outcome"] == "ticket_reopened"

    backend.patch(f"/api/tickets/{number}", {"status": "resolved"})
    backend.patch(f"/api/tickets/{number}", {"status": "closed"})
    closed = await chat.follow_up("the problem is back", "same_problem_again")
    assert closed["context_outcome"] == "ticket_closed"
    (told,) = render_response("utter_same_problem_ticket_closed", chat.slots)
    assert "can't be reopened" in told
    # Closed between the offer and the "yes": a new ticket is offered instead.
    assert (await chat.run(ActionReopenTicket()))["context_outcome"] == "ticket_closed"
    assert backend.get(f"/api/tickets/{number}")["status"] == "closed"


async def test_same_problem_again_without_a_focus_takes_the_newest_ticket(
    backend_url: str, sender_id: str
) -> None:
    await create_ticket(sender_id, description="the first problem, a broken export to CSV")
    newest = await create_ticket(sender_id, description="the second problem, the calendar does not sync")
    chat = Conversation(sender_id)
    again = await chat.follow_up("same problem again", "same_problem_again")
    assert (again["context_outcome"], again["ticket_in_focus"]) == ("ticket_open", newest["ticket_id"])


async def test_another_conversations_ticket_is_never_told(backend_url: str, sender_id: str) -> None:
    others = await create_ticket(f"{sender_id}-someone-else")
    chat = Conversation(sender_id, ticket_in_focus=others["ticket_id"])
    chat.events.append({"event": "slot", "name": "ticket_in_focus", "value": others["ticket_id"]})
    assert (await chat.follow_up("that one", "refer_to_that"))["context_outcome"] == "nothing_in_focus"
    assert (await chat.follow_up("same problem again", "same_problem_again"))[
        "context_outcome"
    ] == "no_ticket"
    chat.slots["ticket_in_focus"] = others["ticket_id"]
    assert (await chat.run(ActionReopenTicket()))["context_outcome"] == "no_ticket"


async def test_a_looked_up_ticket_is_in_focus(backend_url: str, sender_id: str) -> None:
    created = await create_ticket(sender_id)
    chat = Conversation(sender_id)
    chat.say("what's the status of my last ticket?", "ticket_status")
    assert (await chat.run(ActionTicketStatus()))["ticket_in_focus"] == created["ticket_id"]


async def test_an_unreachable_backend_is_said(backend_down: str, sender_id: str) -> None:
    chat = Conversation(sender_id, step_in_focus="verify_email", ticket_in_focus="3")
    assert (await chat.follow_up("how do I do that?", "ask_how_to"))[
        "context_outcome"
    ] == "onboarding_unavailable"
    assert (await chat.follow_up("same problem again", "same_problem_again"))["context_outcome"] == (
        "ticket_unavailable"
    )
    assert (await chat.run(ActionReopenTicket()))["context_outcome"] == "ticket_unavailable"
