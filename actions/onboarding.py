"""Onboarding: the checklist lives in cs_backend (cs_backend/onboarding/checklist.toml,
docs/API_ONBOARDING_OUTCOMES.md) and so does each customer's progress; these actions read or update it and
report what they found.

Like the ticket actions they speak only through slots: `onboarding_outcome` (next_step, step_explained,
step_marked, step_queued, already_done, all_done, unknown_step, nudge, nudge_obsolete, unavailable) and the
text slots the responses show (`onboarding_step_title`, `onboarding_step_how_to`, `onboarding_step_docs`,
`onboarding_done_title`, `onboarding_done_count`, `onboarding_total`, `onboarding_checklist`); the rules in
dialogue/rules/onboarding.yml pick the `utter_onboarding_*` response.

The customer is the conversation (sender_id, input channel). Asking about onboarding (the next step, the
checklist, how to do a step) starts it: POST /api/onboarding/start gives the conversation an anonymous
customer if it has none, whom the backend's nudge job (trigger_intent EXTERNAL_onboarding_nudge) may follow up
on that same pair — Rasa copies the conversation's latest input channel onto the external event, so
`input_channel` is the real one. Marking a step done creates the customer too; the nudge only reads.

Starting and marking a step done are writes: when cs_backend does not confirm one, it is kept in the outbox
(actions/api/outbox.py) and reaches cs_backend shortly. A step kept so is told as noted (step_queued); a
start kept so has no progress to show, which is told as unavailable (the checklist cannot be shown now).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.api.client import BackendClient, Queued
from actions.api.errors import BackendError
from actions.api.models import OnboardingProgress, OnboardingStep
from actions.common import conversation_channel, write_key
from actions.language import EN, ZH, language_of
from actions.onboarding_texts import step_how_to, step_title
from actions.parsing import match_onboarding_step

logger = logging.getLogger(__name__)

# onboarding_outcome values
NEXT_STEP = "next_step"
STEP_EXPLAINED = "step_explained"
STEP_MARKED = "step_marked"
# The step's completion is kept in the outbox: cs_backend records it shortly.
STEP_QUEUED = "step_queued"
ALREADY_DONE = "already_done"
ALL_DONE = "all_done"
UNKNOWN_STEP = "unknown_step"
NUDGE = "nudge"
NUDGE_OBSOLETE = "nudge_obsolete"
UNAVAILABLE = "unavailable"

DONE_MARK, OPEN_MARK = "✅", "⬜"

STEP_SLOT = "onboarding_step"
# The step the bot last told about, kept for follow-ups (actions/context.py).
STEP_IN_FOCUS = "step_in_focus"


def checklist_text(progress: OnboardingProgress, language: str) -> str:
    """ "✅ Create your Acme Cloud account\\n⬜ Verify your email address\\n..." in checklist order, the
    titles in `language`."""
    return "\n".join(
        f"{DONE_MARK if step.done else OPEN_MARK} {step_title(step.key, step.title, language)}"
        for step in progress.steps
    )


def named_step(tracker: Tracker) -> str | None:
    """What the customer called the step: the `onboarding_step` slot, else this message's entity."""
    value = tracker.get_slot(STEP_SLOT)
    if value:
        return str(value)
    entity = next(tracker.get_latest_entity_values(STEP_SLOT), None)
    return str(entity) if entity else None


def _pairs(items: Iterable[Any]) -> list[tuple[str, str]]:
    return [(item.key, item.title) for item in items]


def step_in_focus(tracker: Tracker, progress: OnboardingProgress) -> str | None:
    """The step a customer means without naming it ("done!", "how do I do that?").

    A step recognisable in the message text ("I've created my first project" with no entity), else the step
    the bot last spoke about (`onboarding_step_title`) while it is still open, else the next open step.
    """
    text = (tracker.latest_message or {}).get("text") or ""
    if text and not text.startswith("/"):
        key = match_onboarding_step(text, _pairs(progress.steps))
        if key:
            return key
    told = tracker.get_slot("onboarding_step_title")
    if told:
        for state in progress.steps:
            # Told in either language: the customer may have switched since.
            titles = {step_title(state.key, state.title, language) for language in (EN, ZH)}
            if told in titles and not state.done:
                return state.key
    return progress.next_step.key if progress.next_step else None


def step_slots(step: OnboardingStep | None, language: str) -> list[EventType]:
    """The step told about, in `language`; a step also becomes the one in focus ("how do I do that?",
    actions/context.py)."""
    return [
        SlotSet("onboarding_step_title", step_title(step.key, step.title, language) if step else None),
        SlotSet("onboarding_step_how_to", step_how_to(step.key, step.how_to, language) if step else None),
        SlotSet("onboarding_step_docs", step.docs_url if step else None),
        *([SlotSet(STEP_IN_FOCUS, step.key)] if step else []),
    ]


def _progress_slots(progress: OnboardingProgress, language: str) -> list[EventType]:
    return [
        SlotSet("onboarding_done_count", str(progress.done_count)),
        SlotSet("onboarding_total", str(progress.total)),
        SlotSet("onboarding_checklist", checklist_text(progress, language)),
    ]


def _outcome(outcome: str, *events: EventType) -> list[EventType]:
    # The step name is used up: a later "done" without one must not reuse it.
    return [SlotSet("onboarding_outcome", outcome), *events, SlotSet(STEP_SLOT, None)]


def _unavailable(action: str, error: BackendError | str) -> list[EventType]:
    logger.warning("%s: onboarding checklist unavailable: %s", action, error)
    return _outcome(UNAVAILABLE)


def _unknown_step(progress: OnboardingProgress | None, language: str) -> list[EventType]:
    """No such step: the checklist is listed (with what is done, when the progress is known)."""
    return _outcome(
        UNKNOWN_STEP, *step_slots(None, language), *(_progress_slots(progress, language) if progress else [])
    )


async def start_onboarding(backend: BackendClient, tracker: Tracker) -> OnboardingProgress | Queued:
    """Starts onboarding for the conversation (idempotent; kept in the outbox when not confirmed)."""
    return await backend.start_onboarding(
        tracker.sender_id,
        conversation_channel(tracker),
        idempotency_key=write_key("onboarding-start", tracker),
    )


def _step_by_key(steps: Sequence[OnboardingStep], key: str | None) -> OnboardingStep | None:
    return next((step for step in steps if step.key == key), None)


def _all_done_events(progress: OnboardingProgress, language: str, **extra: Any) -> list[EventType]:
    """Everything is done: the onboarding's survey (the CES question, about onboarding) follows, when
    action_request_survey (actions/surveys.py) finds cs_backend's survey rules allow it."""
    return _outcome(
        ALL_DONE,
        *step_slots(None, language),
        *_progress_slots(progress, language),
        *[SlotSet(name, value) for name, value in extra.items()],
        SlotSet("feedback_topic", "onboarding"),
    )


class _ProgressAnswer(Action, ABC):
    """Starts onboarding for the conversation (the customer asked about it) and answers from the progress
    alone (`answer`); unavailable when cs_backend is not. (Abstract, so the action server does not register
    it.)"""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            async with BackendClient() as backend:
                progress = await start_onboarding(backend, tracker)
        except BackendError as error:
            return _unavailable(self.name(), error)
        if isinstance(progress, Queued):
            return _unavailable(self.name(), "the start is queued, the progress unknown")
        return self.answer(progress, language_of(tracker))

    @abstractmethod
    def answer(self, progress: OnboardingProgress, language: str) -> list[EventType]:
        """The events that tell the customer about `progress`, in `language`."""


class ActionOnboardingNextStep(_ProgressAnswer):
    """ "What should I do next?": the first open step (next_step), or all_done with the CES question."""

    def name(self) -> str:
        return "action_onboarding_next_step"

    def answer(self, progress: OnboardingProgress, language: str) -> list[EventType]:
        if progress.next_step is None:
            return _all_done_events(progress, language)
        return _outcome(
            NEXT_STEP, *step_slots(progress.next_step, language), *_progress_slots(progress, language)
        )


class ActionOnboardingProgress(_ProgressAnswer):
    """ "How far along am I?": the checklist with ✅/⬜ (next_step, or all_done without asking CES again)."""

    def name(self) -> str:
        return "action_onboarding_progress"

    def answer(self, progress: OnboardingProgress, language: str) -> list[EventType]:
        outcome = NEXT_STEP if progress.next_step is not None else ALL_DONE
        return _outcome(
            outcome, *step_slots(progress.next_step, language), *_progress_slots(progress, language)
        )


class ActionOnboardingExplainStep(Action):
    """ "How do I verify my email?": its instructions (step_explained), or unknown_step with the list."""

    def name(self) -> str:
        return "action_onboarding_explain_step"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        said = named_step(tracker)
        language = language_of(tracker)
        try:
            async with BackendClient() as backend:
                steps = await backend.onboarding_steps()
                progress = await start_onboarding(backend, tracker)
        except BackendError as error:
            return _unavailable(self.name(), error)
        if isinstance(progress, Queued):
            if not said:  # the step in focus depends on the progress, unknown until the start is delivered
                return _unavailable(self.name(), "the start is queued, the progress unknown")
            key = match_onboarding_step(said, _pairs(steps))
            step = _step_by_key(steps, key)
            if step is None:
                return _unknown_step(None, language)
            return _outcome(STEP_EXPLAINED, *step_slots(step, language))
        key = match_onboarding_step(said, _pairs(steps)) if said else step_in_focus(tracker, progress)
        step = _step_by_key(steps, key)
        if step is None:
            # Unknown: the checklist is listed, with what is done.
            logger.info("no onboarding step matches %r", said)
            return _unknown_step(progress, language)
        # A step found without a name (the one in focus) is told with the progress, as the next step is.
        extra = [] if said else _progress_slots(progress, language)
        return _outcome(STEP_EXPLAINED, *step_slots(step, language), *extra)


class ActionOnboardingMarkDone(Action):
    """ "I've verified my email": marks the step done (source customer) and tells what is next.

    Outcomes: step_marked (more remain), all_done (that was the last one, or all were done already),
    already_done (the step was done before), unknown_step (no such step).
    """

    def name(self) -> str:
        return "action_onboarding_mark_done"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        said = named_step(tracker)
        language = language_of(tracker)
        channel = conversation_channel(tracker)
        try:
            async with BackendClient() as backend:
                # Read only: completing the step creates the customer, and an unknown step writes nothing.
                before = await backend.onboarding_progress(tracker.sender_id, channel)
                if said:
                    key = match_onboarding_step(said, _pairs(before.steps))
                    if key is None:
                        logger.info("no onboarding step matches %r", said)
                        return _unknown_step(before, language)
                else:
                    key = step_in_focus(tracker, before)
                    if key is None:  # nothing named and nothing left to do
                        return _all_done_events(before, language, onboarding_done_title=None)
                state = before.step(key)
                progress: OnboardingProgress | Queued
                if state is not None and state.done:
                    progress = before
                else:
                    progress = await backend.complete_onboarding_step(
                        key,
                        tracker.sender_id,
                        channel,
                        source="customer",
                        idempotency_key=write_key(f"onboarding-{key}", tracker),
                    )
        except BackendError as error:
            if error.is_refusal and "step" in error.fields:
                # The checklist changed between the two requests: the step is gone.
                logger.warning("cs_backend refused onboarding step: %s", error)
                return _unknown_step(None, language)
            return _unavailable(self.name(), error)

        if isinstance(progress, Queued):
            logger.info("onboarding step %s queued (outbox entry %s)", key, progress.entry_id)
            return _outcome(
                STEP_QUEUED,
                SlotSet(
                    "onboarding_done_title", step_title(state.key, state.title, language) if state else None
                ),
                *step_slots(None, language),
            )
        marked = progress.step(key) or state
        done_title = step_title(marked.key, marked.title, language) if marked else None
        if progress.completed or progress.next_step is None:
            # Also when everything was done already: "that's all N steps" and the CES question.
            return _all_done_events(progress, language, onboarding_done_title=done_title)
        outcome = ALREADY_DONE if state is not None and state.done else STEP_MARKED
        return _outcome(
            outcome,
            SlotSet("onboarding_done_title", done_title),
            *step_slots(progress.next_step, language),
            *_progress_slots(progress, language),
        )


class ActionOnboardingNudge(Action):
    """cs_backend's stalled-customer job (EXTERNAL_onboarding_nudge, entity onboarding_step = the step key):
    a reminder about that step while it is still open (nudge), else nothing to say (nudge_obsolete)."""

    def name(self) -> str:
        return "action_onboarding_nudge"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        said = named_step(tracker)
        try:
            async with BackendClient() as backend:
                progress = await backend.onboarding_progress(tracker.sender_id, conversation_channel(tracker))
                steps = await backend.onboarding_steps()
        except BackendError as error:
            return _unavailable(self.name(), error)
        key = match_onboarding_step(said, _pairs(steps)) if said else None
        if key is None:
            # No step (or one the checklist no longer has): remind about the next open step, if any.
            logger.info("nudge for %r: reminding about the next step instead", said)
            key = progress.next_step.key if progress.next_step else None
        step = _step_by_key(steps, key)
        if step is None or progress.is_done(step.key):
            logger.info("nudge about %r for %s is obsolete", said, tracker.sender_id)
            return _outcome(NUDGE_OBSOLETE)
        language = language_of(tracker)
        return _outcome(NUDGE, *step_slots(step, language), *_progress_slots(progress, language))
