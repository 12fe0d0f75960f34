"""Pure functions that read what customers type: ratings, priorities, emails, problem descriptions, ticket
numbers. No Rasa, no I/O: unit-tested in tests/actions/test_parsing.py.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Optional

# --- CSAT ratings ----------------------------------------------------------------------------------------------

CSAT_MIN, CSAT_MAX = 1, 5

_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
}

# Emoji mapped to the rating they most plausibly mean.
_EMOJI_SCORES = {
    "😍": 5, "🤩": 5, "🥰": 5, "😁": 5, "😄": 5, "😃": 5, "😀": 5, "🎉": 5, "❤️": 5, "❤": 5, "💯": 5,
    "🙂": 4, "😊": 4, "👍": 4, "👌": 4,
    "😐": 3, "😑": 3, "🤷": 3, "😶": 3,
    "🙁": 2, "😕": 2, "☹️": 2, "☹": 2, "👎": 2, "😟": 2,
    "😞": 1, "😢": 1, "😭": 1, "😠": 1, "😡": 1, "🤬": 1, "💩": 1,
}

# Words, only used when the message has no number, stars or emoji, and no negation ("not bad").
_WORD_SCORES = {
    "excellent": 5, "perfect": 5, "amazing": 5, "awesome": 5, "fantastic": 5, "outstanding": 5, "superb": 5,
    "great": 4, "good": 4, "helpful": 4, "nice": 4,
    "ok": 3, "okay": 3, "meh": 3, "average": 3, "fine": 3, "mediocre": 3, "so-so": 3,
    "poor": 2, "bad": 2, "disappointing": 2, "unhelpful": 2,
    "terrible": 1, "awful": 1, "horrible": 1, "useless": 1, "worst": 1,
}

_FILLED_STARS = "★⭐🌟"
_EMPTY_STARS = "☆"
_KEYCAP = "\u20e3"
_NEGATION = re.compile(r"\b(not|no|never|isn't|wasn't|aren't|weren't|hardly)\b|n't\b")
_FRACTION = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:/|out\s+of|of)\s*(\d+)(?![\d.])")
_NUMBER = re.compile(r"(?<![\d.#])(\d+(?:[.,]\d+)?)(?![\d.])")
_WORD = re.compile(r"[a-z][a-z'-]*")


def _round_half_up(value: float) -> int:
    return int(math.floor(value + 0.5))


def _in_range(score: int) -> Optional[int]:
    return score if CSAT_MIN <= score <= CSAT_MAX else None


def parse_csat(text: object) -> Optional[int]:
    """Read a 1-5 satisfaction rating, or None when the message holds none (or an out-of-range one).

    Understands "4", "4.5" (rounded half up), "four", "4/5", "8/10" (scaled), "4 out of 5", "★★★★☆",
    "⭐⭐⭐⭐", keycap digits like "4️⃣", a few emoji (😀 -> 5, 🙁 -> 2, ...) and a few words ("great" -> 4).
    """
    if text is None:
        return None
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        return _in_range(_round_half_up(float(text))) if math.isfinite(float(text)) else None
    raw = unicodedata.normalize("NFC", str(text)).strip()
    if not raw:
        return None
    lowered = raw.lower()

    # "4/5", "8 / 10", "3 out of 5"
    fraction = _FRACTION.search(lowered)
    if fraction:
        numerator, denominator = float(fraction.group(1)), float(fraction.group(2))
        if denominator <= 0 or numerator > denominator:
            return None
        return _in_range(max(CSAT_MIN, _round_half_up(numerator / denominator * CSAT_MAX)))

    # Keycap digits ("4️⃣") before plain digits: they contain the digit itself.
    keycap = re.search(r"([0-9])\ufe0f?" + _KEYCAP, raw)
    if keycap:
        return _in_range(int(keycap.group(1)))

    number = _NUMBER.search(lowered)
    if number:
        return _in_range(_round_half_up(float(number.group(1).replace(",", "."))))

    words = _WORD.findall(lowered)
    for word in words:
        if word in _NUMBER_WORDS:
            return _NUMBER_WORDS[word]

    filled = sum(raw.count(star) for star in _FILLED_STARS)
    if filled:
        return _in_range(filled)
    if _EMPTY_STARS in raw:
        return None

    for emoji, score in sorted(_EMOJI_SCORES.items(), key=lambda item: -len(item[0])):
        if emoji in raw:
            return score

    if not _NEGATION.search(lowered):
        for word in words:
            if word in _WORD_SCORES:
                return _WORD_SCORES[word]
    return None


# --- ticket priority -------------------------------------------------------------------------------------------

PRIORITIES = ("low", "normal", "high", "urgent")

_PRIORITY_PATTERNS = (
    # Order matters: "not urgent" must win over "urgent", "high priority" over the bare words.
    ("low", re.compile(r"\b(not\s+(very\s+)?(urgent|important|critical)|no\s+rush|whenever|low|minor|trivial|"
                       r"lowest|p4)\b")),
    ("urgent", re.compile(r"\b(urgent|asap|a\.s\.a\.p|critical|emergency|blocker|blocking|highest|top|p1|"
                          r"immediately|right\s+now)\b")),
    ("high", re.compile(r"\b(high|important|major|serious|p2)\b")),
    ("normal", re.compile(r"\b(normal|medium|regular|standard|moderate|default|average|p3|"
                          r"not\s+(too|that|so)\s+urgent)\b")),
)


def normalize_priority(value: object) -> Optional[str]:
    """Map what a customer says about priority onto low|normal|high|urgent, or None if it says nothing."""
    if value is None:
        return None
    text = " ".join(str(value).lower().split())
    if not text:
        return None
    if text in PRIORITIES:
        return text
    # "not too urgent" is normal, not low: check it before the generic "not urgent".
    if re.search(r"\bnot\s+(too|that|so)\s+urgent\b", text):
        return "normal"
    for priority, pattern in _PRIORITY_PATTERNS:
        if pattern.search(text):
            return priority
    return None


_URGENCY = re.compile(
    r"\b(urgent(ly)?|asap|a\.s\.a\.p\.?|critical|emergency|blocker|"
    r"(production|prod|site|website|app|everything|service)\s+(is\s+)?(completely\s+)?down)\b"
)
_NOT_URGENT = re.compile(r"\b(not|isn't|isnt|no|nothing)\s+(very\s+|too\s+|that\s+|so\s+)?(urgent|critical)\b")


def infer_urgency(description: object) -> bool:
    """True when a problem description says it is urgent ("urgent", "asap", "critical", "production is down").

    "not urgent" / "nothing critical" do not count.
    """
    if not description:
        return False
    text = str(description).lower()
    without_negated = _NOT_URGENT.sub(" ", text)
    return bool(_URGENCY.search(without_negated))


# --- email -----------------------------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.+-])"
    r"([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
    r"(?![\w-])"
)


def extract_email(text: object) -> Optional[str]:
    """The first plausible email address in the text (domain lower-cased), or None.

    "my email is Jane.Doe@Startup.io." -> "Jane.Doe@startup.io"; "jane at startup dot io" -> None.
    """
    if not text:
        return None
    match = _EMAIL.search(str(text).strip())
    if not match:
        return None
    address = match.group(1)
    local, domain = address.rsplit("@", 1)
    if len(address) > 254 or len(local) > 64:
        return None
    return f"{local}@{domain.lower()}"


# --- problem description ---------------------------------------------------------------------------------------

DESCRIPTION_MIN_CHARS = 12
DESCRIPTION_MIN_WORDS = 3
DESCRIPTION_MAX_CHARS = 5000

_ALNUM_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)

# Phrases that ask for a ticket or announce a problem without describing it.
_GENERIC_PREFIXES = re.compile(
    r"^\s*(?:"
    r"(?:hi|hello|hey)\b[\s,!.]*|"
    r"(?:please\s+|can\s+you\s+|could\s+you\s+)?"
    r"(?:(?:(?:i\s+)?(?:want|need|would\s+like|wanna)|i'?d\s+like)\s+(?:to\s+)?)?"
    r"(?:open|create|file|submit|raise|log|start|make)\s+(?:a|an|one|another|my)?\s*(?:new\s+)?"
    r"(?:support\s+)?(?:ticket|case|request|bug\s+report|issue)(?:\s+for\s+me)?[\s,.:;!-]*|"
    r"(?:(?:(?:i\s+)?(?:want|need|would\s+like)|i'?d\s+like)\s+(?:to\s+)?)?report\s+(?:a|an)\s+"
    r"(?:bug|problem|issue)[\s,.:;!-]*|"
    r"(?:i\s+)?(?:have|found|got|hit|noticed|think\s+i\s+found)\s+(?:a|an|some)\s+"
    r"(?:bug|problem|issue|error)s?[\s,.:;!-]*|"
    r"(?:something(?:'s|\s+is)\s+(?:wrong|broken|not\s+working))[\s,.:;!-]*|"
    r"(?:i\s+need\s+help|help\s+me|help)[\s,.:;!-]*"
    r")+",
    re.IGNORECASE,
)


def clean_description(text: object) -> str:
    """Whitespace-collapsed description, cut to the backend's 5000-character limit."""
    if text is None:
        return ""
    cleaned = " ".join(str(text).split())
    if len(cleaned) > DESCRIPTION_MAX_CHARS:
        cleaned = cleaned[: DESCRIPTION_MAX_CHARS - 1].rstrip() + "…"
    return cleaned


def is_meaningful_description(text: object) -> bool:
    """At least 12 characters and 3 words, and more than a bare "I have a problem" / "open a ticket"."""
    cleaned = clean_description(text)
    if len(cleaned) < DESCRIPTION_MIN_CHARS or cleaned.startswith("/"):
        return False
    if len(_ALNUM_WORD.findall(cleaned)) < DESCRIPTION_MIN_WORDS:
        return False
    return _has_details(cleaned)


def _has_details(cleaned: str) -> bool:
    remainder = _GENERIC_PREFIXES.sub("", cleaned, count=1)
    return len(_ALNUM_WORD.findall(remainder)) >= 2


def problem_details(trigger_text: object) -> Optional[str]:
    """The description to pre-fill from the message that opened the ticket form, if it describes a problem.

    "the app keeps crashing when I upload a CSV" -> that text; "I want to open a ticket" -> None;
    button payloads ("/report_problem") -> None.
    """
    cleaned = clean_description(trigger_text)
    if not cleaned or cleaned.startswith("/"):
        return None
    if not is_meaningful_description(cleaned):
        return None
    remainder = _GENERIC_PREFIXES.sub("", cleaned, count=1)
    if len(_ALNUM_WORD.findall(remainder)) < DESCRIPTION_MIN_WORDS:
        return None
    return cleaned


# --- ticket numbers --------------------------------------------------------------------------------------------

_TICKET_NUMBER = re.compile(r"(?<![\w.@/])#?(\d{1,9})(?![\w.@/])")


def parse_ticket_number(value: object) -> Optional[int]:
    """A ticket number from "12", "#12", "ticket 12", "no. 12" (the first number in the text), else None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    match = _TICKET_NUMBER.search(str(value))
    if not match:
        return None
    number = int(match.group(1))
    return number if number > 0 else None
