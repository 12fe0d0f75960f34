"""The onboarding checklist: loaded from checklist.toml (standard library tomllib) and validated.

The checklist is data, read once when the app starts (cs_backend.main.checklist_context) and by
`python -m cs_backend nudge-stalled`. A file that cannot be used raises ChecklistError with a message
naming the file, the step and the field, so a broken checklist stops the backend at startup instead of
failing requests later.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

# The bundled checklist. Read at call time (not import time), so tests can point it elsewhere.
CHECKLIST_PATH = Path(__file__).resolve().with_name("checklist.toml")

# Keys are stored in onboarding_progress.step_key / onboarding_nudges.step_key (String(50)).
STEP_KEY_MAX_LENGTH = 50
_KEY_RE = re.compile(rf"^[a-z][a-z0-9_]{{0,{STEP_KEY_MAX_LENGTH - 1}}}$")
_FIELDS = ("key", "title", "how_to", "docs_url")
TITLE_MAX_LENGTH = 200


class ChecklistError(ValueError):
    """The checklist file is missing, is not TOML, or does not describe a valid list of steps."""


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    how_to: str
    docs_url: str
    # 1-based, in checklist order.
    position: int


@dataclass(frozen=True)
class Checklist:
    steps: tuple[Step, ...]
    by_key: dict[str, Step] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_key", {step.key: step for step in self.steps})

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(step.key for step in self.steps)

    def next_step(self, done: set[str] | frozenset[str]) -> Step | None:
        """The first step in checklist order that is not done, None when every step is."""
        return next((step for step in self.steps if step.key not in done), None)


def _step(where: str, raw: Any, position: int) -> Step:
    if not isinstance(raw, dict):
        raise ChecklistError(f"{where}: must be a table ([[steps]]), got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        raise ChecklistError(
            f"{where}: unknown field(s) {', '.join(unknown)} (allowed: {', '.join(_FIELDS)})"
        )
    values: dict[str, str] = {}
    for name in _FIELDS:
        if name not in raw:
            raise ChecklistError(f"{where}: missing required field {name!r}")
        value = raw[name]
        if not isinstance(value, str) or not value.strip():
            raise ChecklistError(f"{where}: field {name!r} must be a non-empty string")
        values[name] = value.strip()
    if not _KEY_RE.match(values["key"]):
        raise ChecklistError(
            f"{where}: key {values['key']!r} must be lower-case letters, digits and '_', starting with a "
            f"letter, at most {STEP_KEY_MAX_LENGTH} characters"
        )
    if len(values["title"]) > TITLE_MAX_LENGTH:
        raise ChecklistError(f"{where}: title must be at most {TITLE_MAX_LENGTH} characters")
    if not values["docs_url"].startswith(("https://", "http://")):
        raise ChecklistError(f"{where}: docs_url must be an http(s) URL, got {values['docs_url']!r}")
    return Step(position=position, **values)


def parse_checklist(data: dict[str, Any], source: str = "checklist") -> Checklist:
    """Validate the parsed TOML document: `steps`, a non-empty array of tables with unique keys."""
    unknown = sorted(set(data) - {"steps"})
    if unknown:
        raise ChecklistError(
            f"{source}: unknown top-level key(s) {', '.join(unknown)} (expected only 'steps')"
        )
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ChecklistError(f"{source}: needs a non-empty list of [[steps]]")
    steps: list[Step] = []
    seen: dict[str, int] = {}
    for position, raw in enumerate(raw_steps, start=1):
        label = raw.get("key") if isinstance(raw, dict) and isinstance(raw.get("key"), str) else None
        where = f"{source}: step {position}" + (f" ({label})" if label else "")
        step = _step(where, raw, position)
        if step.key in seen:
            raise ChecklistError(f"{where}: duplicate key {step.key!r} (already step {seen[step.key]})")
        seen[step.key] = position
        steps.append(step)
    return Checklist(tuple(steps))


def load_checklist(path: Path | None = None) -> Checklist:
    """Read and validate the checklist (default: the bundled checklist.toml)."""
    path = CHECKLIST_PATH if path is None else path
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except FileNotFoundError:
        raise ChecklistError(f"{path}: onboarding checklist not found") from None
    except OSError as error:
        raise ChecklistError(f"{path}: cannot read the onboarding checklist: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ChecklistError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ChecklistError(f"{path}: not valid TOML: {error}") from None
    return parse_checklist(data, source=str(path))
