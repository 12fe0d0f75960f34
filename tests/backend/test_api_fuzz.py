"""Schemathesis against the served OpenAPI document (GET /api/openapi.json): every operation of the document,
authenticated as its `security` allows, with data that fits the document and data that does not, on the real
app (create_app) served on a local port, on SQLite and on PostgreSQL.

No answer may be a 5xx, and every request and response must agree with the document: a declared status,
content type, headers and body schema for every answer, a 4xx for every request the document forbids (the
`negative_data_rejection` check). Operations come from the document, not from a list here, so a new route is
fuzzed as soon as it is registered. Generation is derandomized (a fixed seed per operation), so a run is
repeatable, and bounded (MAX_EXAMPLES per operation in the fuzzing phase); the test counts the requests and
asserts at least MIN_REQUESTS.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.pytest.lazy import get_all_tests
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cs_backend.accounts import passwords
from cs_backend.accounts.passwords import DEFAULT_HASHER
from cs_backend.api.openapi import BEARER_SCHEME, SERVICE_SCHEME
from cs_backend.api.types import IDEMPOTENCY_HEADER
from cs_backend.config import Settings
from cs_backend.main import create_app

from .conftest import TABLES, run_in_thread
from .helpers import FAST_HASHER
from .served_api import BearerSession, ServedApp, ServiceSignature
from .service_signing import TEST_SERVICE_SECRET
from .services import empty_postgres_tables, unique_name

MAX_EXAMPLES = 40
MIN_REQUESTS = 2000
SEED = 20261130
UNREACHABLE_RATE_LIMIT = "1000000/minute"
RATE_LIMIT_SETTINGS = [
    "rate_limit_anonymous",
    "rate_limit_refused_credentials",
    "rate_limit_account",
    "rate_limit_service",
    "rate_limit_sign_in_per_address",
    "rate_limit_sign_in_per_email",
]
# An event stream never ends: its answer is read for this long (schemathesis then checks what arrived).
EVENT_STREAM_SECONDS = 1.0
# Any other answer must come within this (signing in hashes a password on purpose: tens of milliseconds).
REQUEST_TIMEOUT_SECONDS = 30.0
# Rules between query parameters, which OpenAPI cannot state in the parameters' schemas: the operation's
# description states them, and a query that breaks one is a 400 naming only these parameters.
QUERY_RULES = {
    "GET /api/onboarding/progress": {"customer_id", "sender_id", "channel"},
    # The window: from ≤ to, at most 366 days, days from 1970 to 2999 (docs/METRICS.md).
    "GET /api/analytics/summary": {"from", "to"},
    "GET /api/analytics/distribution": {"from", "to"},
}


def valid_data_accepted(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """positive_data_acceptance, but for a 400 that names only parameters of a rule the parameters' schemas
    cannot state (QUERY_RULES), and for the 422 of an Idempotency-Key the fuzz already sent with another body:
    like a 409, a refusal of the state (what the key was first used for), not of the request's shape."""
    rule = QUERY_RULES.get(case.operation.label)
    if rule is not None and response.status_code == 400:
        fields = set(response.json()["error"].get("fields", {}))
        if fields and fields <= rule:
            return None
    key_reused = response.status_code == 422 and set(response.json()["error"].get("fields", {})) == {
        IDEMPOTENCY_HEADER
    }
    if key_reused:
        return None
    return positive_data_acceptance(ctx, response, case)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    valid_data_accepted,
]


@dataclasses.dataclass
class FuzzRun:
    """The served app and what the fuzz sent it: requests per operation."""

    served: ServedApp
    sent: Counter[str] = dataclasses.field(default_factory=Counter)
    request_seconds: Counter[str] = dataclasses.field(default_factory=Counter)
    total_seconds: Counter[str] = dataclasses.field(default_factory=Counter)
    statuses: Counter[int] = dataclasses.field(default_factory=Counter)

    def credential(self, case: schemathesis.Case) -> requests.auth.AuthBase | None:
        """The service signature where the operation accepts it, else an admin's session; none when public."""
        schemes = {
            name for requirement in case.operation.definition.raw.get("security", []) for name in requirement
        }
        if SERVICE_SCHEME in schemes:
            return ServiceSignature(TEST_SERVICE_SECRET)
        if BEARER_SCHEME in schemes:
            return BearerSession(self.served.new_admin_session)
        return None


def streams(operation: schemathesis.APIOperation) -> bool:
    responses = operation.definition.raw.get("responses", {})
    return any("text/event-stream" in response.get("content", {}) for response in responses.values())


@pytest.fixture
def fuzz_run(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FuzzRun]:
    # Signing in and creating accounts hash a password with argon2's real costs (64 MiB, 3 passes): a third
    # of the fuzz's time for nothing it checks. The app's hasher gets the tests' cheap parameters
    # (tests/backend/helpers.py FAST_HASHER); the answers are the same.
    monkeypatch.setattr(DEFAULT_HASHER, "_parameters", FAST_HASHER._parameters)
    # The dummy hash an unknown email is checked against is made once per hasher: not with these costs.
    request.addfinalizer(passwords._unknown_account_hash.cache_clear)
    passwords._unknown_account_hash.cache_clear()
    if backend == "sqlite":
        database = tmp_path / "fuzz.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), database)
        database_url = f"sqlite:///{database}"
    else:
        database_url = request.getfixturevalue("postgres_migrated_database")
        run_in_thread(lambda: asyncio.run(empty_postgres_tables(database_url, TABLES)))
    settings = Settings(
        database_url=database_url,
        redis_url=None,
        redis_channel=unique_name("cs_fuzz"),
        onboarding_nudge_interval_seconds=0,
        service_secret=TEST_SERVICE_SECRET,
        # The fuzz is about the handlers: no request of it may be answered by the rate limiter instead
        # (tests/backend/test_rate_limits.py tests the limits).
        **{name: UNREACHABLE_RATE_LIMIT for name in RATE_LIMIT_SETTINGS},
    )
    served = ServedApp(create_app(settings))
    served.start()
    run = FuzzRun(served)
    try:
        yield run
    finally:
        served.stop()
    total = sum(run.total_seconds.values())
    print(f"api fuzz: {sum(run.sent.values())} requests over {len(run.sent)} operations in {total:.1f} s")
    for label, seconds in run.total_seconds.most_common():
        waiting = run.request_seconds[label]
        print(f"  {label}: {run.sent[label]} requests, {seconds:.1f} s ({waiting:.1f} s waiting for answers)")


def served_schema(run: FuzzRun) -> Any:
    """The document the app serves, configured for a bounded, repeatable fuzz."""
    schema = schemathesis.openapi.from_url(f"{run.served.url}/api/openapi.json")
    schema.config.seed = SEED
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=MAX_EXAMPLES,
        deterministic=True,
        database="none",
        with_security_parameters=False,
    )
    return schema


# Operations whose handler has a cap of its own, answered with a documented 429 (live link codes per user;
# wrong codes per chat account): the fuzzer's many requests reach it, and that is the handler answering.
OWN_CAPS = frozenset({"POST /api/identities/link-codes", "POST /api/identities/link-codes/redeem"})


def test_every_operation_agrees_with_the_document(fuzz_run: FuzzRun) -> None:
    def send_and_check(case: schemathesis.Case) -> None:
        fuzz_run.sent[case.operation.label] += 1
        started = time.perf_counter()
        try:
            response = case.call_and_validate(
                base_url=fuzz_run.served.url,
                auth=fuzz_run.credential(case),
                timeout=EVENT_STREAM_SECONDS if streams(case.operation) else REQUEST_TIMEOUT_SECONDS,
                checks=CHECKS,
            )
            if not (response.status_code == 429 and case.operation.label in OWN_CAPS):
                fuzz_run.statuses[response.status_code] += 1
        finally:
            fuzz_run.request_seconds[case.operation.label] += time.perf_counter() - started

    schema = served_schema(fuzz_run)
    failures: dict[str, str] = {}
    labels = []
    # Schemathesis's own tests of each operation (its explicit examples, coverage and fuzzing phases), run
    # here rather than through its pytest plugin so that one test counts every request they send.
    for built in get_all_tests(schema=schema, test_func=send_and_check, settings=None, given_kwargs={}):
        operation, operation_test = built.ok()
        labels.append(operation.label)
        started = time.perf_counter()
        try:
            operation_test()
        # Every operation's failures (schemathesis raises a group of them) are reported, not the first only.
        except BaseException as failure:
            if isinstance(failure, (KeyboardInterrupt, SystemExit)):
                raise
            notes = "\n".join(getattr(failure, "__notes__", []))
            failures[operation.label] = f"{type(failure).__name__}: {failure}\n{notes}"
        fuzz_run.total_seconds[operation.label] += time.perf_counter() - started
    assert fuzz_run.statuses[429] == 0, "the rate limiter answered instead of the handlers"
    assert not failures, "\n\n".join(f"{label}\n{report}" for label, report in failures.items())
    assert set(fuzz_run.sent) == set(labels), set(labels) - set(fuzz_run.sent)
    assert sum(fuzz_run.sent.values()) >= MIN_REQUESTS, fuzz_run.sent
