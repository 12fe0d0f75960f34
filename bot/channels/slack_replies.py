"""How the bot's messages are posted to Slack: Rasa's SlackBot, at a configurable Web API address, in the
thread of the customer's message, with every button as a Slack block and the text shown as written.

Differences from Rasa's SlackBot (rasa/core/channels/slack.py), each for a reason:
- The Web API's base URL is a parameter (SLACK_API_URL): self-hosted proxies, and the tests' local fake.
- `as_user` is never sent: Slack refuses it (`invalid_arguments`) from the bot tokens of apps made today.
- Buttons: Rasa drops all of them when there are more than five (the CES survey has seven); a Slack
  `actions` block holds up to 25, so they are sent in blocks of 25.
- Text: Slack reads `<…>` in a message as a mention or a link (`<!channel>` notifies everyone in a channel)
  and `&` as the start of an entity, so the three are escaped as Slack documents
  (https://api.slack.com/reference/surfaces/formatting#escaping); an agent's or a customer's words are then
  shown as they were typed. Bare URLs are still linked by Slack; *bold* and _italics_ still render.
"""

from __future__ import annotations

from typing import Any

from rasa.core.channels.slack import SlackBot
from slack_sdk.web.async_client import AsyncWebClient

DEFAULT_API_URL = "https://slack.com/api"
# https://api.slack.com/reference/block-kit/blocks#actions: at most 25 elements in an actions block.
MAX_BUTTONS_PER_BLOCK = 25
# Arguments of Rasa's SlackBot that Slack does not take from this app (see the module docstring).
_DROPPED_ARGUMENTS = ("as_user", "type")


def escaped(text: str) -> str:
    """`text` with &, < and > escaped, so that Slack shows it as written (no mentions, no links)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def button_blocks(text: str, buttons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Block Kit blocks of a message with buttons: its text, then the buttons (their payloads as values)."""
    elements = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": str(button["title"])},
            "value": str(button["payload"]),
        }
        for button in buttons
    ]
    return [
        {"type": "section", "text": {"type": "plain_text", "text": text}},
        *(
            {"type": "actions", "elements": elements[start : start + MAX_BUTTONS_PER_BLOCK]}
            for start in range(0, len(elements), MAX_BUTTONS_PER_BLOCK)
        ),
    ]


class SlackReplies(SlackBot):
    """Rasa's Slack output channel posting to `api_url`, in the thread `thread_id` when given.

    `slack_channel` is the Slack conversation replied to; None (a message the bot starts, such as a survey or
    an agent's reply relayed by cs_backend) posts to the app's direct messages with the recipient.
    """

    def __init__(
        self,
        token: str,
        slack_channel: str | None = None,
        thread_id: str | None = None,
        proxy: str | None = None,
        api_url: str = DEFAULT_API_URL,
    ) -> None:
        super().__init__(token, slack_channel, thread_id, proxy)
        self.client = AsyncWebClient(token, proxy=proxy, base_url=api_url)

    async def _post_message(self, channel: str, **kwargs: Any) -> None:
        arguments = {key: value for key, value in kwargs.items() if key not in _DROPPED_ARGUMENTS}
        await super()._post_message(channel, **arguments)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await super().send_text_message(recipient_id, escaped(text), **kwargs)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        # `text` is what notifications and screen readers show; the section block shows it as plain text.
        await self._post_message(
            channel=self.slack_channel or recipient_id,
            text=escaped(text),
            blocks=button_blocks(text, buttons),
        )
