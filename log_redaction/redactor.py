"""`redact(text)`: `text` with email addresses, phone numbers and card numbers replaced by `[email]`,
`[phone]` and `[card]`.

What counts:
- an email address: a token spaCy finds `like_email`, or one that contains an address (`mailto:a@b.example`);
- a card number: 13 to 19 digits, whole or in groups separated by spaces or dashes, that pass the Luhn check
  (so most other long numbers, order numbers among them, are kept);
- a phone number: 7 to 15 digits after a `+` (`+44 20 7946 0958`, `+1-555-123-4567`); 9 to 15 digits in
  groups (`(555) 123-4567`, `020 7946 0958`); or 7 to 15 digits right after a word such as "phone", "call"
  or "mobile" ("call me on 5551234").
Kept: plain numbers (ticket and order numbers, however long, unless they pass as a card or follow a phone
word), dates (`2026-11-30`, `30.11.2026`, `11/30/2026`), times and amounts (`1,234.56`).

The text is split by the tokenizer of `spacy.blank("en")` (identical for these inputs in spaCy 3.4 and 3.8),
and a `Matcher` finds candidate spans; the checks above decide which to replace. Most log lines contain
nothing of the kind: a cheap regular expression (an `@`, or seven digits close together) lets them through
without running spaCy at all. The pipeline is built on first use, so importing this module costs nothing.
"""

from __future__ import annotations

import re
import threading
from typing import Any

EMAIL_LABEL = "[email]"
PHONE_LABEL = "[phone]"
CARD_LABEL = "[card]"

# Could the text hold an address or a number of 7+ digits (with separators between them)? Lines without
# either are returned as they are.
_SEVEN_DIGITS = re.compile(r"\d(?:[\s().+/-]{0,3}\d){6}")
_MAY_HOLD_PERSONAL_DATA = re.compile(r"@|" + _SEVEN_DIGITS.pattern)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Tokens that start or continue a written number, by their shape (digits are `d`, runs cut at 4): digits,
# digits after a `+`, or a separator standing alone. Shapes are compared by hash, much faster than a regex.
_DIGIT_SHAPES = ["d", "dd", "ddd", "dddd"]
_PLUS_SHAPES = ["+d", "+dd", "+ddd", "+dddd"]
# `(0)20`, `(555)`: brackets written against the digits.
_BRACKET_SHAPES = [
    *(f"({digits}" for digits in _DIGIT_SHAPES),
    *(f"{digits})" for digits in _DIGIT_SHAPES),
    *(f"({digits})" for digits in _DIGIT_SHAPES),
    *(f"d){digits}" for digits in _DIGIT_SHAPES),
]
_SEPARATORS = ["-", "(", ")", ".", "/", "+"]
_NUMBER_START = [*_DIGIT_SHAPES, *_PLUS_SHAPES, *_BRACKET_SHAPES, "(", "+"]
_NUMBER_PIECE = [*_DIGIT_SHAPES, *_PLUS_SHAPES, *_BRACKET_SHAPES, *_SEPARATORS]
# A token with 7 digits in a row inside other characters: `tel:+15551234567`, `030/1234567`.
_DIGITS_IN_TOKEN = r"\d{7}"
# One token of digit groups joined by dots, slashes or dashes: `555.123.4567`.
_GROUPED_TOKEN = r"^[+(]?\d[\d()./-]*\d$"
_PHONE_WORDS = [
    "phone",
    "telephone",
    "tel",
    "tel.",
    "mobile",
    "cell",
    "call",
    "whatsapp",
    "fax",
    "sms",
]
_PHONE_FILLERS = ["number", "no", "no.", "nr", "is", ":", "me", "at", "on", "to", "-", "my", "+"]
# A digit run within a candidate: digits with the separators people write between them.
_DIGIT_RUN = re.compile(r"\+?\(?\d(?:[\d \-().\/]*\d)?\)?")
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")
_CARD_SEPARATORS = frozenset(" -")

_EMAIL_MATCH = "EMAIL"
_NUMBER_MATCH = "NUMBER"
_PHONE_WORD_MATCH = "PHONE_AFTER_WORD"


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of card numbers: every second digit from the right doubled (minus 9 above 9)."""
    total = 0
    for position, character in enumerate(reversed(digits)):
        value = int(character)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _number_label(run: str) -> str | None:
    """The label of a digit run, or None to keep it."""
    digits = re.sub(r"\D", "", run)
    separators = set(re.sub(r"[\d+]", "", run))
    if 13 <= len(digits) <= 19 and separators <= _CARD_SEPARATORS and luhn_valid(digits):
        return CARD_LABEL
    if not 7 <= len(digits) <= 15 or _DATE.search(run):
        return None
    if separators == {"."} and run.count(".") == 1:
        return None  # a decimal number (a Unix time, an amount), where a phone has groups
    if run.startswith("+"):
        return PHONE_LABEL
    if separators and len(digits) >= 9:
        return PHONE_LABEL
    return None


class _Pipeline:
    """spacy.blank("en") and the two Matchers (addresses, numbers), built once per process on first use."""

    _lock = threading.Lock()
    _built: tuple[Any, Any, Any] | None = None

    @classmethod
    def get(cls) -> tuple[Any, Any, Any]:
        if cls._built is None:
            with cls._lock:
                if cls._built is None:
                    cls._built = cls._build()
        return cls._built

    @staticmethod
    def _build() -> tuple[Any, Any, Any]:
        import spacy
        from spacy.matcher import Matcher

        nlp = spacy.blank("en")
        emails = Matcher(nlp.vocab)
        # LIKE_EMAIL is spaCy's own test; the `@` pattern also finds addresses inside a token (`mailto:...`).
        emails.add(_EMAIL_MATCH, [[{"LIKE_EMAIL": True}], [{"TEXT": {"REGEX": "@"}}]])
        numbers = Matcher(nlp.vocab)
        numbers.add(
            _NUMBER_MATCH,
            [
                [{"SHAPE": {"IN": _NUMBER_START}}, {"SHAPE": {"IN": _NUMBER_PIECE}, "OP": "*"}],
                [{"LENGTH": {">=": 7}, "TEXT": {"REGEX": _DIGITS_IN_TOKEN}}],
                [{"LENGTH": {">=": 9}, "TEXT": {"REGEX": _GROUPED_TOKEN}}],
            ],
            greedy="LONGEST",
        )
        numbers.add(
            _PHONE_WORD_MATCH,
            [
                [
                    {"LOWER": {"IN": _PHONE_WORDS}},
                    {"LOWER": {"IN": _PHONE_FILLERS}, "OP": "*"},
                    {"TEXT": {"REGEX": _GROUPED_TOKEN}},
                ]
            ],
            greedy="LONGEST",
        )
        return nlp, emails, numbers


def _replacements(text: str) -> list[tuple[int, int, str]]:
    """(start, end, label) of every piece of `text` to replace, in no particular order, maybe overlapping."""
    nlp, emails, numbers = _Pipeline.get()
    doc = nlp.make_doc(text)
    found: list[tuple[int, int, str]] = []
    matches = [*emails(doc)] if "@" in text else []
    if _SEVEN_DIGITS.search(text):
        matches.extend(numbers(doc))
    for match_id, start, end in matches:
        kind = nlp.vocab.strings[match_id]
        span = doc[start:end]
        offset = span.start_char
        span_text = text[offset : span.end_char]
        if kind == _EMAIL_MATCH:
            found.extend(
                (offset + m.start(), offset + m.end(), EMAIL_LABEL) for m in _EMAIL.finditer(span_text)
            )
        elif kind == _PHONE_WORD_MATCH:
            last = doc[end - 1]  # the number
            if 7 <= sum(character.isdigit() for character in last.text) <= 15 and not _DATE.search(last.text):
                found.append((last.idx, last.idx + len(last.text), PHONE_LABEL))
        else:
            for run in _DIGIT_RUN.finditer(span_text):
                label = _number_label(run.group())
                if label is not None:
                    found.append((offset + run.start(), offset + run.end(), label))
    return found


def redact(text: str) -> str:
    """`text` with every email address, phone number and card number replaced by its label."""
    if not _MAY_HOLD_PERSONAL_DATA.search(text):
        return text
    # Longest first among pieces that start together; a piece overlapping a replaced one only extends it.
    pieces = sorted(_replacements(text), key=lambda piece: (piece[0], -piece[1]))
    if not pieces:
        return text
    parts: list[str] = []
    position = 0
    for start, end, label in pieces:
        if start < position:
            position = max(position, end)
            continue
        parts.append(text[position:start])
        parts.append(label)
        position = end
    parts.append(text[position:])
    return "".join(parts)
