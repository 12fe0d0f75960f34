"""Every table of cs_backend on one metadata: what Alembic's env.py compares against for autogenerate."""

from cs_backend.accounts.models import Account, AccountSession
from cs_backend.activities.models import CustomerActivity
from cs_backend.alerts.models import AlertDelivery, FollowUpTask
from cs_backend.canned_responses.models import CannedResponse
from cs_backend.churn.models import ChurnSignal
from cs_backend.conversations.models import Conversation
from cs_backend.customers.models import Customer
from cs_backend.db import Base
from cs_backend.feedback.models import Feedback
from cs_backend.health_scores.models import HealthScore, HealthScoreHistory, HealthSignalCursor
from cs_backend.identities.models import CustomerIdentity, LinkCode, LinkEvent
from cs_backend.nlu_review.models import MisunderstoodMessage, ReviewWatch
from cs_backend.onboarding.models import CompletedStep, OnboardingNudge
from cs_backend.outcomes.models import (
    ConversationOutcome,
    OutcomeCursor,
    OutcomeSession,
    ProcessedOutcomeEvent,
)
from cs_backend.privacy.models import CustomerDeletion
from cs_backend.routing.models import AgentProfile, HandoffMessage, HandoffRequest, SlaBreach, Team
from cs_backend.segments.models import SegmentRun
from cs_backend.surveys.models import Survey
from cs_backend.tickets.models import Ticket

__all__ = [
    "Account",
    "AccountSession",
    "AgentProfile",
    "AlertDelivery",
    "Base",
    "CannedResponse",
    "ChurnSignal",
    "CompletedStep",
    "Conversation",
    "ConversationOutcome",
    "Customer",
    "CustomerActivity",
    "CustomerDeletion",
    "CustomerIdentity",
    "Feedback",
    "FollowUpTask",
    "HandoffMessage",
    "HandoffRequest",
    "HealthScore",
    "HealthScoreHistory",
    "HealthSignalCursor",
    "LinkCode",
    "LinkEvent",
    "MisunderstoodMessage",
    "OnboardingNudge",
    "OutcomeCursor",
    "OutcomeSession",
    "ProcessedOutcomeEvent",
    "ReviewWatch",
    "SegmentRun",
    "SlaBreach",
    "Survey",
    "Team",
    "Ticket",
]
