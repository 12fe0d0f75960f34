"""Pure functions that read what customers type: ratings (CSAT, CES), priorities, emails, problem
descriptions, ticket numbers, onboarding step names. No Rasa, no I/O: unit-tested in
tests/actions/test_parsing.py.
"""

from __future__ import annotations

import enum
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from actions.chinese_text import (
    MIN_DESCRIPTION_UNITS,
    MIN_DETAIL_UNITS,
    chinese_description_units,
    chinese_detail_units,
    chinese_step_scores,
    has_han,
    priority_from_chinese,
    urgent_in_chinese,
)

# --- ratings on a numeric scale (CSAT 1-5, CES 1-7) ---------------------------------------------------------

CSAT_MIN, CSAT_MAX = 1, 5
CES_MIN, CES_MAX = 1, 7

_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}

# Chinese numerals as ratings use them ("四分", "给五星", "两颗星"). 十 is left out on purpose: no scale
# reaches 10, and 十分 is the adverb "very" (十分满意).
_CHINESE_NUMERALS = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CHINESE_NUMERAL = "[零一二两三四五六七八九]"
# A numeral or digits followed by a rating unit: 分 (points; not 分钟, minutes), 星, 颗星, 个星.
_CHINESE_RATING = re.compile(rf"({_CHINESE_NUMERAL}|\d+)\s*(?:分(?!钟)|颗星|个星|颗|星)")
# "五分之四" (four fifths), "5分之4".
_CHINESE_FRACTION = re.compile(rf"({_CHINESE_NUMERAL}|\d+)\s*分之\s*({_CHINESE_NUMERAL}|\d+)")
# "满分10分，给8分" / "8分（满分10）": the scale the customer's number is on.
_CHINESE_OUT_OF = re.compile(r"满分\s*(\d+)\s*分?|(\d+)\s*分?\s*满分")
# A message that is a numeral and nothing else but particles and punctuation: "四", "五吧", "三。".
_CHINESE_NUMERAL_ALONE = re.compile(rf"\s*({_CHINESE_NUMERAL})\s*[吧啊呀呢了哈嘛吗]*[\s\W]*")

# Emoji mapped to the rating they most plausibly mean.
_EMOJI_SCORES = {
    "😍": 5,
    "🤩": 5,
    "🥰": 5,
    "😁": 5,
    "😄": 5,
    "😃": 5,
    "😀": 5,
    "🎉": 5,
    "❤️": 5,
    "❤": 5,
    "💯": 5,
    "🙂": 4,
    "😊": 4,
    "👍": 4,
    "👌": 4,
    "😐": 3,
    "😑": 3,
    "🤷": 3,
    "😶": 3,
    "🙁": 2,
    "😕": 2,
    "☹️": 2,
    "☹": 2,
    "👎": 2,
    "😟": 2,
    "😞": 1,
    "😢": 1,
    "😭": 1,
    "😠": 1,
    "😡": 1,
    "🤬": 1,
    "💩": 1,
}

# Words, only used when the message has no number, stars or emoji, and no negation ("not bad").
_WORD_SCORES = {
    "excellent": 5,
    "perfect": 5,
    "amazing": 5,
    "awesome": 5,
    "fantastic": 5,
    "outstanding": 5,
    "superb": 5,
    "great": 4,
    "good": 4,
    "helpful": 4,
    "nice": 4,
    "ok": 3,
    "okay": 3,
    "meh": 3,
    "average": 3,
    "fine": 3,
    "mediocre": 3,
    "so-so": 3,
    "poor": 2,
    "bad": 2,
    "disappointing": 2,
    "unhelpful": 2,
    "terrible": 1,
    "awful": 1,
    "horrible": 1,
    "useless": 1,
    "worst": 1,
}

_FILLED_STARS = "★⭐🌟"
_EMPTY_STARS = "☆"
_KEYCAP = re.compile(r"([0-9])\ufe0f?\u20e3")
_NEGATION = re.compile(r"\b(not|no|never|isn't|wasn't|aren't|weren't|hardly)\b|n't\b")
_FRACTION = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:/|out\s+of|of)\s*(\d+)(?![\d.])")
_NUMBER = re.compile(r"(?<![\d.#])(\d+(?:[.,]\d+)?)(?![\d.])")
_WORD = re.compile(r"[a-z][a-z'-]*")


@dataclass(frozen=True)
class _Scale:
    low: int
    high: int

    def score(self, value: float) -> int | None:
        """`value` rounded half up ("4.5" -> 5), or None outside the scale (infinity included: 400 typed
        nines read as a float)."""
        if not math.isfinite(value):
            return None
        score = int(math.floor(value + 0.5))
        return score if self.low <= score <= self.high else None


_CSAT = _Scale(CSAT_MIN, CSAT_MAX)
_CES = _Scale(CES_MIN, CES_MAX)


class _NoNumber(enum.Enum):
    """Returned by _read_number when the message holds no number at all (None means "a number, but not a
    score"). A one-member enum, so that `is _NO_NUMBER` narrows the type."""

    NO_NUMBER = enum.auto()


_NO_NUMBER: Final = _NoNumber.NO_NUMBER


def _read_number(raw: str, scale: _Scale) -> int | None | _NoNumber:
    """The score a number in the message gives on `scale`: "4", "4.5", "four", "4/5", "4 out of 5", "4️⃣".

    A fraction is read on its own scale and converted ("8/10" -> 4 on 1-5); its lowest point is the lowest
    score ("0/5" -> 1). Returns None for a number that is no score ("9", "6/5") and _NO_NUMBER when there is
    no number.
    """
    lowered = raw.lower()
    fraction = _FRACTION.search(lowered)
    if fraction:
        numerator, denominator = float(fraction.group(1)), float(fraction.group(2))
        if denominator <= 0 or numerator > denominator:
            return None
        return scale.score(max(scale.low, numerator / denominator * scale.high))
    chinese = _read_chinese_number(raw, scale)
    if chinese is not _NO_NUMBER:
        return chinese
    # Keycap digits ("4️⃣") before plain digits: they contain the digit itself.
    keycap = _KEYCAP.search(raw)
    if keycap:
        return scale.score(int(keycap.group(1)))
    number = _NUMBER.search(lowered)
    if number:
        return scale.score(float(number.group(1).replace(",", ".")))
    for word in _WORD.findall(lowered):
        if word in _NUMBER_WORDS:
            return scale.score(_NUMBER_WORDS[word])
    return _NO_NUMBER


def _chinese_value(numeral: str) -> float:
    """A Chinese numeral's or written number's value: "四" -> 4, "4" -> 4, "4.5" and "4,5" -> 4.5."""
    if numeral in _CHINESE_NUMERALS:
        return _CHINESE_NUMERALS[numeral]
    return float(numeral.replace(",", "."))


def _read_chinese_number(raw: str, scale: _Scale) -> int | None | _NoNumber:
    """The score of a rating written the Chinese way: "四分", "3分吧", "给五星", "两颗星", "五分之四",
    "满分10分给8分", "满分" (the top of the scale), a bare numeral ("五吧"). _NO_NUMBER when there is none."""
    fraction = _CHINESE_FRACTION.search(raw)
    if fraction:
        denominator, numerator = _chinese_value(fraction.group(1)), _chinese_value(fraction.group(2))
        if denominator <= 0 or numerator > denominator:
            return None
        return scale.score(max(scale.low, numerator / denominator * scale.high))
    out_of = _CHINESE_OUT_OF.search(raw)
    if out_of:
        rest = raw[: out_of.start()] + " " + raw[out_of.end() :]
        given = _CHINESE_RATING.search(rest) or _NUMBER.search(rest)
        top = int(out_of.group(1) or out_of.group(2))
        if top <= 0:
            return None
        if not given:
            return scale.high
        given_value = _chinese_value(given.group(1))
        if given_value > top:
            return None
        return scale.score(max(scale.low, given_value / top * scale.high))
    rating = _CHINESE_RATING.search(raw)
    if rating:
        return scale.score(_chinese_value(rating.group(1)))
    alone = _CHINESE_NUMERAL_ALONE.fullmatch(raw)
    if alone:
        return scale.score(_chinese_value(alone.group(1)))
    if "满分" in raw:
        return scale.high
    return _NO_NUMBER


def _parse_rating(text: object, scale: _Scale, read_words: Callable[[str], int | None]) -> int | None:
    """A score on `scale` from a number (`_read_number`), else from what `read_words` finds in the text."""
    if text is None or isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        try:
            return scale.score(float(text))
        except OverflowError:  # an int beyond any float
            return None
    raw = unicodedata.normalize("NFC", str(text)).strip()
    if not raw:
        return None
    number = _read_number(raw, scale)
    if number is _NO_NUMBER:
        return read_words(raw)
    return number


def parse_csat(text: object) -> int | None:
    """Read a 1-5 satisfaction rating, or None when the message holds none (or an out-of-range one).

    Understands "4", "4.5" (rounded half up), "four", "4/5", "8/10" (scaled), "4 out of 5", "★★★★☆",
    "⭐⭐⭐⭐", keycap digits like "4️⃣", a few emoji (😀 -> 5, 🙁 -> 2, ...) and a few words ("great" -> 4).
    """
    return _parse_rating(text, _CSAT, _csat_from_symbols_and_words)


def _csat_from_symbols_and_words(raw: str) -> int | None:
    filled = sum(raw.count(star) for star in _FILLED_STARS)
    if filled:
        return _CSAT.score(filled)
    if _EMPTY_STARS in raw:
        return None

    for emoji, score in sorted(_EMOJI_SCORES.items(), key=lambda item: -len(item[0])):
        if emoji in raw:
            return score

    lowered = raw.lower()
    if not _NEGATION.search(lowered):
        for word in _WORD.findall(lowered):
            if word in _WORD_SCORES:
                return _WORD_SCORES[word]
    return _first_phrase_score(raw, _CHINESE_CSAT_PHRASES)


def _first_phrase_score(raw: str, phrases: tuple[tuple[re.Pattern, int], ...]) -> int | None:
    for pattern, score in phrases:
        if pattern.search(raw):
            return score
    return None


_VERY_ZH = "(?:非常|很|特别|超级|超|十分|太|相当)"
# Checked in order, first match wins: negated and qualified phrases before the bare words (不错 is "good").
_CHINESE_CSAT_PHRASES: tuple[tuple[re.Pattern, int], ...] = (
    (re.compile("不错"), 4),
    (re.compile(f"{_VERY_ZH}不满意|{_VERY_ZH}差|差评|垃圾|糟糕"), 1),
    (re.compile("不太满意|不满意|不好|不行|失望"), 2),
    (re.compile(f"{_VERY_ZH}满意|好评|完美|{_VERY_ZH}棒|{_VERY_ZH}好"), 5),
    (re.compile("满意|挺好|还不错|棒|好"), 4),
    (re.compile("一般|还行|还可以|凑合|马马虎虎"), 3),
    (re.compile("差"), 2),
)


_EASY = r"(?:easy|simple|straightforward|smooth)"
_HARD = r"(?:hard|difficult|tricky|complicated)"
_VERY = r"(?:very|extremely|super|really|incredibly|so|too)"
_SOMEWHAT = r"(?:fairly|somewhat|quite|pretty|rather|reasonably|mostly|relatively|kind\s+of|kinda)"
_A_BIT = r"(?:a\s+(?:bit|little)(?:\s+bit)?|somewhat|slightly|fairly|rather|kind\s+of|kinda)"

# Checked in order, first match wins: the qualified phrases before the bare words.
_CES_PHRASES: tuple[tuple[re.Pattern, int], ...] = (
    (re.compile(r"\bneither\b.*\bnor\b"), 4),
    (re.compile(rf"\b{_VERY}\s+{_EASY}\b|\beffortless(ly)?\b|\bpiece\s+of\s+cake\b|\bbreeze\b"), 7),
    (re.compile(rf"\b{_VERY}\s+{_HARD}\b|\bimpossible\b|\bnightmare\b"), 1),
    (re.compile(rf"\b{_SOMEWHAT}\s+{_EASY}\b"), 5),
    (re.compile(rf"\b{_A_BIT}\s+{_HARD}\b"), 3),
    (re.compile(rf"\b{_EASY}\b"), 6),
    (re.compile(rf"\b{_HARD}\b"), 2),
    (re.compile(r"\b(neutral|okay|ok|average|so-so|medium|moderate|alright|all\s+right)\b"), 4),
)


def parse_ces(text: object) -> int | None:
    """Read a 1-7 customer effort score (1 = very difficult, 7 = very easy), or None.

    Understands "6", "6.5" (rounded half up), "six", "6/7", "6 out of 7" (other scales are converted:
    "9/10" -> 6), keycap digits like "6️⃣", and a few words: "very easy" -> 7, "easy" -> 6, "fairly easy" -> 5,
    "neutral"/"okay" -> 4, "a bit difficult" -> 3, "hard" -> 2, "very hard" -> 1. Stars, emoji, negated
    words ("not easy") and out-of-range numbers give None.
    """
    return _parse_rating(text, _CES, _ces_from_words)


def _ces_from_words(raw: str) -> int | None:
    lowered = raw.lower()
    if _NEGATION.search(lowered):
        return None
    for pattern, score in _CES_PHRASES:
        if pattern.search(lowered):
            return score
    return _first_phrase_score(raw, _CHINESE_CES_PHRASES)


_EASY_ZH = "(?:容易|简单|方便|轻松|顺利)"
_HARD_ZH = "(?:难|麻烦|复杂|费劲|费力|困难)"
# 1 = very difficult ... 7 = very easy, as _CES_PHRASES; first match wins.
_CHINESE_CES_PHRASES: tuple[tuple[re.Pattern, int], ...] = (
    (re.compile(f"不{_HARD_ZH}也不{_EASY_ZH}|不{_EASY_ZH}也不{_HARD_ZH}|一般|还行|还好"), 4),
    (re.compile(f"不{_EASY_ZH}"), 2),
    (re.compile(f"不{_HARD_ZH}"), 5),
    (re.compile(f"{_VERY_ZH}{_EASY_ZH}"), 7),
    (re.compile(f"{_VERY_ZH}{_HARD_ZH}"), 1),
    (re.compile(f"(?:比较|挺|还算|蛮|算是){_EASY_ZH}"), 5),
    (re.compile(f"(?:有点|有些|稍微|略){_HARD_ZH}"), 3),
    (re.compile(_EASY_ZH), 6),
    (re.compile(_HARD_ZH), 2),
)


# --- onboarding step names ----------------------------------------------------------------------------------

# Words that name no particular step ("how do I do the ... step").
_STEP_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "my",
        "your",
        "our",
        "i",
        "i've",
        "ive",
        "im",
        "i'm",
        "me",
        "we",
        "you",
        "it",
        "its",
        "this",
        "that",
        "to",
        "of",
        "for",
        "in",
        "on",
        "with",
        "and",
        "or",
        "just",
        "now",
        "already",
        "finally",
        "how",
        "do",
        "does",
        "did",
        "done",
        "doing",
        "what",
        "which",
        "where",
        "is",
        "are",
        "was",
        "be",
        "been",
        "step",
        "steps",
        "task",
        "thing",
        "please",
        "explain",
        "tell",
        "about",
        "first",
        "next",
        "set",
        "setup",
        "up",
        "acme",
        "cloud",
        "finished",
        "complete",
        "completed",
    ]
)
# A few words customers use that are not in the checklist titles (the NLU synonyms cover whole phrases).
_STEP_ALIASES: dict[str, tuple[str, ...]] = {
    "sign_up": ("signup", "register", "registration", "account", "trial"),
    "verify_email": ("confirm", "confirmation", "verification", "email", "mail", "inbox"),
    "complete_profile": ("profile", "avatar", "photo", "picture", "timezone"),
    "connect_integration": ("integration", "slack", "github", "drive", "connect"),
    "invite_teammate": ("teammate", "colleague", "coworker", "member", "team", "invite", "invitation"),
    "create_project": ("project", "board", "kanban"),
}
_STEP_WORD = re.compile(r"[a-z0-9]+")


def _step_words(text: str) -> tuple[str, ...]:
    return tuple(
        word for word in _STEP_WORD.findall(text.lower().replace("_", " ")) if word not in _STEP_STOPWORDS
    )


def _same_word(said: str, known: str) -> bool:
    """ "verified" ~ "verify", "teammates" ~ "teammate", "signup" ~ "sign": a shared stem, loosely."""
    if said == known:
        return True
    shorter, longer = sorted((said, known), key=len)
    if len(shorter) >= 4 and longer.startswith(shorter):
        return True
    common = 0
    for a, b in zip(said, known, strict=False):  # the common prefix
        if a != b:
            break
        common += 1
    return common >= 5


def match_onboarding_step(value: object, steps: Iterable[tuple[str, str]]) -> str | None:
    """The key of the checklist step a customer named, or None.

    `steps` are the checklist's (key, title) pairs. Accepts a key ("verify_email", as Rasa's synonyms give
    it), a title in any case ("Complete your profile"), or loose text: the step whose key, title and a few
    known words share the most words with it ("profile" -> complete_profile, "my first project" ->
    create_project). No match, or a tie between steps, gives None.
    """
    if value is None or isinstance(value, bool):
        return None
    text = " ".join(str(value).lower().split())
    if not text:
        return None
    candidates: Sequence[tuple[str, str]] = [(str(key), str(title or key)) for key, title in steps]
    as_key = re.sub(r"[\s-]+", "_", text.strip(" .!?\"'“”"))
    for key, title in candidates:
        if as_key == key.lower() or text.strip(" .!?\"'“”") == " ".join(title.lower().split()):
            return key

    said = _step_words(text)
    # Chinese names ("验证邮箱") are found as phrases; a mixed message ("连接 Slack") counts both.
    chinese = chinese_step_scores(text, [key for key, _ in candidates]) if has_han(text) else {}
    if not said and not any(chinese.values()):
        return None
    scores = []
    for key, title in candidates:
        vocabulary = set(_step_words(f"{key} {title}")) | set(_STEP_ALIASES.get(key, ()))
        score = sum(1 for word in said if any(_same_word(word, known) for known in vocabulary))
        scores.append((score + chinese.get(key, 0), key))
    best = max((score for score, _ in scores), default=0)
    if best == 0:
        return None
    winners = [key for score, key in scores if score == best]
    return winners[0] if len(winners) == 1 else None


# --- ticket priority ----------------------------------------------------------------------------------------

PRIORITIES = ("low", "normal", "high", "urgent")

_PRIORITY_PATTERNS = (
    # Order matters: "not urgent" must win over "urgent", "high priority" over the bare words.
    (
        "low",
        re.compile(
            r"\b(not\s+(very\s+)?(urgent|important|critical)|no\s+rush|whenever|low|minor|trivial|"
            r"lowest|p4)\b"
        ),
    ),
    (
        "urgent",
        re.compile(
            r"\b(urgent|asap|a\.s\.a\.p|critical|emergency|blocker|blocking|highest|top|p1|"
            r"immediately|right\s+now)\b"
        ),
    ),
    ("high", re.compile(r"\b(high|important|major|serious|p2)\b")),
    (
        "normal",
        re.compile(r"\b(normal|medium|regular|standard|moderate|default|average|p3)\b"),
    ),
)


def normalize_priority(value: object) -> str | None:
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
    return priority_from_chinese(text) if has_han(text) else None


_URGENCY = re.compile(
    r"\b(urgent(ly)?|asap|a\.s\.a\.p\.?|critical|emergency|blocker|"
    r"(production|prod|site|website|app|everything|service)\s+(is\s+)?(completely\s+)?down)\b"
)
_NOT_URGENT = re.compile(
    r"\b(not|isn't|isnt|no|nothing)\s+(very\s+|too\s+|that\s+|so\s+)?(urgent|critical)\b"
)


def infer_urgency(description: object) -> bool:
    """True when a problem description says it is urgent ("urgent", "asap", "critical", "production is down").

    "not urgent" / "nothing critical" do not count.
    """
    if not description:
        return False
    text = str(description).lower()
    without_negated = _NOT_URGENT.sub(" ", text)
    return bool(_URGENCY.search(without_negated)) or (has_han(text) and urgent_in_chinese(text))


# --- email --------------------------------------------------------------------------------------------------

# The boundaries are ASCII: Chinese written right against an address ("邮箱是li@x.cn") does not hide it.
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9_.+-])"
    r"([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
    r"(?![A-Za-z0-9_-])"
)


def extract_email(text: object) -> str | None:
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


# --- problem description ------------------------------------------------------------------------------------

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
    if cleaned.startswith("/"):
        return False
    if has_han(cleaned):
        return chinese_description_units(cleaned) >= MIN_DESCRIPTION_UNITS and _has_details(cleaned)
    if len(cleaned) < DESCRIPTION_MIN_CHARS:
        return False
    if len(_ALNUM_WORD.findall(cleaned)) < DESCRIPTION_MIN_WORDS:
        return False
    return _has_details(cleaned)


def _has_details(cleaned: str) -> bool:
    if has_han(cleaned):
        return chinese_detail_units(cleaned) >= MIN_DETAIL_UNITS
    remainder = _GENERIC_PREFIXES.sub("", cleaned, count=1)
    return len(_ALNUM_WORD.findall(remainder)) >= 2


def problem_details(trigger_text: object) -> str | None:
    """The description to pre-fill from the message that opened the ticket form, if it describes a problem.

    "the app keeps crashing when I upload a CSV" -> that text; "I want to open a ticket" -> None;
    button payloads ("/report_problem") -> None.
    """
    cleaned = clean_description(trigger_text)
    if not cleaned or cleaned.startswith("/"):
        return None
    if not is_meaningful_description(cleaned):
        return None
    if has_han(cleaned):
        return cleaned
    remainder = _GENERIC_PREFIXES.sub("", cleaned, count=1)
    if len(_ALNUM_WORD.findall(remainder)) < DESCRIPTION_MIN_WORDS:
        return None
    return cleaned


# --- ticket numbers -----------------------------------------------------------------------------------------

# A number standing apart from Latin letters, digits and address characters ("abc12", "my@12.com", "v1.2"
# are not ticket numbers). Chinese writes it against its words ("工单4821", "4821号工单"): no barrier.
_NOT_BESIDE = r"A-Za-z0-9_.@/"
_TICKET_NUMBER = re.compile(rf"(?<![{_NOT_BESIDE}])#?(\d{{1,9}})(?![{_NOT_BESIDE}])")


def parse_ticket_number(value: object) -> int | None:
    """A ticket number from "12", "#12", "ticket 12", "no. 12", "工单4821" (the first number in the text),
    else None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    match = _TICKET_NUMBER.search(str(value))
    if not match:
        return None
    number = int(match.group(1))
    return number if number > 0 else None
