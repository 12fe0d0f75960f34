"""The Chinese texts of the onboarding checklist (actions/onboarding_texts.py) cover every step cs_backend
serves (cs_backend/onboarding/checklist.toml), and are what a Chinese conversation is shown."""

from __future__ import annotations

import tomli  # tomllib is Python 3.11+; the bot environment is 3.10 (tomli is in requirements/bot.txt)

from actions.onboarding_texts import STEP_TEXTS_ZH, step_how_to, step_title
from tests.support import REPO_ROOT


def _checklist() -> list[dict[str, str]]:
    with open(REPO_ROOT / "cs_backend" / "onboarding" / "checklist.toml", "rb") as handle:
        return list(tomli.load(handle)["steps"])


def test_every_checklist_step_has_a_chinese_title_and_instructions() -> None:
    keys = [step["key"] for step in _checklist()]
    assert set(STEP_TEXTS_ZH) == set(keys)
    for key in keys:
        assert STEP_TEXTS_ZH[key].title and STEP_TEXTS_ZH[key].how_to


def test_the_links_and_addresses_of_the_instructions_are_kept() -> None:
    # A URL or an address the English instructions give is in the Chinese ones too.
    for step in _checklist():
        for word in step["how_to"].split():
            if word.startswith("https://") or "@" in word:
                assert word.rstrip(".,") in STEP_TEXTS_ZH[step["key"]].how_to, (step["key"], word)


def test_a_step_is_shown_in_the_conversations_language() -> None:
    assert step_title("verify_email", "Verify your email address", "zh") == "验证您的邮箱地址"
    assert step_title("verify_email", "Verify your email address", "en") == "Verify your email address"
    assert step_how_to("create_project", "Click ...", "en") == "Click ..."
    # a step without a translation is shown as cs_backend gives it
    assert step_title("brand_new_step", "Brand new step", "zh") == "Brand new step"
