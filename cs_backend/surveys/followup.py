"""A low score with a comment reaches a person: a follow-up task and a real-time negative-feedback alert
(cs_backend/alerts: the task, the live event `alert.raised`, the signed webhook), once per survey."""

from __future__ import annotations

from aiohttp import web

from cs_backend.alerts.service import raise_alert
from cs_backend.app_keys import DATABASE
from cs_backend.surveys import service
from cs_backend.surveys.service import SurveyView

# What each trigger's survey was about, in the task's title.
ABOUT = {
    "ticket_resolved": "ticket #{subject} resolved",
    "handoff_ended": "a live chat with an agent (handoff {subject})",
    "onboarding_completed": "onboarding",
}


def source_ref(survey_id: int) -> str:
    """The alert's key: raising it again for the same survey returns the same task."""
    return f"survey:{survey_id}"


def scores_text(survey: SurveyView) -> str:
    scores = []
    if survey.csat is not None:
        scores.append(f"CSAT {survey.csat}/5")
    if survey.ces is not None:
        scores.append(f"CES {survey.ces}/7")
    return ", ".join(scores)


async def follow_up(app: web.Application, survey: SurveyView) -> SurveyView:
    """Raise the survey's negative-feedback alert (a task for a person) and record its task on the survey."""
    about = ABOUT[survey.trigger].format(subject=survey.subject_id)
    task = await raise_alert(
        app,
        kind="negative_feedback",
        customer_id=survey.customer_id,
        title=f"Negative feedback after {about}: {scores_text(survey)}",
        detail=f"{scores_text(survey)} (survey {survey.id}). The customer said: {survey.comment}",
        source_ref=source_ref(survey.id),
    )
    return await service.record_follow_up_task(app[DATABASE], survey.id, task.id)
