"""What an Idempotency-Key stands for: the key and the fingerprint of the request first sent with it.

A key names one request. Reused with another request it is a client bug (two writes sharing one key) that
must not be answered with the first row as if the second had been stored: the fingerprint tells the two
apart, and db.create_once refuses the second with IdempotencyKeyReused (422).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from pydantic import BaseModel

from cs_backend.api.errors import ApiError
from cs_backend.api.types import IDEMPOTENCY_HEADER

# The length of a fingerprint: a SHA-256 in hex.
FINGERPRINT_LENGTH = 64


@dataclass(frozen=True)
class IdempotencyKey:
    """The Idempotency-Key header's value and the fingerprint of the request that carries it."""

    value: str
    fingerprint: str


def request_fingerprint(route: str, body: BaseModel) -> str:
    """SHA-256 (hex) of the route and the canonical JSON of the validated body.

    Validated, so what the API treats as the same request fingerprints the same: whitespace and key order of
    the JSON, the spaces trimmed around a field, an optional field sent as null or left out, a field sent
    with its default value or left out. Defaults are left out of the canonical form, so a field added to a
    body later (with a default) leaves the fingerprints of older requests, replayed after the upgrade, as
    they were.
    """
    canonical = json.dumps(
        {"route": route, "body": body.model_dump(mode="json", exclude_defaults=True)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyKeyReused(ApiError):
    """422: the Idempotency-Key was first sent with another request; nothing is changed."""

    status = 422

    def __init__(self) -> None:
        super().__init__(
            f"{IDEMPOTENCY_HEADER} reused with a different request",
            {
                IDEMPOTENCY_HEADER: "reused with a different request: this key was first sent with another "
                "body; send that body again, or use a new key for a new request"
            },
        )
