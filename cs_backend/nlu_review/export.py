"""The review file: the collected messages as Rasa NLU training data (YAML, version "3.1"), one example per
distinct text, grouped under the intent NLU predicted for it as a suggestion, each with a comment saying why
it was collected. A reviewer moves each example under its right intent (or deletes it) and adds it to
nlu_data/ (or to the held-out set, nlu_eval/). Rasa reads the file as it is (`examples` as a list of
`text` entries is Rasa 3's form that allows a comment per example).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cs_backend.nlu_review.models import MisunderstoodMessage

# Examples whose message had no intent at all (no NLU result in the event) are grouped under this name.
NO_SUGGESTION = "unlabelled"
REASON_WORDS = {
    "fallback": "not understood (fallback)",
    "something_else": "none of the guesses (Something else)",
    "human_after_fallback": "asked for a person after a fallback",
    "low_rating": "CSAT 1-2 right after",
}


@dataclass
class Example:
    """One distinct text and what its messages say."""

    text: str
    intents: Counter[str] = field(default_factory=Counter)
    reasons: set[str] = field(default_factory=set)
    conversations: set[str] = field(default_factory=set)
    lowest_confidence: float | None = None
    last_said: datetime | None = None

    @property
    def suggestion(self) -> str:
        # The most frequent prediction; ties by name, so the file is the same for the same data.
        return min(self.intents.items(), key=lambda item: (-item[1], item[0]))[0]


def _key(text: str) -> str:
    return " ".join(text.casefold().split())


def examples_of(messages: Sequence[MisunderstoodMessage]) -> list[Example]:
    """The distinct texts (case and spacing ignored), the first wording kept."""
    found: dict[str, Example] = {}
    for message in messages:
        example = found.setdefault(_key(message.text), Example(text=_one_line(message.text)))
        example.intents[message.predicted_intent or NO_SUGGESTION] += 1
        example.reasons.add(message.reason)
        example.conversations.add(message.sender_id)
        if message.confidence is not None and (
            example.lowest_confidence is None or message.confidence < example.lowest_confidence
        ):
            example.lowest_confidence = message.confidence
        if example.last_said is None or message.said_at > example.last_said:
            example.last_said = message.said_at
    return [example for example in found.values() if example.text]


def _one_line(text: str) -> str:
    # YAML allows no control character in a file, and a comment or an example must stay on its line.
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar: JSON's escapes are YAML's; readable letters (Chinese too) stay as they
    are."""
    return json.dumps(text, ensure_ascii=False)


def _comment(example: Example) -> str:
    reasons = ", ".join(REASON_WORDS[reason] for reason in sorted(example.reasons))
    confidence = (
        f"predicted {example.suggestion} at {example.lowest_confidence:.2f}"
        if example.lowest_confidence is not None
        else "no confidence"
    )
    others = sorted(name for name in example.intents if name != example.suggestion)
    also = f" (also predicted: {', '.join(others)})" if others else ""
    count = len(example.conversations)
    said = example.last_said.strftime("%Y-%m-%d") if example.last_said else "?"
    plural = "s" if count != 1 else ""
    return _one_line(f"{reasons}; {confidence}{also}; {count} conversation{plural}; last {said}")


def render_review_yaml(
    messages: Sequence[MisunderstoodMessage], generated_at: datetime, since: datetime | None = None
) -> str:
    """The review file for `messages` (any order)."""
    examples = examples_of(messages)
    groups: dict[str, list[Example]] = {}
    for example in examples:
        groups.setdefault(example.suggestion, []).append(example)
    window = f" since {since.isoformat(timespec='seconds')}" if since else ""
    lines = [
        'version: "3.1"',
        "",
        f"# Messages the assistant did not understand{window}: {len(examples)} distinct texts from "
        f"{len(messages)} collected messages",
        f"# (python -m cs_backend nlu-review-export, {generated_at.isoformat(timespec='seconds')}).",
        "# Each example sits under the intent NLU predicted, a suggestion only: move it under the right",
        "# intent (or delete it), then add it to nlu_data/ or to the held-out set nlu_eval/.",
        "# Personal data is redacted.",
        "nlu:",
    ]
    for intent in sorted(groups):
        lines.append(f"- intent: {_quoted(_one_line(intent))}")
        lines.append("  examples:")
        ordered = sorted(groups[intent], key=lambda e: (-len(e.conversations), e.text.casefold()))
        for example in ordered:
            lines.append(f"  # {_comment(example)}")
            lines.append(f"  - text: {_quoted(example.text)}")
    if not groups:
        lines[-1] = "nlu: []"
    return "\n".join(lines) + "\n"
