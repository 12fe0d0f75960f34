"""Unit tests of the pure parsing/validation helpers in actions/parsing.py (no backend needed)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from actions.parsing import (
    extract_email,
    infer_urgency,
    is_meaningful_description,
    match_onboarding_step,
    normalize_priority,
    parse_ces,
    parse_csat,
    parse_ticket_number,
    problem_details,
)


@pytest.mark.parametrize(
    ("answer", "score"),
    [
        ("4", 4),
        (" 5 ", 5),
        ("1", 1),
        ("four", 4),
        ("Five", 5),
        ("4/5", 4),
        ("4 / 5", 4),
        ("3 out of 5", 3),
        ("8/10", 4),
        ("10/10 would chat again", 5),
        # The bottom of any scale is the lowest score, on both CSAT and CES.
        ("0/5", 1),
        ("0 out of 10", 1),
        ("★★★★", 4),
        ("★★★★☆", 4),
        ("⭐⭐⭐⭐", 4),
        ("⭐️⭐️⭐️", 3),
        ("⭐", 1),
        ("4️⃣", 4),
        ("😀", 5),
        ("🙂", 4),
        ("😐", 3),
        ("🙁", 2),
        ("😡", 1),
        ("I'd give it a 4", 4),
        ("meh, 3", 3),
        ("1, that did not help at all", 1),
        ("4.5", 5),
        ("great", 4),
        ("excellent!", 5),
        ("terrible", 1),
        (4, 4),
        (4.0, 4),
    ],
)
def test_parse_csat_understands_ratings(answer: object, score: int) -> None:
    assert parse_csat(answer) == score


@pytest.mark.parametrize(
    "answer",
    ["", None, "0", "6", "10", "7/5", "not good", "I want to rate this conversation", "☆☆☆", "maybe", True],
)
def test_parse_csat_rejects_non_ratings(answer: object) -> None:
    assert parse_csat(answer) is None


@pytest.mark.parametrize(
    ("answer", "score"),
    [
        ("6", 6),
        (" 7 ", 7),
        ("1", 1),
        ("six", 6),
        ("Seven", 7),
        ("6/7", 6),
        ("6 / 7", 6),
        ("6 out of 7", 6),
        ("9/10", 6),
        ("0/7", 1),
        ("0/10", 1),
        ("6️⃣", 6),
        ("5.5", 6),
        ("I'd say 5", 5),
        ("7 - very easy", 7),
        ("very easy", 7),
        ("Super easy!", 7),
        ("easy", 6),
        ("pretty simple", 5),
        ("fairly easy", 5),
        ("somewhat easy", 5),
        ("neutral", 4),
        ("okay", 4),
        ("ok", 4),
        ("neither easy nor difficult", 4),
        ("somewhat hard", 3),
        ("a bit difficult", 3),
        ("a little hard", 3),
        ("hard", 2),
        ("difficult", 2),
        ("very hard", 1),
        ("very difficult", 1),
        (6, 6),
        (6.0, 6),
    ],
)
def test_parse_ces_understands_effort_scores(answer: object, score: int) -> None:
    assert parse_ces(answer) == score


@pytest.mark.parametrize(
    "answer",
    ["", None, "0", "8", "10", "8/7", "not easy", "★★★★", "⭐⭐⭐", "😀", "thanks", "maybe", True, 9],
)
def test_parse_ces_rejects_non_scores(answer: object) -> None:
    assert parse_ces(answer) is None


@pytest.mark.parametrize(
    ("answer", "score"),
    [
        ("四分", 4),
        ("给五星", 5),
        ("五星好评", 5),
        ("五颗星", 5),
        ("两颗星", 2),
        ("一星，太差了", 1),
        ("3分吧", 3),
        ("打4分", 4),
        ("五吧", 5),
        ("三", 3),
        ("★★★★", 4),
        ("满分", 5),
        ("五分之四", 4),
        ("满分10分给8分", 4),
        ("10分满分的话给8分", 4),
        ("满分5分，给4.5分", 5),
        ("一分钟就解决了，好评", 5),
        ("十分满意", 5),
        ("非常满意", 5),
        ("满意", 4),
        ("不错", 4),
        ("一般般", 3),
        ("不太满意", 2),
        ("很不满意", 1),
    ],
)
def test_parse_csat_understands_chinese_ratings(answer: str, score: int) -> None:
    assert parse_csat(answer) == score


@pytest.mark.parametrize(
    "answer", ["七分", "六星", "五分钟", "十分", "我想问个问题", "九分之十", "满分0分给0分", "满分0"]
)
def test_parse_csat_rejects_chinese_non_ratings(answer: str) -> None:
    assert parse_csat(answer) is None


@pytest.mark.parametrize(
    ("answer", "score"),
    [
        ("七分", 7),
        ("6分", 6),
        ("满分", 7),
        ("非常容易", 7),
        ("很简单", 7),
        ("挺简单的", 5),
        ("不难", 5),
        ("不难也不简单", 4),
        ("一般", 4),
        ("有点麻烦", 3),
        ("不容易", 2),
        ("麻烦", 2),
        ("太难了", 1),
    ],
)
def test_parse_ces_understands_chinese_effort_scores(answer: str, score: int) -> None:
    assert parse_ces(answer) == score


CHECKLIST = [
    ("sign_up", "Create your Acme Cloud account"),
    ("verify_email", "Verify your email address"),
    ("complete_profile", "Complete your profile"),
    ("connect_integration", "Connect an integration"),
    ("invite_teammate", "Invite a teammate"),
    ("create_project", "Create your first project"),
]


@pytest.mark.parametrize(
    ("said", "key"),
    [
        # keys, as Rasa's synonyms give them
        ("verify_email", "verify_email"),
        ("complete_profile", "complete_profile"),
        ("Create_Project", "create_project"),
        ("sign up", "sign_up"),
        # titles
        ("Complete your profile", "complete_profile"),
        ("invite a teammate", "invite_teammate"),
        # loose text
        ("profile", "complete_profile"),
        ("my profile picture", "complete_profile"),
        ("verify my email", "verify_email"),
        ("I've verified my email", "verify_email"),
        ("email verification", "verify_email"),
        ("confirm my email", "verify_email"),
        ("add a colleague", "invite_teammate"),
        ("invite my team", "invite_teammate"),
        ("teammates", "invite_teammate"),
        ("integration", "connect_integration"),
        ("connected Slack", "connect_integration"),
        ("first project", "create_project"),
        ("I just created my first project", "create_project"),
        ("create an account", "sign_up"),
        ("signup", "sign_up"),
        ("register", "sign_up"),
    ],
)
def test_match_onboarding_step_finds_the_step(said: str, key: str) -> None:
    assert match_onboarding_step(said, CHECKLIST) == key


@pytest.mark.parametrize(
    "said", [None, "", "llamas", "the onboarding step about llamas", "done", "I did it", "create"]
)
def test_match_onboarding_step_gives_none_when_nothing_or_several_match(said: object) -> None:
    assert match_onboarding_step(said, CHECKLIST) is None


def test_match_onboarding_step_only_knows_the_given_checklist() -> None:
    assert match_onboarding_step("profile", [("verify_email", "Verify your email address")]) is None
    assert match_onboarding_step("verify_email", []) is None


@pytest.mark.parametrize(
    ("said", "priority"),
    [
        ("low", "low"),
        ("LOW", "low"),
        ("low priority please", "low"),
        ("not urgent", "low"),
        ("minor, no rush", "low"),
        ("normal", "normal"),
        ("medium", "normal"),
        ("not too urgent", "normal"),
        ("not that urgent", "normal"),
        ("it's not  so   urgent", "normal"),
        ("high", "high"),
        ("it's important", "high"),
        ("urgent", "urgent"),
        ("ASAP", "urgent"),
        ("critical!", "urgent"),
        ("P1", "urgent"),
    ],
)
def test_normalize_priority(said: str, priority: str) -> None:
    assert normalize_priority(said) == priority


@pytest.mark.parametrize("said", ["", None, "whatever you think", "banana", "5"])
def test_normalize_priority_unknown(said: object) -> None:
    assert normalize_priority(said) is None


@pytest.mark.parametrize(
    ("description", "urgent"),
    [
        ("URGENT: the checkout page returns 500 for everyone", True),
        ("please fix asap, invoices are not generated", True),
        ("this is critical, nobody can log in", True),
        ("production is down since 9am", True),
        ("the site is completely down", True),
        ("it's an emergency", True),
        ("the export button is greyed out", False),
        ("not urgent, but the avatar upload fails", False),
        ("nothing critical, the dark mode colours are off", False),
        ("", False),
        (None, False),
    ],
)
def test_infer_urgency(description: object, urgent: bool) -> None:
    assert infer_urgency(description) is urgent


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("jane@startup.io", "jane@startup.io"),
        ("my email is Jane.Doe@Startup.IO.", "Jane.Doe@startup.io"),
        ("reach me at dev+support@my-company.co.uk please", "dev+support@my-company.co.uk"),
        ("it's k.nguyen@company.com.au, thanks", "k.nguyen@company.com.au"),
    ],
)
def test_extract_email_finds_the_address(text: str, email: str) -> None:
    assert extract_email(text) == email


@pytest.mark.parametrize(
    "text",
    ["", None, "bob at example dot com", "bob@example", "@example.com", "bob@.com", "bob@exa mple.com", "no"],
)
def test_extract_email_rejects_non_addresses(text: object) -> None:
    assert extract_email(text) is None


@pytest.mark.parametrize(
    ("text", "meaningful"),
    [
        ("the app keeps crashing", True),
        ("the invoice PDF export shows an empty page for March", True),
        ("I can't invite my teammate", True),
        ("it crashes", False),
        ("help", False),
        ("yes", False),
        ("I have a problem", False),
        ("I want to open a ticket", False),
        ("/report_problem", False),
        ("   ", False),
    ],
)
def test_is_meaningful_description(text: str, meaningful: bool) -> None:
    assert is_meaningful_description(text) is meaningful


@pytest.mark.parametrize(
    ("trigger", "prefilled"),
    [
        ("the app keeps crashing", "the app keeps crashing"),
        ("I found a bug in the invoice export", "I found a bug in the invoice export"),
        (
            "I want to open a ticket, the export button is broken",
            "I want to open a ticket, the export button is broken",
        ),
        ("I found a bug", None),
        ("I want to open a ticket", None),
        ("I'd like to open a support ticket", None),
        ("can you log a ticket for me?", None),
        ("report a problem", None),
        ("something is broken", None),
        ("/report_problem", None),
    ],
)
def test_problem_details_prefills_only_real_descriptions(trigger: str, prefilled: object) -> None:
    assert problem_details(trigger) == prefilled


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("12", 12),
        ("#12", 12),
        ("ticket 345", 345),
        ("what about ticket no. 88?", 88),
        (7, 7),
        ("工单4821怎么样了", 4821),
        ("我的4821号工单", 4821),
        ("工单 #77", 77),
    ],
)
def test_parse_ticket_number(value: object, number: int) -> None:
    assert parse_ticket_number(value) == number


@pytest.mark.parametrize("value", [None, "", "abc", "0", "my@12.com", "abc12", "v1.2", True])
def test_parse_ticket_number_rejects(value: object) -> None:
    assert parse_ticket_number(value) is None


@pytest.mark.parametrize("parse", [parse_csat, parse_ces])
@pytest.mark.parametrize("text", ["9" * 400, "9" * 400 + ".5", 10**400, float("inf")])
def test_numbers_beyond_any_float_are_no_score_rather_than_a_crash(
    parse: Callable[[object], int | None], text: object
) -> None:
    assert parse(text) is None
