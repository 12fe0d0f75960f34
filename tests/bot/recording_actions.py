"""An action package for tests/bot/test_action_server.py: its one action leaves a trace, so the test can tell
whether the action server ran it (the assistant's actions would need a running cs_backend)."""

from __future__ import annotations

import logging
import os

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

logger = logging.getLogger(__name__)

# The file each run of the action appends its sender id to.
CALLS_FILE_VARIABLE = "RECORDED_CALLS_FILE"


class ActionRecordCall(Action):
    def name(self) -> str:
        return "action_record_call"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        with open(os.environ[CALLS_FILE_VARIABLE], "a", encoding="utf-8") as calls:
            calls.write(f"{tracker.sender_id}\n")
        logger.info("recorded a call")
        dispatcher.utter_message(text="recorded")
        return []
