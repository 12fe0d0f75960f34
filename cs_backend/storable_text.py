"""Whether a string can be stored as database text: the one check behind every input path (request fields,
the Idempotency-Key header, Rasa's events)."""

from __future__ import annotations

from typing import Literal

UnstorableReason = Literal["nul_character", "invalid_unicode"]


def unstorable_reason(text: str) -> UnstorableReason | None:
    """Why `text` cannot be stored, or None when it can.

    PostgreSQL text cannot hold NUL, and lone surrogates (valid in JSON as "\\ud800", and what undecodable
    header bytes arrive as) cannot be encoded as UTF-8: both would fail inside the database driver.
    """
    if "\x00" in text:
        return "nul_character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "invalid_unicode"
    return None
