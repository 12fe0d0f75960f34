"""What Chinese customers type, read by the same helpers as English (actions/parsing.py, actions/retention.py,
with the Chinese rules of actions/chinese_text.py). No backend needed."""

from __future__ import annotations

import pytest
from action_test_support import CHECKLIST_TITLES

from actions.parsing import (
    extract_email,
    infer_urgency,
    is_meaningful_description,
    match_onboarding_step,
    normalize_priority,
    problem_details,
)
from actions.retention import classify_cancel_reason

STEPS = list(CHECKLIST_TITLES.items())


@pytest.mark.parametrize(
    ("said", "priority"),
    [
        ("紧急", "urgent"),
        ("非常紧急！", "urgent"),
        ("很急，尽快处理", "urgent"),
        ("高", "high"),
        ("高优先级", "high"),
        ("比较重要", "high"),
        ("普通", "normal"),
        ("一般吧", "normal"),
        ("不太急", "normal"),
        ("不急", "low"),
        ("低", "low"),
        ("不紧急，有空再看", "low"),
    ],
)
def test_a_priority_said_in_chinese(said: str, priority: str) -> None:
    assert normalize_priority(said) == priority


def test_chinese_without_a_priority_is_none() -> None:
    assert normalize_priority("我不知道") is None


@pytest.mark.parametrize(
    ("description", "urgent"),
    [
        ("网站挂了，客户都打不开", True),
        ("系统宕机了", True),
        ("很急！导出一直失败", True),
        ("导出的PDF是空白的，不急", False),
        ("头像上传不了", False),
    ],
)
def test_urgency_in_a_chinese_description(description: str, urgent: bool) -> None:
    assert infer_urgency(description) is urgent


@pytest.mark.parametrize(
    "description",
    ["应用崩溃了", "上传文件的时候一直报错", "导出的PDF是空白的", "登录后页面一片空白", "Slack 集成不同步了"],
)
def test_a_chinese_description_that_says_what_happened(description: str) -> None:
    assert is_meaningful_description(description)
    assert problem_details(description) == description


@pytest.mark.parametrize(
    "description", ["我遇到了一个问题", "我想提交一个工单", "帮我开个工单", "有问题", "系统出故障了"]
)
def test_a_chinese_request_that_describes_nothing(description: str) -> None:
    assert not is_meaningful_description(description)
    assert problem_details(description) is None


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("我的邮箱是li.wei@example.cn", "li.wei@example.cn"),
        ("邮箱：zhang@Company.COM。谢谢", "zhang@company.com"),
        ("发到 wang@startup.io 就行", "wang@startup.io"),
    ],
)
def test_an_email_written_against_chinese_text(text: str, email: str) -> None:
    assert extract_email(text) == email


def test_email_boundaries_still_refuse_what_they_refused() -> None:
    assert extract_email("jane@startup.io.") == "jane@startup.io"
    assert extract_email("jane at startup dot io") is None


@pytest.mark.parametrize(
    ("said", "key"),
    [
        ("我已经验证了邮箱", "verify_email"),
        ("怎么邀请同事", "invite_teammate"),
        ("创建项目", "create_project"),
        ("完善个人资料", "complete_profile"),
        ("连接 Slack", "connect_integration"),
        ("注册账号", "sign_up"),
    ],
)
def test_an_onboarding_step_named_in_chinese(said: str, key: str) -> None:
    assert match_onboarding_step(said, STEPS) == key


def test_chinese_naming_no_step_is_none() -> None:
    assert match_onboarding_step("羊驼", STEPS) is None


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("太贵了", "too_expensive"),
        ("价格太高，预算不够", "too_expensive"),
        ("我们要换用别的工具了", "switching"),
        ("准备转到其他平台", "switching"),
        ("平时用不上", "not_using"),
        ("很少用", "not_using"),
        ("缺少我们需要的功能", "missing_feature"),
        ("不支持甘特图", "missing_feature"),
        ("说不清楚", "other"),
    ],
)
def test_a_cancellation_reason_typed_in_chinese(answer: str, reason: str) -> None:
    assert classify_cancel_reason(answer) == reason
