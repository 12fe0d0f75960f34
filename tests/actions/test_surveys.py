"""The survey actions (actions/surveys.py, and action_record_feedback's survey round in actions/feedback.py)
against a real running cs_backend (see conftest.py): a resolved ticket's survey request, the handoff's and the
onboarding's surveys under cs_backend's rules (one per subject, the customer's cooldown, one answer), and the
comment after a low score. cs_backend unreachable: the answer and the comment are kept in the outbox, told as
saved, and replayed onto the survey once."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from action_test_support import (
    action_event,
    create_ticket,
    entity,
    make_tracker,
    render_response,
    run_action,
    slot_event,
    slot_values,
    user_event,
)
from conftest import RunningBackend

from actions.api.client import BackendClient
from actions.api.outbox import OUTBOX_PATH_ENV, default_outbox
from actions.api.replayer import OutboxReplayer
from actions.feedback import ActionRecordFeedback
from actions.surveys import ActionRecordFeedbackComment, ActionRequestSurvey, survey_answer_key
from launcher.stack import free_port


def unique_email() -> str:
    """A customer of their own: the backend is shared by the session, and the cooldown is per customer."""
    return f"survey-{time.time_ns()}@example.com"


def survey_request_tracker(sender_id: str, survey_id: Any) -> Any:
    """cs_backend's EXTERNAL_survey_request reaching the conversation."""
    request = user_event(
        "EXTERNAL: EXTERNAL_survey_request",
        "EXTERNAL_survey_request",
        [entity("survey_id", survey_id), entity("survey_trigger", "ticket_resolved")],
        channel="rest",
    )
    return make_tracker(sender_id, [request])


def handoff_ended_tracker(sender_id: str, handoff_id: int) -> Any:
    """The relay loop just handed the conversation back (handoff_end resolved) and the bot said so."""
    events = [
        user_event("hi", "greet", channel="rest"),
        user_event("EXTERNAL: EXTERNAL_handoff_ended", "EXTERNAL_handoff_ended", channel="rest"),
        action_event("action_relay_to_agent"),
        slot_event("handoff_end", "resolved"),
        action_event("utter_handoff_resolved"),
    ]
    return make_tracker(sender_id, events, slots={"handoff_end": "resolved", "handoff_id": str(handoff_id)})


def onboarding_done_tracker(sender_id: str) -> Any:
    events = [
        user_event("I created my first project", "onboarding_step_done", channel="rest"),
        action_event("action_onboarding_mark_done"),
        slot_event("onboarding_outcome", "all_done"),
        action_event("utter_onboarding_completed"),
    ]
    return make_tracker(
        sender_id, events, slots={"onboarding_outcome": "all_done", "feedback_topic": "onboarding"}
    )


def answered_round(sender_id: str, survey_id: str, **scores: float) -> Any:
    events = [user_event(str(value), "rate", channel="rest") for value in scores.values()]
    return make_tracker(sender_id, events, slots={"survey_id": survey_id, **scores})


def comment_tracker(sender_id: str, survey_id: str, comment: str) -> Any:
    return make_tracker(
        sender_id,
        [user_event(comment, "inform", channel="rest")],
        slots={"survey_id": survey_id, "feedback_comment": comment},
    )


async def resolved_ticket_survey(backend: RunningBackend, sender_id: str) -> dict[str, Any]:
    """The survey cs_backend opens when a new ticket of the conversation is resolved."""
    ticket_id = int((await create_ticket(sender_id, email=unique_email()))["ticket_id"])
    backend.patch(f"/api/tickets/{ticket_id}", {"status": "resolved"})
    [survey] = [
        s
        for s in backend.get("/api/surveys?trigger=ticket_resolved&limit=100")["items"]
        if s["subject_id"] == ticket_id
    ]
    return survey


def point_at_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """cs_backend goes down: the actions' URL is a closed port from now on."""
    monkeypatch.setenv("CS_BACKEND_URL", f"http://127.0.0.1:{free_port()}")


async def replay_to(backend: RunningBackend) -> int:
    """One pass of the replayer to the real cs_backend: the number of entries delivered."""
    replayer = OutboxReplayer(default_outbox(), client_factory=lambda: BackendClient(backend.url))
    result = await replayer.replay_pending()
    assert not result.blocked and result.dead == 0
    return result.delivered


async def request_survey(tracker: Any) -> dict[str, Any]:
    events, dispatcher = await run_action(ActionRequestSurvey(), tracker)
    assert dispatcher.messages == []  # the rules speak
    return slot_values(events)


async def test_a_resolved_tickets_survey_is_asked_answered_and_commented(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    ticket_id = int((await create_ticket(sender_id, email=unique_email()))["ticket_id"])
    backend.patch(f"/api/tickets/{ticket_id}", {"status": "resolved"})
    [survey] = [
        s
        for s in backend.get("/api/surveys?trigger=ticket_resolved&limit=100")["items"]
        if s["subject_id"] == ticket_id
    ]

    asked = await request_survey(survey_request_tracker(sender_id, survey["id"]))
    assert asked["survey_outcome"] == "ask"
    assert asked["survey_id"] == str(survey["id"]) and asked["survey_ticket_id"] == str(ticket_id)
    assert asked["csat_score"] is None and asked["ces_score"] is None
    (intro,) = render_response("utter_survey_ticket_resolved", asked)
    assert f"#{ticket_id}" in intro

    # A low CES: saved, and the survey stays for the comment that is asked next.
    events, _ = await run_action(
        ActionRecordFeedback(), answered_round(sender_id, str(survey["id"]), csat_score=4.0, ces_score=2.0)
    )
    values = slot_values(events)
    assert values["feedback_outcome"] == "saved_low_score" and "survey_id" not in values
    # Rasa running the action again (a retry): the answer is replaced, not added.
    await run_action(
        ActionRecordFeedback(), answered_round(sender_id, str(survey["id"]), csat_score=4.0, ces_score=2.0)
    )
    stored = backend.get(f"/api/surveys/{survey['id']}")
    assert (stored["state"], stored["csat"], stored["ces"]) == ("answered", 4, 2)
    ratings = backend.get(f"/api/feedback?ticket_id={ticket_id}")
    assert ratings["total"] == 2

    comment_tracker = make_tracker(
        sender_id,
        [user_event("nobody told me the export limit", "inform", channel="rest")],
        slots={"survey_id": str(survey["id"]), "feedback_comment": "nobody told me the export limit"},
    )
    events, _ = await run_action(ActionRecordFeedbackComment(), comment_tracker)
    values = slot_values(events)
    assert values["feedback_outcome"] == "comment_saved"
    assert values["survey_id"] is None and values["feedback_comment"] is None
    assert backend.get(f"/api/surveys/{survey['id']}")["comment"] == "nobody told me the export limit"

    # Answered: a late (re-delivered) request asks nothing.
    again = await request_survey(survey_request_tracker(sender_id, survey["id"]))
    assert again["survey_outcome"] == "skip" and again["survey_id"] is None


async def test_a_good_survey_answer_ends_the_round(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    ticket_id = int((await create_ticket(sender_id, email=unique_email()))["ticket_id"])
    backend.patch(f"/api/tickets/{ticket_id}", {"status": "resolved"})
    [survey] = [
        s
        for s in backend.get("/api/surveys?trigger=ticket_resolved&limit=100")["items"]
        if s["subject_id"] == ticket_id
    ]
    events, _ = await run_action(
        ActionRecordFeedback(), answered_round(sender_id, str(survey["id"]), csat_score=5.0, ces_score=6.0)
    )
    values = slot_values(events)
    assert values["feedback_outcome"] == "saved" and values["survey_id"] is None


async def test_the_handoffs_survey_is_asked_once_then_the_cooldown_holds(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    first = backend.post(
        "/api/routing/handoffs", {"sender_id": sender_id, "channel": "rest", "reason": "customer_request"}
    )
    asked = await request_survey(handoff_ended_tracker(sender_id, first["id"]))
    assert asked["survey_outcome"] == "ask"
    survey = backend.get(f"/api/surveys/{asked['survey_id']}")
    assert (survey["trigger"], survey["subject_id"], survey["state"]) == (
        "handoff_ended",
        first["id"],
        "sent",
    )

    # Another handoff of the same conversation ends soon after: within the cooldown, nothing is asked.
    second = backend.post(
        "/api/routing/handoffs", {"sender_id": sender_id, "channel": "rest", "reason": "customer_request"}
    )
    skipped = await request_survey(handoff_ended_tracker(sender_id, second["id"]))
    assert skipped["survey_outcome"] == "skip" and skipped["survey_id"] is None
    suppressed = [
        s
        for s in backend.get("/api/surveys?state=suppressed&limit=100")["items"]
        if s["subject_id"] == second["id"]
    ]
    assert len(suppressed) == 1


async def test_onboarding_completed_is_surveyed_once(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    for step in backend.get("/api/onboarding/steps")["steps"]:
        backend.post(
            "/api/onboarding/progress",
            {"step": step["key"], "sender_id": sender_id, "channel": "rest", "source": "customer"},
        )
    asked = await request_survey(onboarding_done_tracker(sender_id))
    assert asked["survey_outcome"] == "ask" and asked["feedback_topic"] == "onboarding"
    events, _ = await run_action(
        ActionRecordFeedback(), answered_round(sender_id, asked["survey_id"], ces_score=6.0)
    )
    assert slot_values(events)["feedback_outcome"] == "saved"
    stored = backend.get(f"/api/surveys/{asked['survey_id']}")
    assert (stored["trigger"], stored["state"], stored["ces"]) == ("onboarding_completed", "answered", 6)
    # Marking the last step again later: the onboarding was surveyed, nothing is asked.
    assert (await request_survey(onboarding_done_tracker(sender_id)))["survey_outcome"] == "skip"


async def test_onboarding_not_complete_asks_nothing(
    backend: RunningBackend, backend_url: str, sender_id: str
) -> None:
    backend.post("/api/onboarding/start", {"sender_id": sender_id, "channel": "rest"})
    assert (await request_survey(onboarding_done_tracker(sender_id)))["survey_outcome"] == "skip"


async def test_nothing_is_asked_without_a_trigger_or_a_backend(backend_down: str, sender_id: str) -> None:
    # Nothing happened that a survey follows.
    assert (await request_survey(make_tracker(sender_id, [user_event("hi", "greet")])))[
        "survey_outcome"
    ] == "skip"
    # cs_backend unreachable: the cooldown is unknown, so nothing is asked.
    assert (await request_survey(survey_request_tracker(sender_id, 5)))["survey_outcome"] == "skip"
    assert (await request_survey(handoff_ended_tracker(sender_id, 5)))["survey_outcome"] == "skip"
    # A request without a usable survey id.
    assert (await request_survey(survey_request_tracker(sender_id, "abc")))["survey_outcome"] == "skip"


def test_a_survey_answers_key_is_its_content() -> None:
    scores = survey_answer_key("s", 12, {"csat": 2, "ces": 5})
    # The same answer, whatever message carried it or the order it was read in, is the same write.
    assert survey_answer_key("s", 12, {"ces": 5, "csat": 2}) == scores
    others = {
        survey_answer_key("s", 13, {"csat": 2, "ces": 5}),
        survey_answer_key("s", 12, {"csat": 3, "ces": 5}),
        survey_answer_key("s", 12, {"comment": "too slow"}),
        survey_answer_key("t", 12, {"csat": 2, "ces": 5}),
    }
    assert scores not in others and len(others) == 4


async def test_a_survey_answer_while_cs_backend_is_down_is_kept_told_and_stored_once(
    backend: RunningBackend, backend_url: str, sender_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    survey = await resolved_ticket_survey(backend, sender_id)
    point_at_nothing(monkeypatch)
    round_ = answered_round(sender_id, str(survey["id"]), csat_score=5.0, ces_score=6.0)
    events, _ = await run_action(ActionRecordFeedback(), round_)
    values = slot_values(events)
    assert values["feedback_outcome"] == "queued" and values["survey_id"] is None
    (told,) = render_response("utter_feedback_queued", values)
    assert "saved and will reach our team shortly" in told
    # Rasa running the action again (a retry): the same answer is the same outbox entry.
    await run_action(ActionRecordFeedback(), round_)
    [entry] = await default_outbox().pending()
    assert entry.path == f"/api/surveys/{survey['id']}/answers"
    assert json.loads(entry.body) == {"csat": 5, "ces": 6}
    before = backend.get(f"/api/surveys/{survey['id']}")
    assert before["state"] != "answered" and before["csat"] is None

    # cs_backend is back: the replayer stores the answer on the survey, once.
    assert await replay_to(backend) == 1
    assert await replay_to(backend) == 0
    stored = backend.get(f"/api/surveys/{survey['id']}")
    assert (stored["state"], stored["csat"], stored["ces"]) == ("answered", 5, 6)
    assert backend.get(f"/api/feedback?ticket_id={survey['subject_id']}")["total"] == 2


async def test_a_low_survey_score_kept_for_later_still_asks_what_went_wrong(
    backend: RunningBackend, backend_url: str, sender_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    survey = await resolved_ticket_survey(backend, sender_id)
    survey_id = str(survey["id"])
    point_at_nothing(monkeypatch)
    events, _ = await run_action(
        ActionRecordFeedback(), answered_round(sender_id, survey_id, csat_score=2.0, ces_score=5.0)
    )
    values = slot_values(events)
    # The rule of saved_low_score asks for the comment; the survey stays for it.
    assert values["feedback_outcome"] == "saved_low_score" and "survey_id" not in values

    events, _ = await run_action(
        ActionRecordFeedbackComment(), comment_tracker(sender_id, survey_id, "too slow")
    )
    values = slot_values(events)
    assert values["feedback_outcome"] == "comment_saved" and values["survey_id"] is None
    # Kept in the order given: the scores, then the comment, both to the same survey.
    kept = await default_outbox().pending()
    assert [json.loads(entry.body) for entry in kept] == [{"csat": 2, "ces": 5}, {"comment": "too slow"}]
    assert {entry.path for entry in kept} == {f"/api/surveys/{survey_id}/answers"}

    assert await replay_to(backend) == 2
    stored = backend.get(f"/api/surveys/{survey_id}")
    assert (stored["state"], stored["csat"], stored["ces"]) == ("answered", 2, 5)
    assert stored["comment"] == "too slow"
    # A low score with a comment reaches a person: cs_backend's follow-up task.
    assert stored["follow_up_task_id"] is not None
    assert backend.get(f"/api/feedback?ticket_id={survey['subject_id']}")["total"] == 2


async def test_a_survey_answer_or_comment_neither_confirmed_nor_kept_is_reported(
    backend_down: str, sender_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The outbox's file cannot be written (its folder is a file): the answer is not kept either.
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv(OUTBOX_PATH_ENV, str(tmp_path / "not-a-folder" / "outbox.db"))
    events, _ = await run_action(ActionRecordFeedback(), answered_round(sender_id, "12", csat_score=5.0))
    values = slot_values(events)
    assert values["feedback_outcome"] == "unavailable" and values["survey_id"] is None
    events, _ = await run_action(ActionRecordFeedbackComment(), comment_tracker(sender_id, "12", "slow"))
    assert slot_values(events)["feedback_outcome"] == "unavailable"
    # Said nothing: skipped without calling anyone.
    skipped = make_tracker(sender_id, [user_event("no", "deny")], slots={"survey_id": "12"})
    events, _ = await run_action(ActionRecordFeedbackComment(), skipped)
    assert slot_values(events)["feedback_outcome"] == "comment_skipped"
