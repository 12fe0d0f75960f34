"""The errors the backend client raises: cs_backend refused, could not be reached, or broke its contract.

Every one is a :class:`BackendError`, so an action that only needs to know "it did not work" catches that one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# 400 invalid details, 404 unknown, 409 state conflict, 413 too large, 415 not JSON, 422 key reused.
_REFUSALS = frozenset({400, 404, 409, 413, 415, 422})


class BackendError(Exception):
    """cs_backend answered with an error (4xx/5xx), or gave no usable answer (the subclasses below).

    ``status`` is the HTTP status (0 when there was no answer at all), ``message`` the backend's message, and
    ``fields`` maps each rejected field to the reason (400 validation errors).
    """

    def __init__(self, status: int, message: str, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(f"cs_backend error {status}: {message}")
        self.status = status
        self.message = message
        self.fields: dict[str, str] = dict(fields or {})

    @property
    def is_not_found(self) -> bool:
        return self.status == 404

    @property
    def is_refusal(self) -> bool:
        """What the customer asked for was refused (bad or unknown details, a state that does not allow it):
        sending it again unchanged cannot help, and the customer can be told. A refused credential (401, 403)
        or a rate limit (429) is the service's problem, not the customer's: those count as unavailable."""
        return self.status in _REFUSALS

    @property
    def is_server_error(self) -> bool:
        return self.status >= 500


class BackendUnavailable(BackendError):
    """No answer from cs_backend: connection refused/reset, DNS failure or timeout, after every retry."""

    def __init__(self, message: str) -> None:
        super().__init__(0, message)


class BackendContractError(BackendError):
    """cs_backend answered (``status`` is 2xx), but not as its contract says (GET /api/openapi.json): a field
    missing, of another type, or null where the contract does not allow it.

    Nothing in such an answer can be trusted, so the actions treat it as they treat
    :class:`BackendUnavailable`. ``problems`` lists each broken field, as in
    ``"items.0.status: field required"``.
    """

    def __init__(self, status: int, message: str, problems: Sequence[str]) -> None:
        super().__init__(status, message)
        self.problems: tuple[str, ...] = tuple(problems)


class WriteNotQueued(BackendError):
    """A write cs_backend did not confirm (``unconfirmed``: no answer, a 5xx, ...) that the outbox could not
    keep either (its file cannot be written). It may or may not be stored: the customer must not be told it
    was saved, nor that it was not."""

    def __init__(self, unconfirmed: BackendError, reason: str) -> None:
        super().__init__(unconfirmed.status, f"{unconfirmed.message}; not queued: {reason}")
        self.unconfirmed = unconfirmed
