"""Survey rules: opening a survey for a trigger (one per subject, none within the customer's cooldown),
recording its answer (a re-submission updates the CSAT/CES rows, keyed by survey and kind), and listing.

Delivery to Rasa is in delivery.py; the follow-up of a low score with a comment in followup.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.api.errors import Conflict, NotFound
from cs_backend.config import Settings
from cs_backend.conversations.models import Conversation
from cs_backend.conversations.service import touch_conversation
from cs_backend.customers.models import Customer
from cs_backend.db import Database, run_transaction, utcnow
from cs_backend.feedback.models import Feedback
from cs_backend.paging import Page, where_given
from cs_backend.routing.models import HandoffRequest
from cs_backend.surveys.models import ASKED_STATES, LOW_SCORE_MAX, Survey
from cs_backend.surveys.schemas import SurveyAnswer, SurveyOpen, SurveyQuery
from cs_backend.tickets.models import Ticket

NO_CONVERSATION = "the customer has no conversation to ask in"
# What a rating of each trigger is about, for the feedback rows' `intent` (reporting by intent).
INTENT_OF_TRIGGER = {
    "ticket_resolved": "ticket_resolved",
    "handoff_ended": "handoff_ended",
    "onboarding_completed": "onboarding",
}


@dataclass(frozen=True)
class SurveyView:
    """A survey with its answer (the CSAT and CES rows), as the API shows it."""

    id: int
    trigger: str
    subject_id: int
    customer_id: int | None
    conversation_id: int | None
    channel: str | None
    state: str
    csat: int | None
    ces: int | None
    comment: str | None
    delivery_attempts: int
    last_error: str | None
    follow_up_task_id: int | None
    created_at: datetime
    sent_at: datetime | None
    answered_at: datetime | None

    @property
    def ask(self) -> bool:
        return self.state == "sent"

    @property
    def low_score(self) -> bool:
        """CSAT 1-2 or CES 1-3."""
        return (self.csat is not None and self.csat <= LOW_SCORE_MAX["csat"]) or (
            self.ces is not None and self.ces <= LOW_SCORE_MAX["ces"]
        )


async def _scores(session: AsyncSession, survey_ids: list[int]) -> dict[tuple[int, str], int]:
    if not survey_ids:
        return {}
    rows = await session.execute(
        select(Feedback.survey_id, Feedback.kind, Feedback.score).where(Feedback.survey_id.in_(survey_ids))
    )
    return {(survey_id, kind): score for survey_id, kind, score in rows if survey_id is not None}


def _view(survey: Survey, scores: dict[tuple[int, str], int]) -> SurveyView:
    return SurveyView(
        id=survey.id,
        trigger=survey.trigger,
        subject_id=survey.subject_id,
        customer_id=survey.customer_id,
        conversation_id=survey.conversation_id,
        channel=survey.channel,
        state=survey.state,
        csat=scores.get((survey.id, "csat")),
        ces=scores.get((survey.id, "ces")),
        comment=survey.comment,
        delivery_attempts=survey.delivery_attempts,
        last_error=survey.last_error,
        follow_up_task_id=survey.follow_up_task_id,
        created_at=survey.created_at,
        sent_at=survey.sent_at,
        answered_at=survey.answered_at,
    )


async def view_of(session: AsyncSession, survey: Survey) -> SurveyView:
    return _view(survey, await _scores(session, [survey.id]))


async def in_cooldown(
    session: AsyncSession, customer_id: int | None, conversation_id: int | None, now: datetime, hours: float
) -> bool:
    """Was the customer (an anonymous conversation: that conversation) asked a survey in the last `hours`?"""
    if hours <= 0:
        return False
    if customer_id is not None:
        whose = Survey.customer_id == customer_id
    elif conversation_id is not None:
        whose = Survey.conversation_id == conversation_id
    else:
        return False
    recent = await session.scalar(
        select(Survey.id)
        .where(whose, Survey.state.in_(ASKED_STATES), Survey.created_at > now - timedelta(hours=hours))
        .limit(1)
    )
    return recent is not None


async def _open(
    session: AsyncSession,
    settings: Settings,
    *,
    trigger: str,
    subject_id: int,
    customer_id: int | None,
    conversation: Conversation | None,
    asked_now: bool,
    now: datetime,
) -> tuple[Survey, bool]:
    """The survey of (trigger, subject): the one opened before, else a new one, suppressed within the
    cooldown, abandoned without a conversation, else sent (`asked_now`: the bot asks it right away) or pending
    (the backend delivers it through Rasa). A concurrent opening loses on the unique constraint and
    run_transaction starts over, finding the winner's survey."""
    existing = await session.scalar(
        select(Survey).where(Survey.trigger == trigger, Survey.subject_id == subject_id)
    )
    if existing is not None:
        return existing, False
    conversation_id = conversation.id if conversation is not None else None
    survey = Survey(
        trigger=trigger,
        subject_id=subject_id,
        customer_id=customer_id,
        conversation_id=conversation_id,
        sender_id=conversation.sender_id if conversation is not None else None,
        channel=conversation.channel if conversation is not None else None,
        delivery_attempts=0,
        created_at=now,
    )
    if await in_cooldown(session, customer_id, conversation_id, now, settings.survey_cooldown_hours):
        survey.state = "suppressed"
    elif conversation is None:
        survey.state = "abandoned"
        survey.last_error = NO_CONVERSATION
    elif asked_now:
        survey.state = "sent"
        survey.sent_at = now
    else:
        survey.state = "pending"
    session.add(survey)
    await session.flush()
    return survey, True


async def _latest_conversation(session: AsyncSession, customer_id: int) -> Conversation | None:
    return await session.scalar(
        select(Conversation)
        .where(Conversation.customer_id == customer_id)
        .order_by(Conversation.last_seen_at.desc(), Conversation.id.desc())
        .limit(1)
    )


async def open_ticket_survey(
    session: AsyncSession, settings: Settings, ticket: Ticket
) -> tuple[Survey, bool]:
    """The survey of a resolved ticket, in the caller's transaction (the status change's, so a resolution is
    never committed without its survey): asked on the customer's most recently active conversation, else the
    ticket's own."""
    conversation = await _latest_conversation(session, ticket.customer_id)
    if conversation is None and ticket.conversation_id is not None:
        conversation = await session.get(Conversation, ticket.conversation_id)
    return await _open(
        session,
        settings,
        trigger="ticket_resolved",
        subject_id=ticket.id,
        customer_id=ticket.customer_id,
        conversation=conversation,
        asked_now=False,
        now=utcnow(),
    )


async def open_bot_survey(db: Database, settings: Settings, data: SurveyOpen) -> tuple[SurveyView, bool]:
    """The survey the bot asks in its conversation (a handoff ended, onboarding completed): (view, created).
    A subject that names nothing is a 404 naming subject_id, and writes nothing."""

    async def work(session: AsyncSession) -> tuple[SurveyView, bool]:
        if data.trigger == "handoff_ended":
            handoff = await session.get(HandoffRequest, data.subject_id)
            if handoff is None:
                raise NotFound(f"handoff {data.subject_id} not found", {"subject_id": "no such handoff"})
            customer_id = handoff.customer_id
        else:
            if await session.get(Customer, data.subject_id) is None:
                raise NotFound(f"customer {data.subject_id} not found", {"subject_id": "no such customer"})
            customer_id = data.subject_id
        conversation, _ = await touch_conversation(session, data.sender_id, data.channel)
        if customer_id is None:
            customer_id = conversation.customer_id
        survey, created = await _open(
            session,
            settings,
            trigger=data.trigger,
            subject_id=data.subject_id,
            customer_id=customer_id,
            conversation=conversation,
            asked_now=True,
            now=utcnow(),
        )
        return await view_of(session, survey), created

    return await run_transaction(db.sessions, work)


async def get_survey(db: Database, survey_id: int) -> SurveyView:
    async with db.sessions() as session:
        survey = await session.get(Survey, survey_id)
        if survey is None:
            raise NotFound(f"survey {survey_id} not found")
        return await view_of(session, survey)


async def list_surveys(db: Database, query: SurveyQuery) -> Page[SurveyView]:
    statement = where_given(
        select(Survey),
        (Survey.state, query.state),
        (Survey.trigger, query.trigger),
        (Survey.customer_id, query.customer_id),
    )
    async with db.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(statement.subquery())) or 0
        rows = list(
            await session.scalars(
                statement.order_by(Survey.created_at.desc(), Survey.id.desc())
                .limit(query.limit)
                .offset(query.offset)
            )
        )
        scores = await _scores(session, [row.id for row in rows])
    return Page(
        items=[_view(row, scores) for row in rows], total=total, limit=query.limit, offset=query.offset
    )


@dataclass(frozen=True)
class Answered:
    survey: SurveyView
    # This answer made the survey a low score with a comment for the first time: a person must follow up.
    follow_up_due: bool


async def _rating_context(session: AsyncSession, survey: Survey) -> dict[str, object]:
    """What a rating of this survey is about: the ticket, or the agent's help in the handoff."""
    if survey.trigger == "ticket_resolved":
        ticket_exists = await session.get(Ticket, survey.subject_id) is not None
        return {"ticket_id": survey.subject_id if ticket_exists else None, "resolver": "agent"}
    if survey.trigger == "handoff_ended":
        handoff = await session.get(HandoffRequest, survey.subject_id)
        if handoff is None:
            return {"resolver": "agent"}
        return {"handoff_id": handoff.id, "agent_id": handoff.agent_id, "resolver": "agent"}
    return {"resolver": "bot"}


async def answer_survey(db: Database, survey_id: int, data: SurveyAnswer) -> Answered:
    """Record (or replace) the survey's answer: one CSAT and one CES row per survey, updated in place by a
    re-submission; a comment goes on the survey and its rows. A survey that was never asked (suppressed,
    abandoned) is a 409 and changes nothing."""

    async def work(session: AsyncSession) -> Answered:
        survey = await session.get(Survey, survey_id)
        if survey is None:
            raise NotFound(f"survey {survey_id} not found")
        if survey.state not in ASKED_STATES:
            raise Conflict(f"survey {survey_id} was never asked ({survey.state}): it takes no answer")
        now = utcnow()
        context = await _rating_context(session, survey)
        for kind, score in (("csat", data.csat), ("ces", data.ces)):
            if score is None:
                continue
            row = await session.scalar(
                select(Feedback).where(Feedback.survey_id == survey.id, Feedback.kind == kind)
            )
            if row is None:
                session.add(
                    Feedback(
                        kind=kind,
                        score=score,
                        comment=survey.comment,
                        conversation_id=survey.conversation_id,
                        channel=survey.channel or "api",
                        intent=INTENT_OF_TRIGGER[survey.trigger],
                        survey_id=survey.id,
                        created_at=now,
                        **context,
                    )
                )
            else:
                row.score = score
        if data.comment is not None:
            survey.comment = data.comment
            await session.execute(
                update(Feedback)
                .where(Feedback.survey_id == survey.id)
                .values(comment=data.comment)
                .execution_options(synchronize_session=False)
            )
        if survey.state != "answered":
            survey.state = "answered"
            survey.answered_at = now
        await session.flush()
        view = await view_of(session, survey)
        # raise_alert is idempotent per survey (its source_ref): two concurrent answers raise one alert.
        follow_up_due = view.low_score and bool(view.comment) and survey.follow_up_task_id is None
        return Answered(view, follow_up_due)

    return await run_transaction(db.sessions, work)


async def record_follow_up_task(db: Database, survey_id: int, task_id: int) -> SurveyView:
    """The follow-up task raised for the survey's low score with a comment."""
    async with db.sessions() as session:
        survey = await session.get(Survey, survey_id)
        if survey is None:
            raise NotFound(f"survey {survey_id} not found")
        if survey.follow_up_task_id is None:
            survey.follow_up_task_id = task_id
            survey.alerted_at = utcnow()
            await session.commit()
        return await view_of(session, survey)
