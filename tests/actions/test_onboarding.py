"""The onboarding actions (actions/onboarding.py), against a real running cs_backend (see conftest.py).

Each test is its own conversation (`sender_id`), so its own anonymous customer with a fresh checklist:
sign_up, verify_email, complete_profile, connect_integration, invite_teammate, create_project.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import pytest
from action_test_support import (
    CHECKLIST_KEYS,
    CHECKLIST_TITLES,
    DOMAIN,
    Answer,
    FakeBackend,
    backend_breaking_its_contract,
    entity,
    make_tracker,
    render_response,
    slot_values,
    user_event,
)
from aiohttp import web
from conftest import RunningBackend
from rasa_sdk.executor import CollectingDispatcher

from actions.api.client import BackendClient
from actions.api.outbox import default_outbox
from actions.api.replayer import OutboxReplayer
from actions.common import conversation_channel
from actions.onboarding import (
    ActionOnboardingExplainStep,
    ActionOnboardingMarkDone,
    ActionOnboardingNextStep,
    ActionOnboardingNudge,
    ActionOnboardingProgress,
    checklist_text,
)

ONBOARDING_ACTIONS = [
    ActionOnboardingNextStep,
    ActionOnboardingExplainStep,
    ActionOnboardingMarkDone,
    ActionOnboardingProgress,
    ActionOnboardingNudge,
]


def _tracker(
    sender_id: str,
    text: str,
    intent: str,
    step: str | None = None,
    *,
    channel: str | None = "rest",
    slots: dict[str, Any] | None = None,
    history: Sequence[dict[str, Any]] = (),
):
    """The tracker as the action sees it: Rasa already filled `onboarding_step` from this message's entity."""
    entities = [entity("onboarding_step", step)] if step else []
    event = user_event(text, intent, entities, channel=channel or "rest")
    if channel is None:
        event["input_channel"] = None
    values = {"onboarding_step": step, **(slots or {})}
    return make_tracker(sender_id, [*history, event], slots=values)


def _nudge_tracker(sender_id: str, step: str, *, channel: str = "socketio"):
    """After cs_backend's POST /conversations/{id}/trigger_intent?output_channel=...: Rasa adds an external
    user event carrying the conversation's latest input channel, and fills the slot from its entity."""
    history = [user_event("hi", "greet", channel=channel)]
    nudge = user_event(
        "EXTERNAL: EXTERNAL_onboarding_nudge",
        "EXTERNAL_onboarding_nudge",
        [{"entity": "onboarding_step", "value": step}],
        channel=channel,
    )
    nudge["metadata"] = {"is_external": True}
    return make_tracker(sender_id, [*history, nudge], slots={"onboarding_step": step})


async def _run(action: Any, tracker: Any) -> dict[str, Any]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, DOMAIN)
    assert dispatcher.messages == []  # every text comes from a domain.yml response
    slots = slot_values(events)
    assert "onboarding_outcome" in slots
    if slots["onboarding_outcome"] != "unavailable":
        assert set(slots) <= set(DOMAIN["slots"]), set(slots) - set(DOMAIN["slots"])
    return slots


def _progress(backend: RunningBackend, sender_id: str, channel: str = "rest") -> dict[str, Any]:
    return backend.get(f"/api/onboarding/progress?sender_id={quote(sender_id)}&channel={quote(channel)}")


def _customer(backend: RunningBackend, sender_id: str, channel: str = "rest") -> int | None:
    """The conversation's customer as cs_backend reads it; None while onboarding has not started."""
    customer_id: int | None = _progress(backend, sender_id, channel)["customer_id"]
    return customer_id


def _done(backend: RunningBackend, sender_id: str, channel: str = "rest") -> list[str]:
    return [step["key"] for step in _progress(backend, sender_id, channel)["steps"] if step["done"]]


async def _complete(sender_id: str, *keys: str, channel: str = "rest") -> None:
    async with BackendClient() as backend:
        for key in keys:
            await backend.complete_onboarding_step(key, sender_id, channel)


# --- the checklist as the customer sees it ------------------------------------------------------------------


async def test_the_checklist_marks_the_steps_done(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    async with BackendClient() as client:
        after = await client.complete_onboarding_step("verify_email", sender_id, "rest")
    assert checklist_text(after, "en").splitlines()[:2] == [
        f"⬜ {CHECKLIST_TITLES['sign_up']}",
        f"✅ {CHECKLIST_TITLES['verify_email']}",
    ]


# --- what should I do next? ---------------------------------------------------------------------------------


async def test_next_step_for_a_new_customer(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    slots = await _run(
        ActionOnboardingNextStep(), _tracker(sender_id, "what should I do first?", "get_started")
    )
    assert slots["onboarding_outcome"] == "next_step"
    assert slots["onboarding_step_title"] == CHECKLIST_TITLES["sign_up"]
    assert "app.example.com/signup" in slots["onboarding_step_how_to"]
    assert slots["onboarding_step_docs"] == "https://docs.acme.example/getting-started/sign-up"
    assert (slots["onboarding_done_count"], slots["onboarding_total"]) == ("0", "6")
    assert slots["onboarding_step"] is None
    (told,) = render_response("utter_onboarding_next_step", slots)
    assert "0 of 6" in told and CHECKLIST_TITLES["sign_up"] in told


async def test_next_step_skips_steps_done_in_any_order(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    await _complete(sender_id, "sign_up", "complete_profile")
    slots = await _run(ActionOnboardingNextStep(), _tracker(sender_id, "what's my next step?", "get_started"))
    assert slots["onboarding_outcome"] == "next_step"
    assert slots["onboarding_step_title"] == CHECKLIST_TITLES["verify_email"]
    assert slots["onboarding_done_count"] == "2"


async def test_next_step_when_everything_is_done(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    await _complete(sender_id, *CHECKLIST_KEYS)
    slots = await _run(
        ActionOnboardingNextStep(), _tracker(sender_id, "what should I do next?", "get_started")
    )
    assert slots["onboarding_outcome"] == "all_done"
    assert slots["feedback_topic"] == "onboarding"
    assert slots["onboarding_step_title"] is None
    (told,) = render_response("utter_onboarding_all_done", slots)
    assert "all 6 setup steps" in told


# --- in Chinese ---------------------------------------------------------------------------------------------


async def test_a_chinese_conversation_is_told_the_steps_in_chinese(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    zh = {"language": "zh"}
    await _complete(sender_id, "sign_up")
    slots = await _run(
        ActionOnboardingNextStep(), _tracker(sender_id, "我接下来该做什么？", "get_started", slots=zh)
    )
    assert slots["onboarding_step_title"] == "验证您的邮箱地址"
    assert "no-reply@acme.example" in slots["onboarding_step_how_to"]
    assert slots["onboarding_step_docs"] == "https://docs.acme.example/getting-started/verify-email"
    (told,) = render_response("utter_onboarding_next_step", {**slots, **zh})
    assert told.startswith("您已完成 1/6 个设置步骤。下一步：验证您的邮箱地址。")

    # "done" right after: the step just told (in Chinese) is the one in focus, and is marked
    marked = await _run(
        ActionOnboardingMarkDone(),
        _tracker(sender_id, "做完了", "onboarding_step_done", slots={**zh, **slots}),
    )
    assert marked["onboarding_outcome"] == "step_marked"
    assert marked["onboarding_done_title"] == "验证您的邮箱地址"
    assert marked["onboarding_step_title"] == "完善个人资料"
    assert _done(backend, sender_id) == ["sign_up", "verify_email"]

    progress = await _run(
        ActionOnboardingProgress(), _tracker(sender_id, "我的进度", "onboarding_progress", slots=zh)
    )
    assert progress["onboarding_checklist"].splitlines()[:3] == [
        "✅ 创建您的 Acme Cloud 账号",
        "✅ 验证您的邮箱地址",
        "⬜ 完善个人资料",
    ]


async def test_a_step_named_in_chinese_is_explained(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    slots = await _run(
        ActionOnboardingExplainStep(),
        _tracker(
            sender_id, "怎么邀请同事", "explain_onboarding_step", step="邀请同事", slots={"language": "zh"}
        ),
    )
    assert slots["onboarding_outcome"] == "step_explained"
    assert slots["onboarding_step_title"] == "邀请一位同事"
    (told,) = render_response("utter_onboarding_step_explained", {**slots, "language": "zh"})
    assert told.startswith("邀请一位同事：进入 设置 → 成员")


# --- progress -----------------------------------------------------------------------------------------------


async def test_progress_lists_the_checklist(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    await _complete(sender_id, "sign_up", "verify_email")
    slots = await _run(
        ActionOnboardingProgress(), _tracker(sender_id, "how far along am I?", "onboarding_progress")
    )
    assert slots["onboarding_outcome"] == "next_step"
    assert slots["onboarding_checklist"].splitlines() == [
        f"✅ {CHECKLIST_TITLES['sign_up']}",
        f"✅ {CHECKLIST_TITLES['verify_email']}",
        f"⬜ {CHECKLIST_TITLES['complete_profile']}",
        f"⬜ {CHECKLIST_TITLES['connect_integration']}",
        f"⬜ {CHECKLIST_TITLES['invite_teammate']}",
        f"⬜ {CHECKLIST_TITLES['create_project']}",
    ]
    (told,) = render_response("utter_onboarding_progress", slots)
    assert (
        "2 of 6" in told
        and f"⬜ {CHECKLIST_TITLES['complete_profile']}" in told
        and CHECKLIST_TITLES["complete_profile"] in told
    )


async def test_progress_when_everything_is_done(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    await _complete(sender_id, *CHECKLIST_KEYS)
    slots = await _run(
        ActionOnboardingProgress(), _tracker(sender_id, "show my checklist", "onboarding_progress")
    )
    assert slots["onboarding_outcome"] == "all_done"
    assert slots["onboarding_checklist"].count("✅") == 6


# --- explain a step -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("said", "key"),
    [
        ("verify_email", "verify_email"),
        ("profile", "complete_profile"),
        ("Invite a teammate", "invite_teammate"),
    ],
)
async def test_explain_a_named_step(
    backend: RunningBackend, backend_url: str, sender_id: str, said: str, key: str
) -> None:
    slots = await _run(
        ActionOnboardingExplainStep(),
        _tracker(sender_id, f"how do I do {said}?", "explain_onboarding_step", said),
    )
    assert slots["onboarding_outcome"] == "step_explained"
    assert slots["onboarding_step_title"] == CHECKLIST_TITLES[key]
    assert slots["onboarding_step_how_to"] and slots["onboarding_step_docs"].startswith(
        "https://docs.acme.example/"
    )
    assert slots["onboarding_step"] is None
    (told,) = render_response("utter_onboarding_step_explained", slots)
    assert told.startswith(CHECKLIST_TITLES[key])
    assert _done(backend, sender_id) == []  # explaining changes nothing


async def test_explain_without_a_name_explains_the_next_step(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    await _complete(sender_id, "sign_up")
    slots = await _run(
        ActionOnboardingExplainStep(), _tracker(sender_id, "how do I do that?", "explain_onboarding_step")
    )
    assert slots["onboarding_outcome"] == "step_explained"
    assert slots["onboarding_step_title"] == CHECKLIST_TITLES["verify_email"]


async def test_explain_finds_the_step_in_the_text_when_no_entity(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    tracker = _tracker(sender_id, "how do I connect slack?", "explain_onboarding_step")
    slots = await _run(ActionOnboardingExplainStep(), tracker)
    assert slots["onboarding_outcome"] == "step_explained"
    assert slots["onboarding_step_title"] == CHECKLIST_TITLES["connect_integration"]


async def test_explain_an_unknown_step_lists_the_steps(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    await _complete(sender_id, "sign_up")
    tracker = _tracker(sender_id, "explain the llamas step", "explain_onboarding_step", "llamas")
    slots = await _run(ActionOnboardingExplainStep(), tracker)
    assert slots["onboarding_outcome"] == "unknown_step"
    assert slots["onboarding_step"] is None
    (told,) = render_response("utter_onboarding_unknown_step", slots)
    assert f"✅ {CHECKLIST_TITLES['sign_up']}" in told and f"⬜ {CHECKLIST_TITLES['create_project']}" in told


# --- a step is done -----------------------------------------------------------------------------------------


async def test_mark_a_named_step_done(backend: RunningBackend, backend_url: str, sender_id: str) -> None:
    tracker = _tracker(sender_id, "I've verified my email", "onboarding_step_done", "verify_email")
    slots = await _run(ActionOnboardingMarkDone(), tracker)
    assert slots["onboarding_outcome"] == "step_marked"
    assert slots["onboarding_done_title"] == CHECKLIST_TITLES["verify_email"]
    assert slots["onboarding_step_title"] == CHECKLIST_TITLES["sign_up"]  # the next open step
    assert (slots["onboarding_done_count"], slots["onboarding_total"]) == ("1", "6")
    assert slots["onboarding_step"] is None

    progress = _progress(backend, sender_id)
    (state,) = [step for step in progress["steps"] if step["key"] == "verify_email"]
    assert state["done"] and state["source"] == "customer"
    (told,) = render_response("utter_onboarding_step_marked", slots)
    assert (
        CHECKLIST_TITLES["verify_email"] in told and "1 of 6" in told and CHECKLIST_TITLES["sign_up"] in told
    )


async def test_mark_done_with_loose_text_and_twice(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    first = await _run(
        ActionOnboardingMarkDone(),
        _tracker(sender_id, "done with my profile", "onboarding_step_done", "profile"),
    )
    assert first["onboarding_outcome"] == "step_marked"
    assert _done(backend, sender_id) == ["complete_profile"]

    again = await _run(
        ActionOnboardingMarkDone(),
        _tracker(sender_id, "I completed my profile", "onboarding_step_done", "complete_profile"),
    )
    assert again["onboarding_outcome"] == "already_done"
    assert again["onboarding_done_title"] == CHECKLIST_TITLES["complete_profile"]
    assert again["onboarding_done_count"] == "1"
    (told,) = render_response("utter_onboarding_already_done", again)
    assert "already" in told and CHECKLIST_TITLES["sign_up"] in told
    assert _done(backend, sender_id) == ["complete_profile"]


async def test_mark_done_rerun_for_the_same_message_changes_nothing(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    event = user_event(
        "I invited a teammate", "onboarding_step_done", [entity("onboarding_step", "invite_teammate")]
    )
    tracker = make_tracker(sender_id, [event], slots={"onboarding_step": "invite_teammate"})
    await _run(ActionOnboardingMarkDone(), tracker)
    await _run(
        ActionOnboardingMarkDone(),
        make_tracker(sender_id, [event], slots={"onboarding_step": "invite_teammate"}),
    )
    progress = _progress(backend, sender_id)
    assert progress["done_count"] == 1 and _done(backend, sender_id) == ["invite_teammate"]


async def test_mark_done_without_a_step_marks_the_next_one(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    await _complete(sender_id, "sign_up")
    slots = await _run(ActionOnboardingMarkDone(), _tracker(sender_id, "done!", "onboarding_step_done"))
    assert slots["onboarding_outcome"] == "step_marked"
    assert slots["onboarding_done_title"] == CHECKLIST_TITLES["verify_email"]
    assert _done(backend, sender_id) == ["sign_up", "verify_email"]


async def test_mark_done_without_a_step_marks_the_one_just_explained(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    explained = await _run(
        ActionOnboardingExplainStep(),
        _tracker(sender_id, "how do I invite a teammate?", "explain_onboarding_step", "invite_teammate"),
    )
    slots = await _run(
        ActionOnboardingMarkDone(),
        _tracker(
            sender_id,
            "ok, did it",
            "onboarding_step_done",
            slots={"onboarding_step_title": explained["onboarding_step_title"]},
        ),
    )
    assert slots["onboarding_outcome"] == "step_marked"
    assert slots["onboarding_done_title"] == CHECKLIST_TITLES["invite_teammate"]
    assert _done(backend, sender_id) == ["invite_teammate"]


async def test_mark_done_finds_the_step_in_the_text_when_no_entity(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    slots = await _run(
        ActionOnboardingMarkDone(),
        _tracker(sender_id, "I just created my first project", "onboarding_step_done"),
    )
    assert slots["onboarding_outcome"] == "step_marked"
    assert _done(backend, sender_id) == ["create_project"]


async def test_mark_an_unknown_step_writes_nothing(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    slots = await _run(
        ActionOnboardingMarkDone(), _tracker(sender_id, "I fed the llamas", "onboarding_step_done", "llamas")
    )
    assert slots["onboarding_outcome"] == "unknown_step"
    assert slots["onboarding_checklist"].count("⬜") == 6
    assert _done(backend, sender_id) == []
    (told,) = render_response("utter_onboarding_unknown_step", slots)
    assert "not sure which step" in told


async def test_the_last_step_completes_onboarding_and_the_ces_question_is_about_it(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    await _complete(sender_id, *CHECKLIST_KEYS[:-1])
    slots = await _run(
        ActionOnboardingMarkDone(),
        _tracker(sender_id, "I just created my first project!", "onboarding_step_done", "create_project"),
    )
    assert slots["onboarding_outcome"] == "all_done"
    assert slots["feedback_topic"] == "onboarding"
    assert slots["onboarding_done_title"] == CHECKLIST_TITLES["create_project"]
    assert (slots["onboarding_done_count"], slots["onboarding_total"]) == ("6", "6")
    assert _progress(backend, sender_id)["completed"] is True
    (told,) = render_response("utter_onboarding_completed", slots)
    assert "all 6 steps" in told


# --- proactive nudge ----------------------------------------------------------------------------------------


async def test_nudge_about_an_open_step_on_the_conversations_channel(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    # The customer chats on socketio; the backend nudges that conversation (sender_id, socketio).
    await _complete(sender_id, "sign_up", "verify_email", channel="socketio")
    tracker = _nudge_tracker(sender_id, "invite_teammate")
    assert conversation_channel(tracker) == "socketio"
    slots = await _run(ActionOnboardingNudge(), tracker)
    assert slots["onboarding_outcome"] == "nudge"
    assert slots["onboarding_step_title"] == CHECKLIST_TITLES["invite_teammate"]
    assert "Invite members" in slots["onboarding_step_how_to"]
    assert slots["onboarding_done_count"] == "2"  # the same customer as the socketio conversation
    assert slots["onboarding_step"] is None
    (told,) = render_response("utter_onboarding_nudge", slots)
    assert "2 of 6" in told and CHECKLIST_TITLES["invite_teammate"] in told
    assert _done(backend, sender_id, "socketio") == ["sign_up", "verify_email"]  # a nudge marks nothing


async def test_nudge_about_a_step_done_meanwhile_is_obsolete(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    await _complete(sender_id, "verify_email", channel="socketio")
    slots = await _run(ActionOnboardingNudge(), _nudge_tracker(sender_id, "verify_email"))
    assert slots["onboarding_outcome"] == "nudge_obsolete"
    assert slots["onboarding_step"] is None


async def test_nudge_about_a_step_the_checklist_no_longer_has_reminds_of_the_next_one(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    slots = await _run(ActionOnboardingNudge(), _nudge_tracker(sender_id, "retired_step"))
    assert slots["onboarding_outcome"] == "nudge"
    assert slots["onboarding_step_title"] == CHECKLIST_TITLES["sign_up"]


async def test_nudge_after_everything_is_done_is_obsolete(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    await _complete(sender_id, *CHECKLIST_KEYS, channel="socketio")
    slots = await _run(ActionOnboardingNudge(), _nudge_tracker(sender_id, "retired_step"))
    assert slots["onboarding_outcome"] == "nudge_obsolete"


async def test_a_conversation_without_an_input_channel_is_the_api_channel(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    tracker = _tracker(sender_id, "I signed up", "onboarding_step_done", "sign_up", channel=None)
    assert conversation_channel(tracker) == "api"
    assert (await _run(ActionOnboardingMarkDone(), tracker))["onboarding_outcome"] == "step_marked"
    assert _done(backend, sender_id, "api") == ["sign_up"]


# --- who starts onboarding ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "text", "intent", "step"),
    [
        (ActionOnboardingNextStep, "what should I do next?", "get_started", None),
        (ActionOnboardingProgress, "how far along am I?", "onboarding_progress", None),
        (ActionOnboardingExplainStep, "how do I verify my email?", "explain_onboarding_step", "verify_email"),
        (ActionOnboardingExplainStep, "how do I do that?", "explain_onboarding_step", None),
    ],
    ids=["next_step", "progress", "explain_named", "explain_unnamed"],
)
async def test_asking_about_onboarding_starts_it_once(
    backend: RunningBackend,
    backend_url: str,
    sender_id: str,
    action: Any,
    text: str,
    intent: str,
    step: str | None,
) -> None:
    """The conversation gets the customer whom cs_backend's nudge job may follow up; asking again is the same
    customer."""
    assert _customer(backend, sender_id) is None
    await _run(action(), _tracker(sender_id, text, intent, step))
    customer_id = _customer(backend, sender_id)
    assert isinstance(customer_id, int)
    await _run(action(), _tracker(sender_id, text, intent, step))
    assert _customer(backend, sender_id) == customer_id
    assert _done(backend, sender_id) == []


async def test_a_nudge_and_an_unknown_step_start_nothing(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    """The nudge only reads, and a step the checklist does not have is not an onboarding step done."""
    assert (await _run(ActionOnboardingNudge(), _nudge_tracker(sender_id, "sign_up")))[
        "onboarding_outcome"
    ] == ("nudge")
    unknown = _tracker(sender_id, "I fed the llamas", "onboarding_step_done", "llamas")
    assert (await _run(ActionOnboardingMarkDone(), unknown))["onboarding_outcome"] == "unknown_step"
    assert _customer(backend, sender_id, "socketio") is None
    assert _customer(backend, sender_id) is None


# --- backend down -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ONBOARDING_ACTIONS, ids=lambda action: action().name())
async def test_backend_down_every_action_says_unavailable(
    backend_down: str, sender_id: str, action: Any
) -> None:
    tracker = _tracker(sender_id, "I've verified my email", "onboarding_step_done", "verify_email")
    slots = await _run(action(), tracker)
    assert slots["onboarding_outcome"] == "unavailable"
    assert slots["onboarding_step"] is None
    (told,) = render_response("utter_onboarding_unavailable", slots)
    assert "can't reach" in told


@pytest.mark.parametrize("action", ONBOARDING_ACTIONS, ids=lambda action: action().name())
async def test_an_answer_that_breaks_the_contract_says_unavailable(
    monkeypatch: pytest.MonkeyPatch, sender_id: str, action: Any
) -> None:
    tracker = _tracker(sender_id, "I've verified my email", "onboarding_step_done", "verify_email")
    async with backend_breaking_its_contract(monkeypatch):
        slots = await _run(action(), tracker)
    assert slots["onboarding_outcome"] == "unavailable"


# --- cs_backend does not confirm a write --------------------------------------------------------------------


def _writes_unconfirmed(backend: RunningBackend, sender_id: str) -> Answer:
    """A cs_backend whose reads answer as the real one does, and whose writes get 503 (Retry-After 0)."""

    async def answer(number: int, request: web.Request) -> web.StreamResponse:
        if request.method == "GET":
            return web.json_response(backend.get(request.path_qs))
        error = {"error": {"status": 503, "message": "the database is unavailable", "fields": {}}}
        return web.json_response(error, status=503, headers={"Retry-After": "0"})

    return answer


async def _replay_to(backend: RunningBackend) -> None:
    replayer = OutboxReplayer(default_outbox(), client_factory=lambda: BackendClient(backend.url))
    assert (await replayer.replay_pending()).delivered == 1


async def test_a_step_done_that_is_not_confirmed_is_kept_told_and_replayed(
    backend: RunningBackend, sender_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = _tracker(sender_id, "I've verified my email", "onboarding_step_done", "verify_email")
    async with FakeBackend(_writes_unconfirmed(backend, sender_id)) as fake:
        monkeypatch.setenv("CS_BACKEND_URL", fake.url)
        slots = await _run(ActionOnboardingMarkDone(), tracker)
    assert slots["onboarding_outcome"] == "step_queued"
    (told,) = render_response("utter_onboarding_step_queued", slots)
    assert CHECKLIST_TITLES["verify_email"] in told and "shortly" in told
    assert _done(backend, sender_id) == []

    await _replay_to(backend)

    assert _done(backend, sender_id) == ["verify_email"]


async def test_a_start_that_is_not_confirmed_is_kept_and_replayed(
    backend: RunningBackend, sender_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = _tracker(sender_id, "what should I do next?", "get_started")
    async with FakeBackend(_writes_unconfirmed(backend, sender_id)) as fake:
        monkeypatch.setenv("CS_BACKEND_URL", fake.url)
        slots = await _run(ActionOnboardingNextStep(), tracker)
    # No progress to show until the start is delivered; it is kept, so the nudges will follow the customer.
    assert slots["onboarding_outcome"] == "unavailable"
    assert _customer(backend, sender_id) is None

    await _replay_to(backend)

    assert isinstance(_customer(backend, sender_id), int)
