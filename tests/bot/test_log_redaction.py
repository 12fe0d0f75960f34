"""log_redaction in the bot environment (spaCy 3.4, Rasa's pin): the cases of tests/redaction_cases.py, and
the records of the logging module."""

from __future__ import annotations

import logging
import sys

import pytest
import spacy

from log_redaction import redact
from log_redaction.records import redact_record
from tests.redaction_cases import KEPT, REDACTED


def test_the_bot_environment_has_rasas_spacy() -> None:
    assert spacy.__version__.startswith("3.4.")


@pytest.mark.parametrize(("line", "expected"), REDACTED)
def test_personal_data_is_replaced(line: str, expected: str) -> None:
    assert redact(line) == expected


@pytest.mark.parametrize("line", KEPT)
def test_other_numbers_and_text_are_kept(line: str) -> None:
    assert redact(line) == line


def test_a_record_is_redacted_in_its_message_and_traceback() -> None:
    try:
        raise ValueError("no customer ada@example.com")
    except ValueError:
        record = logging.getLogger("test").makeRecord(
            "test", logging.ERROR, __file__, 1, "message %r from %s", ("hi", "+44 20 7946 0958"), None
        )
        record.exc_info = sys.exc_info()
    redact_record(record)
    assert record.getMessage() == "message 'hi' from [phone]"
    assert record.exc_text is not None and "ValueError: no customer [email]" in record.exc_text
