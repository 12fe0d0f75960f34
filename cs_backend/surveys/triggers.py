"""What opens a survey in the backend itself: a ticket resolved (the bot opens the others, routes.py)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from cs_backend.app_keys import SETTINGS, SURVEY_COURIER
from cs_backend.surveys.service import open_ticket_survey
from cs_backend.tickets.models import Ticket


class TicketResolutionSurvey:
    """The `after` hook of a ticket's status change (tickets.service.change_status): a resolution opens the
    ticket's survey in the same transaction; `deliver()`, once that is committed, sends it to Rasa."""

    def __init__(self, app: web.Application) -> None:
        self._settings = app[SETTINGS]
        self._courier = app[SURVEY_COURIER]
        self._opened: int | None = None

    async def __call__(self, session: AsyncSession, ticket: Ticket, previous: str) -> None:
        if ticket.status != "resolved":
            return
        survey, created = await open_ticket_survey(session, self._settings, ticket)
        self._opened = survey.id if created and survey.state == "pending" else None

    def deliver(self) -> None:
        if self._opened is not None:
            self._courier.deliver_soon(self._opened)
