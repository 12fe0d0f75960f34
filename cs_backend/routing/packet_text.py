"""The handoff packet (packet.py) as plain text: the description of the ticket opened when nobody could take
a handoff, so whoever picks the ticket up reads what an agent would have seen.

Fits the ticket's description (tickets/schemas.py, DESCRIPTION_MAX_LENGTH): the head (handoff, customer,
priority) comes first and is never cut; the conversation's messages are cut from the oldest, and the whole is
cut at the limit with a marker. Text that cannot be stored (NUL, lone surrogates) is cleaned.
"""

from __future__ import annotations

from typing import Final

from cs_backend.routing.packet import Packet
from cs_backend.tickets.schemas import DESCRIPTION_MAX_LENGTH

CUT_MARKER: Final = "\n[… cut to fit the ticket]"
# Each message line of the conversation is kept to this many characters.
MESSAGE_LINE_LENGTH: Final = 300


def _storable(text: str) -> str:
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _line(text: str, length: int = MESSAGE_LINE_LENGTH) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[: length - 1] + "…"


def _head(packet: Packet) -> list[str]:
    handoff = packet.handoff
    reason = handoff.reason.replace("_", " ")
    lines = [
        f"The customer asked for a person (handoff {handoff.id}, reason: {reason}), "
        "and nobody could take the conversation then.",
    ]
    if handoff.detail:
        lines.append(f"Detail: {_line(handoff.detail, 1000)}")
    suggestion = packet.suggested_priority
    lines.append(f"Suggested priority: {suggestion.priority} ({'; '.join(suggestion.reasons)})")
    flags = [name for name, on in (("at risk", handoff.at_risk), ("high value", handoff.high_value)) if on]
    if flags:
        lines.append("Customer flagged: " + ", ".join(flags))
    lines.append(f"Conversation: {handoff.sender_id} on {handoff.channel}, language {handoff.language}")
    customer = packet.customer
    if customer is not None:
        name = f" ({customer.name})" if customer.name else ""
        lines.append(f"Customer {customer.id}: {customer.email or 'no email'}{name}")
    return lines


def _record(packet: Packet) -> list[str]:
    lines = []
    onboarding = packet.onboarding
    lines.append(f"Onboarding: {onboarding.done_count} of {onboarding.total} steps done")
    if packet.open_tickets:
        lines.append(
            "Open tickets: "
            + ", ".join(f"#{ticket.id} {_line(ticket.subject, 80)}" for ticket in packet.open_tickets)
        )
    for label, rating in (("Last CSAT", packet.last_csat), ("Last CES", packet.last_ces)):
        if rating is not None:
            lines.append(f"{label}: {rating.score}")
    if packet.churn_signals:
        lines.append(
            "Churn signals: "
            + ", ".join(f"{signal.kind} ({signal.outcome})" for signal in packet.churn_signals)
        )
    return lines


def _conversation(packet: Packet) -> list[str]:
    summary = packet.conversation
    if summary is None:
        return ["Conversation summary: unavailable (Rasa could not be reached)."]
    lines = []
    if summary.intents:
        lines.append("Intents: " + ", ".join(f"{i.intent} ×{i.count}" for i in summary.intents))
    if summary.not_understood:
        lines.append("Not understood:")
        lines += [f"- {_line(message.text)}" for message in summary.not_understood]
    if summary.last_messages:
        lines.append("Last messages:")
        lines += [f"{message.speaker}: {_line(message.text)}" for message in summary.last_messages]
    return lines


def render_packet(packet: Packet, limit: int = DESCRIPTION_MAX_LENGTH) -> str:
    """The packet as readable text of at most `limit` characters."""
    head = "\n".join(_head(packet) + [""] + _record(packet))
    conversation = _conversation(packet)
    text = head
    # Oldest conversation lines go first when it does not fit (the newest say most about why they came).
    while conversation:
        text = head + "\n\n" + "\n".join(conversation)
        if len(text) <= limit:
            break
        conversation = conversation[1:]
    else:
        text = head
    text = _storable(text)
    if len(text) > limit:
        text = text[: limit - len(CUT_MARKER)] + CUT_MARKER
    return text
