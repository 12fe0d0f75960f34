"""`rasa data validate`, strict: any warning fails, except the few that Rasa 3.6's validator raises for
correct data.

Rasa's validator has no notion of three things this assistant relies on, and warns about each:

- the question a form asks for a required slot (`utter_ask_<slot>` or `utter_ask_<form>_<slot>`) is said by
  the form, never by a story step, so it is reported "not used in any story or rule";
- responses sent by an action rather than by a story step (`DISPATCHED_BY_ACTIONS` below) are reported the
  same;
- an intent that only arrives through the external-event API (`EXTERNAL_*`, sent by cs_backend's nudge job)
  has no NLU examples on purpose, as have the two intents that bot/components/unsupported_input.py gives from
  a message's characters (`unsupported_language`, `unsupported_input`); a retrieval intent (`faq`,
  `chitchat`) listed in the domain is reported as "duplicated" because Rasa also adds it from the NLU data.

Each exemption is checked, not assumed: the response must really be a form's ask for one of its required
slots, the intent must really be a retrieval intent of the NLU data, and so on. Every other warning fails the
run, like `rasa data validate --fail-on-warnings` would. Run: `make validate` (= `python -m
bot.validate_data`).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.components.unsupported_input import UNSUPPORTED_INPUT, UNSUPPORTED_LANGUAGE

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_PATHS = ("nlu_data", "dialogue")

# Intents bot/components/unsupported_input.py gives from a message's characters: no examples on purpose.
CHARACTER_INTENTS = frozenset({UNSUPPORTED_LANGUAGE, UNSUPPORTED_INPUT})
# Responses that actions send (so no story step names them), with the action that sends each.
DISPATCHED_BY_ACTIONS = {
    "utter_ask_affirmation": (
        "action_default_ask_affirmation (actions/fallback.py), the 'Did you mean…?' buttons"
    ),
    "utter_offer_human": "action_default_fallback (actions/fallback.py), after the second misunderstanding",
    "utter_ask_rephrase": "Rasa's action_default_ask_rephrase, run inside action_two_stage_fallback",
    "utter_default": "action_default_fallback (actions/fallback.py) when RulePolicy's core fallback runs it",
    "utter_turn_failed": "StuckTurnPolicy (bot/components/stuck_turn_policy.py), a turn of failing actions",
    "utter_handoff_position": "action_relay_to_agent (actions/handoff.py), the relay loop, on a queue update",
    "utter_handoff_agent_joined": (
        "action_relay_to_agent (actions/handoff.py), the relay loop, when an agent accepts"
    ),
    "utter_handoff_message_not_delivered": (
        "action_relay_to_agent (actions/handoff.py), the relay loop, when cs_backend cannot be reached"
    ),
    # action_link_account (actions/identity.py) answers each outcome of redeeming a link code.
    **{
        f"utter_link_account_{outcome}": "action_link_account (actions/identity.py), per redeeming outcome"
        for outcome in (
            "done",
            "ask_code",
            "invalid_code",
            "too_many_tries",
            "linked_elsewhere",
            "not_here",
            "unavailable",
        )
    },
}

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_WARNING = re.compile(r"UserWarning: (.*)")
_UNUSED_UTTERANCE = re.compile(r"The utterance '([^']+)' is not used in any story or rule\.")
_INTENT_WITHOUT_EXAMPLES = re.compile(
    r"The intent '([^']+)' is listed in the domain file, but is not found in the NLU training data\."
)
_DUPLICATED_INTENTS = re.compile(
    r"The following duplicated intents have been found across multiple domain files: (.*)"
)


@dataclass(frozen=True)
class Verdict:
    warning: str
    exempt_because: str | None


def form_ask_responses(domain: dict) -> set[str]:
    asks: set[str] = set()
    for form, spec in (domain.get("forms") or {}).items():
        for slot in (spec or {}).get("required_slots", []):
            asks.update({f"utter_ask_{slot}", f"utter_ask_{form}_{slot}"})
    return asks


def retrieval_intents(data_dirs: Iterable[Path]) -> set[str]:
    found: set[str] = set()
    for directory in data_dirs:
        for path in directory.rglob("*.yml"):
            for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []) or []:
                intent = item.get("intent") if isinstance(item, dict) else None
                if isinstance(intent, str) and "/" in intent:
                    found.add(intent.split("/", 1)[0])
    return found


def judge(warning: str, domain: dict, retrieval: set[str]) -> Verdict:
    if match := _UNUSED_UTTERANCE.fullmatch(warning):
        response = match.group(1)
        if response in form_ask_responses(domain):
            return Verdict(warning, "a form asks it for a required slot")
        if response in DISPATCHED_BY_ACTIONS and response in (domain.get("responses") or {}):
            return Verdict(warning, f"sent by {DISPATCHED_BY_ACTIONS[response]}")
    if (match := _INTENT_WITHOUT_EXAMPLES.fullmatch(warning)) and match.group(1).startswith("EXTERNAL_"):
        return Verdict(warning, "arrives only through Rasa's trigger_intent API, never typed")
    if (match := _INTENT_WITHOUT_EXAMPLES.fullmatch(warning)) and match.group(1) in CHARACTER_INTENTS:
        return Verdict(warning, "given by UnsupportedInputClassifier from the characters, never learnt")
    if match := _DUPLICATED_INTENTS.fullmatch(warning):
        names = {name.strip() for name in match.group(1).split(",")}
        if names <= retrieval:
            return Verdict(warning, "retrieval intents: Rasa adds them from the NLU data as well")
    return Verdict(warning, None)


def rasa_warnings(output: str) -> list[str]:
    return [
        match.group(1).strip() for match in map(_WARNING.search, _ANSI.sub("", output).splitlines()) if match
    ]


def main() -> int:
    rasa = Path(sys.executable).with_name("rasa")
    command = [
        str(rasa),
        "data",
        "validate",
        "--data",
        *DATA_PATHS,
        "--domain",
        "domain.yml",
        "--config",
        "config.yml",
    ]
    run = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    output = run.stdout + run.stderr
    if run.returncode != 0:
        sys.stdout.write(output)
        print(f"rasa data validate failed (exit {run.returncode})", file=sys.stderr)
        return run.returncode
    domain = yaml.safe_load((REPO_ROOT / "domain.yml").read_text(encoding="utf-8"))
    retrieval = retrieval_intents(REPO_ROOT / path for path in DATA_PATHS)
    verdicts = [judge(warning, domain, retrieval) for warning in rasa_warnings(output)]
    failures = [verdict for verdict in verdicts if verdict.exempt_because is None]
    for verdict in verdicts:
        if verdict.exempt_because:
            print(f"exempt: {verdict.warning}  [{verdict.exempt_because}]")
    for verdict in failures:
        print(f"WARNING: {verdict.warning}", file=sys.stderr)
    print(
        f"{' '.join(command[1:])}: {len(verdicts)} warnings, {len(verdicts) - len(failures)} exempt, "
        f"{len(failures)} failing"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
