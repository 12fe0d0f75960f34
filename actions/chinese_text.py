"""What Chinese customers type, read the way actions/parsing.py reads English: priorities, urgency, whether a
problem description says anything, onboarding step names, cancellation reasons. Pure functions, no Rasa.

Chinese has no spaces between words, so the English rules (word boundaries, "3 words") do not apply: here a
phrase is found as a substring, and the length of a description is counted in Han characters (about two make
a word).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# CJK Unified Ideographs with extension A and the compatibility block: the characters of written Chinese.
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z0-9]+")


def has_han(text: str) -> bool:
    return HAN.search(text) is not None


def _alternation(phrases: Iterable[str]) -> str:
    # Longest first: "请求" must be tried before "请".
    return "|".join(re.escape(phrase) for phrase in sorted(set(phrases), key=len, reverse=True))


# --- ticket priority ----------------------------------------------------------------------------------------

# Checked in this order, the first match wins: "不太急" (not that urgent) is normal, "不急" low, before
# "急" could read as urgent; "最高" is urgent before "高" reads as high.
_PRIORITY_PHRASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("normal", ("不太急", "不太紧急", "不是很急", "不是特别急", "不怎么急")),
    ("low", ("不急", "不紧急", "不着急", "不重要", "低", "次要", "有空再", "随时都行")),
    (
        "urgent",
        ("紧急", "很急", "非常急", "特别急", "十万火急", "加急", "马上", "立刻", "立即", "尽快", "最高"),
    ),
    ("high", ("高", "重要", "比较急", "挺急", "有点急", "严重")),
    ("normal", ("普通", "一般", "中等", "正常", "默认", "还好")),
)
_PRIORITY_PATTERNS = tuple(
    (priority, re.compile(_alternation(words))) for priority, words in _PRIORITY_PHRASES
)


def priority_from_chinese(text: str) -> str | None:
    """ "紧急" -> urgent, "不急" -> low, "高优先级" -> high, "普通" -> normal; None when it says nothing."""
    for priority, pattern in _PRIORITY_PATTERNS:
        if pattern.search(text):
            return priority
    return None


_NOT_URGENT = re.compile(_alternation(("不急", "不紧急", "不着急", "不太急", "不是很急", "并不急")))
_URGENT = re.compile(
    _alternation(
        ("紧急", "很急", "非常急", "特别急", "急需", "加急", "尽快", "马上处理", "立刻", "宕机", "瘫痪")
    )
    + r"|(网站|系统|服务|服务器|应用|线上|生产环境|全部|整个)(完全)?(挂了|崩了|宕了|down了|用不了)"
)


def urgent_in_chinese(text: str) -> bool:
    """True when a Chinese description says it is urgent ("很急", "系统挂了", "宕机"); "不急" does not
    count."""
    return _URGENT.search(_NOT_URGENT.sub(" ", text)) is not None


# --- problem descriptions -----------------------------------------------------------------------------------

# Words that ask for a ticket or announce a problem without describing it, and particles: what is left
# after removing them is the description's substance.
_GENERIC = re.compile(
    _alternation(
        (
            "你好",
            "您好",
            "嗨",
            "请问",
            "请",
            "麻烦",
            "帮我",
            "帮忙",
            "我想",
            "我要",
            "我需要",
            "想要",
            "需要",
            "提交",
            "提个",
            "开个",
            "开一个",
            "创建",
            "新建",
            "报告",
            "报个",
            "反馈",
            "一个",
            "一下",
            "个",
            "新的",
            "工单",
            "问题",
            "故障",
            "错误",
            "请求",
            "遇到了",
            "遇到",
            "碰到了",
            "碰到",
            "发现了",
            "发现",
            "出了",
            "有",
            "了",
            "吗",
            "呢",
            "啊",
            "吧",
            "的",
            "我",
            "你们",
            "bug",
            "Bug",
            "BUG",
        )
    )
)
# "应用崩溃了" (5 Han characters) says what happened, as "the app crashed" does.
MIN_DESCRIPTION_UNITS = 5
# Substance left once the generic words are gone: "应用崩溃" yes, "系统出" no.
MIN_DETAIL_UNITS = 4


def _units(text: str) -> int:
    """Length in Han characters, a Latin word or number counting as two."""
    return len(HAN.findall(text)) + 2 * len(_LATIN_WORD.findall(text))


def chinese_description_units(text: str) -> int:
    return _units(text)


def chinese_detail_units(text: str) -> int:
    """The units of `text` once the words that describe nothing ("我想提交一个工单") are removed."""
    return _units(_GENERIC.sub("", text))


# --- onboarding steps ---------------------------------------------------------------------------------------

# What Chinese customers call each step of cs_backend/onboarding/checklist.toml (by key).
STEP_PHRASES: Mapping[str, tuple[str, ...]] = {
    "sign_up": ("注册", "创建账号", "创建账户", "开通账号", "开户", "试用", "账号"),
    "verify_email": ("验证邮箱", "邮箱验证", "验证邮件", "确认邮件", "确认邮箱", "验证", "邮箱", "邮件"),
    "complete_profile": ("个人资料", "资料", "头像", "完善", "时区", "个人信息"),
    "connect_integration": ("集成", "连接", "对接", "绑定", "接入"),
    "invite_teammate": ("邀请", "同事", "队友", "成员", "团队"),
    "create_project": ("创建项目", "新建项目", "项目", "看板"),
}


def chinese_step_scores(text: str, keys: Iterable[str]) -> dict[str, int]:
    """For each step key, how many of its Chinese phrases the text contains."""
    return {key: sum(1 for phrase in STEP_PHRASES.get(key, ()) if phrase in text) for key in keys}


# --- cancellation reasons -----------------------------------------------------------------------------------

# Checked in this order, like the English keywords of actions/retention.py: price, switching, not using,
# missing features.
CANCEL_REASON_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "too_expensive",
        re.compile(_alternation(("贵", "价格", "费用", "预算", "便宜", "成本", "花钱", "付不起", "钱"))),
    ),
    (
        "switching",
        re.compile(
            _alternation(("换成", "换到", "换用", "转到", "转用", "改用", "迁移到", "竞品", "别家"))
            + r"|(别的|其他|其它|另一个|另外的)(工具|产品|软件|服务|平台)"
        ),
    ),
    (
        "not_using",
        re.compile(
            _alternation(("用不上", "不怎么用", "很少用", "没怎么用", "用得少", "没时间", "不需要了", "闲置"))
        ),
    ),
    (
        "missing_feature",
        re.compile(_alternation(("功能", "缺少", "缺了", "不支持", "做不到", "没法实现", "无法实现"))),
    ),
)


def cancel_reason_from_chinese(text: str) -> str | None:
    """ "太贵了" -> too_expensive, "我们要换用别的工具" -> switching; None when no reason is recognised."""
    for reason, pattern in CANCEL_REASON_PATTERNS:
        if pattern.search(text):
            return reason
    return None
