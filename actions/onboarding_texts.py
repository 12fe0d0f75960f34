"""The onboarding checklist's texts in Chinese, by step key.

cs_backend serves the checklist (cs_backend/onboarding/checklist.toml) in English: keys, titles, instructions
and documentation links. A Chinese conversation shows each step's title and instructions from here instead;
the key and the documentation link stay cs_backend's. A step cs_backend adds later without a translation here
is shown in English (tests/actions/test_onboarding_texts.py fails until it has one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from actions.language import ZH


@dataclass(frozen=True)
class StepText:
    title: str
    how_to: str


STEP_TEXTS_ZH: Mapping[str, StepText] = {
    "sign_up": StepText(
        title="创建您的 Acme Cloud 账号",
        how_to=(
            "打开 https://app.example.com/signup ，用工作邮箱注册，或点击“Continue with Google”。14 天"
            "试用无需"
            "绑定银行卡。给工作空间起个名字（通常是公司或团队名）：它会成为您的访问地址，例如 "
            "acme-design.app.example.com，之后可以在 设置 → 工作空间 中修改。"
        ),
    ),
    "verify_email": StepText(
        title="验证您的邮箱地址",
        how_to=(
            "打开来自 no-reply@acme.example、主题为“Confirm your email”的邮件，点击“Verify email”。链接"
            " 24 小时内"
            "有效。5 分钟后还没收到？请先查看垃圾邮件，再点击应用顶部黄色横幅上的“Resend verification e"
            "mail”。"
        ),
    ),
    "complete_profile": StepText(
        title="完善个人资料",
        how_to=(
            "点击右上角的头像，进入 设置 → 个人资料。填写全名、职位和时区（截止日期和提醒都按时区计算）"
            "，并上传一张"
            "照片，方便同事在评论中认出您。最后点击“Save profile”。"
        ),
    ),
    "connect_integration": StepText(
        title="连接一个集成",
        how_to=(
            "打开 设置 → 集成，在 Slack、GitHub 或 Google Drive 旁点击“Connect”，然后在弹出的窗口中批准"
            "访问请求。"
            "Slack 会把任务动态发到您选择的频道；GitHub 会把提交和合并请求关联到提及其编号的任务（例如 "
            "ACME-42）；"
            "Google Drive 让您无需下载即可把文件附到任务上。每个集成大约只需一分钟。"
        ),
    ),
    "invite_teammate": StepText(
        title="邀请一位同事",
        how_to=(
            "进入 设置 → 成员，点击“Invite members”。输入一个或多个邮箱地址，选择角色（成员，或管理账单"
            "和集成的"
            "管理员），然后点击“Send invites”。免费版最多 3 名成员；邀请 7 天后失效，可在同一页面重新发送。"
        ),
    ),
    "create_project": StepText(
        title="创建您的第一个项目",
        how_to=(
            "点击左侧边栏的“New project”按钮，为项目命名并选择模板（看板、迭代计划或空白）。用“+ Add ta"
            "sk”添加第一个"
            "任务，指派给自己或同事，并设置截止日期。所有内容之后都可以重命名或移动。"
        ),
    ),
}


def step_title(key: str, english_title: str, language: str) -> str:
    """The step's title in `language` (cs_backend's English one when there is no translation)."""
    text = STEP_TEXTS_ZH.get(key) if language == ZH else None
    return text.title if text else english_title


def step_how_to(key: str, english_how_to: str, language: str) -> str:
    """The step's instructions in `language` (cs_backend's English ones when there is no translation)."""
    text = STEP_TEXTS_ZH.get(key) if language == ZH else None
    return text.how_to if text else english_how_to
