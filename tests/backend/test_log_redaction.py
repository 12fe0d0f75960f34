"""log_redaction in the backend environment (spaCy 3.8), and in cs_backend's logging setup."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
import spacy

from cs_backend.logs import configure_logging
from log_redaction import redact
from tests.redaction_cases import KEPT, REDACTED


def test_the_backend_environment_has_a_current_spacy() -> None:
    assert spacy.__version__.startswith("3.8.")


@pytest.mark.parametrize(("line", "expected"), REDACTED)
def test_personal_data_is_replaced(line: str, expected: str) -> None:
    assert redact(line) == expected


@pytest.mark.parametrize("line", KEPT)
def test_other_numbers_and_text_are_kept(line: str) -> None:
    assert redact(line) == line


@pytest.fixture
def restored_record_factory() -> Iterator[None]:
    factory = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(factory)


def test_cs_backends_logging_redacts_every_record(
    restored_record_factory: None, caplog: pytest.LogCaptureFixture
) -> None:
    configure_logging("INFO")
    configure_logging("INFO")  # twice (tests, a second app) redacts once
    log = logging.getLogger("cs_backend.somewhere")
    with caplog.at_level(logging.INFO):
        log.info("ticket %d for %s, phone %s", 42, "ada@example.com", "+44 20 7946 0958")
        try:
            raise LookupError("card 4111 1111 1111 1111 refused")
        except LookupError:
            log.exception("payment of order %s failed", "123456789012")
    assert caplog.messages[0] == "ticket 42 for [email], phone [phone]"
    assert caplog.messages[1] == "payment of order 123456789012 failed"
    assert "LookupError: card [card] refused" in caplog.text
    assert "ada@example.com" not in caplog.text and "4111 1111" not in caplog.text


def test_a_line_without_candidates_costs_microseconds() -> None:
    """The cheap pre-check keeps spaCy off ordinary lines (the figure is in docs/SECURITY.md)."""
    line = "GET /api/tickets?email=… 200 3.2ms"
    redact(line)
    start = time.perf_counter()
    for _ in range(10_000):
        redact(line)
    per_line = (time.perf_counter() - start) / 10_000
    assert per_line < 50e-6, f"{per_line * 1e6:.1f} µs per line"
