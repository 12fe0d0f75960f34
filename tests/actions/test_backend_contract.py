"""The client's answer models (actions/api/models.py) against the contract cs_backend serves.

The OpenAPI document (GET /api/openapi.json of the real cs_backend, see conftest.py) is the contract. For
every answer the client decodes, each field of the client's model must be in the answer's component schema,
required there exactly when the model requires it, nullable there exactly when the model allows null, and of
the same JSON type; a field the model types with `Literal` (the conversation relies on its values) must have
exactly those values as its enum. Fields the model does not name are not checked: the client ignores them.
"""

from __future__ import annotations

import copy
import typing
from collections.abc import Mapping
from types import NoneType, UnionType
from typing import Any, Literal, Union, get_args, get_origin

import pytest
from conftest import RunningBackend
from pydantic import StrictBool, StrictInt, StrictStr

from actions.api import models
from actions.api.models import (
    BackendModel,
    ChurnSignal,
    ErrorResponse,
    Feedback,
    Handoff,
    LinkedAccount,
    OnboardingChecklist,
    OnboardingProgress,
    RelayedMessage,
    Survey,
    Ticket,
    TicketPage,
    WebsiteBinding,
)

Schema = Mapping[str, Any]

# Every answer the client decodes: (method, path as the document names it, model of its 2xx answers).
# Its 4xx/5xx answers are decoded as ErrorResponse.
CLIENT_CALLS: list[tuple[str, str, type[BackendModel]]] = [
    ("post", "/api/tickets", Ticket),
    ("get", "/api/tickets/{id}", Ticket),
    ("get", "/api/tickets", TicketPage),
    ("post", "/api/feedback", Feedback),
    ("get", "/api/onboarding/steps", OnboardingChecklist),
    ("get", "/api/onboarding/progress", OnboardingProgress),
    ("post", "/api/onboarding/start", OnboardingProgress),
    ("post", "/api/onboarding/progress", OnboardingProgress),
    ("post", "/api/churn/signals", ChurnSignal),
    ("post", "/api/routing/handoffs", Handoff),
    ("post", "/api/routing/handoffs/{id}/ticket", Handoff),
    ("post", "/api/routing/handoffs/{id}/customer-messages", RelayedMessage),
    ("get", "/api/routing/conversations/active-handoff", Handoff),
    ("post", "/api/surveys", Survey),
    ("get", "/api/surveys/{id}", Survey),
    ("post", "/api/identities/website/bindings", WebsiteBinding),
    ("post", "/api/identities/link-codes/redeem", LinkedAccount),
    ("post", "/api/surveys/{id}/answers", Survey),
]

# Exact classes: pydantic's StrictBool is an int subclass at run time.
JSON_TYPES: dict[Any, str] = {
    StrictInt: "integer",
    StrictStr: "string",
    StrictBool: "boolean",
    int: "integer",
    str: "string",
    bool: "boolean",
}
_REF_PREFIX = "#/components/schemas/"


# --- the checker --------------------------------------------------------------------------------------------


def contract_mismatches(model: type[BackendModel], schema: Schema, components: Schema) -> list[str]:
    """How `model` disagrees with `schema` (a component schema or a $ref to one); empty when they agree."""
    return _model_mismatches(model, schema, components, model.__name__)


def _resolve(schema: Schema, components: Schema) -> Schema:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    assert ref.startswith(_REF_PREFIX), ref
    return components[ref.removeprefix(_REF_PREFIX)]


def _model_mismatches(model: type[BackendModel], schema: Schema, components: Schema, where: str) -> list[str]:
    schema = _resolve(schema, components)
    if schema.get("type") != "object":
        return [f"{where}: the contract's answer is not an object ({schema})"]
    properties: Schema = schema.get("properties", {})
    required = set(schema.get("required", []))
    annotations = typing.get_type_hints(model)
    problems: list[str] = []
    for name, field in model.__fields__.items():
        here = f"{where}.{name}"
        if name not in properties:
            problems.append(f"{here}: the client reads it, the contract has no such field")
            continue
        if field.required != (name in required):
            client = "requires it" if field.required else "does not require it"
            contract = "does" if name in required else "does not"
            problems.append(f"{here}: the client {client}, the contract {contract}")
        problems += _type_mismatches(annotations[name], properties[name], components, here)
    return problems


def _split_optional(annotation: Any) -> tuple[bool, Any]:
    """(null allowed, the annotation without None) for `X | None` / `Optional[X]`."""
    if get_origin(annotation) in (Union, UnionType):
        members = [member for member in get_args(annotation) if member is not NoneType]
        nullable = len(members) < len(get_args(annotation))
        return nullable, members[0] if len(members) == 1 else annotation
    return False, annotation


def _split_nullable(schema: Schema) -> tuple[bool, Schema]:
    """(null allowed, the schema without null) for `anyOf: [X, {"type": "null"}]` or `type: [X, "null"]`."""
    if "anyOf" in schema:
        variants = schema["anyOf"]
        non_null = [variant for variant in variants if variant != {"type": "null"}]
        nullable = len(non_null) < len(variants)
        return nullable, non_null[0] if len(non_null) == 1 else {"anyOf": non_null}
    if isinstance(schema.get("type"), list):
        types = [kind for kind in schema["type"] if kind != "null"]
        nullable = len(types) < len(schema["type"])
        return nullable, {**schema, "type": types[0] if len(types) == 1 else types}
    return False, schema


def _type_mismatches(annotation: Any, schema: Schema, components: Schema, where: str) -> list[str]:
    client_nullable, core = _split_optional(annotation)
    contract_nullable, contract = _split_nullable(schema)
    problems: list[str] = []
    if client_nullable != contract_nullable:
        client = "allows null" if client_nullable else "does not allow null"
        contract_says = "does" if contract_nullable else "does not"
        problems.append(f"{where}: the client {client}, the contract {contract_says}")
    contract = _resolve(contract, components)
    origin = get_origin(core)
    if _is_model(core):
        return problems + _model_mismatches(core, contract, components, where)
    if origin is tuple:
        item, _ = get_args(core)
        if contract.get("type") != "array":
            return [*problems, f"{where}: the client reads type array, the contract says {_kind(contract)}"]
        return problems + _type_mismatches(item, contract["items"], components, f"{where}[]")
    if origin is dict:
        _, value = get_args(core)
        values = contract.get("additionalProperties")
        if contract.get("type") != "object" or not isinstance(values, Mapping):
            return [*problems, f"{where}: the client reads a mapping, the contract says {_kind(contract)}"]
        return problems + _type_mismatches(value, values, components, f"{where}{{}}")
    if origin is Literal:
        known = set(get_args(core))
        if contract.get("type") != "string" or set(contract.get("enum", ())) != known:
            problems.append(
                f"{where}: the client knows the values {sorted(known)}, the contract "
                f"{sorted(contract['enum']) if 'enum' in contract else 'any ' + _kind(contract)}"
            )
        return problems
    if core not in JSON_TYPES:
        return [*problems, f"{where}: the checker does not know the client's type {core!r}"]
    if contract.get("type") != JSON_TYPES[core]:
        problems.append(
            f"{where}: the client reads type {JSON_TYPES[core]}, the contract says {_kind(contract)}"
        )
    return problems


def _is_model(annotation: Any) -> bool:
    # `tuple[X, ...]` passes isinstance(..., type) on Python 3.10: rule generic aliases out first.
    return (
        get_origin(annotation) is None
        and isinstance(annotation, type)
        and issubclass(annotation, BackendModel)
    )


def _kind(schema: Schema) -> str:
    return str(schema.get("type") or schema)


# --- the client against the served contract -----------------------------------------------------------------


@pytest.fixture(scope="module")
def document(backend: RunningBackend) -> dict[str, Any]:
    return backend.get("/api/openapi.json")


def _answers(document: Schema, method: str, path: str) -> dict[str, Schema]:
    """The JSON schema of each answer of an operation, by status."""
    operation = document["paths"][path][method]
    return {
        status: response["content"]["application/json"]["schema"]
        for status, response in operation["responses"].items()
        if "application/json" in response.get("content", {})
    }


@pytest.mark.parametrize(("method", "path", "model"), CLIENT_CALLS, ids=lambda value: str(value))
def test_every_answer_the_client_decodes_matches_the_contract(
    document: dict[str, Any], method: str, path: str, model: type[BackendModel]
) -> None:
    answers = _answers(document, method, path)
    successes = {status: schema for status, schema in answers.items() if status.startswith("2")}
    assert successes, f"{method.upper()} {path} has no JSON answer in the contract"
    components = document["components"]["schemas"]
    for status, schema in answers.items():
        expected = model if status in successes else ErrorResponse
        problems = contract_mismatches(expected, schema, components)
        assert problems == [], f"{method.upper()} {path} {status}:\n" + "\n".join(problems)


def test_every_answer_model_is_checked() -> None:
    """A new model must be added to CLIENT_CALLS, so that it is checked too."""
    every = {
        value
        for value in vars(models).values()
        if isinstance(value, type) and issubclass(value, BackendModel) and value is not BackendModel
    }
    checked: set[type[BackendModel]] = set()
    pending = [model for _, _, model in CLIENT_CALLS] + [ErrorResponse]
    while pending:
        model = pending.pop()
        if model in checked:
            continue
        checked.add(model)
        for annotation in typing.get_type_hints(model).values():
            pending += [member for member in _nested(annotation) if _is_model(member)]
    assert every - checked == set()


def _nested(annotation: Any) -> list[Any]:
    return [annotation, *(nested for argument in get_args(annotation) for nested in _nested(argument))]


# --- the checker catches a disagreement ---------------------------------------------------------------------


def _copy_of_components(document: Schema) -> dict[str, Any]:
    return copy.deepcopy(document["components"]["schemas"])


def _drop_field(components: dict[str, Any]) -> None:
    del components["TicketOut"]["properties"]["subject"]


def _make_optional(components: dict[str, Any]) -> None:
    components["TicketOut"]["required"].remove("conversation_id")


def _allow_null(components: dict[str, Any]) -> None:
    components["TicketOut"]["properties"]["customer_id"] = {"anyOf": [{"type": "integer"}, {"type": "null"}]}


def _forbid_null(components: dict[str, Any]) -> None:
    components["TicketOut"]["properties"]["conversation_id"] = {"type": "integer"}


def _change_type(components: dict[str, Any]) -> None:
    components["TicketOut"]["properties"]["id"] = {"type": "string"}


def _add_enum_value(components: dict[str, Any]) -> None:
    components["TicketOut"]["properties"]["status"]["enum"].append("escalated")


def _change_nested_type(components: dict[str, Any]) -> None:
    components["TicketPage"]["properties"]["items"] = {"type": "array", "items": {"type": "string"}}


@pytest.mark.parametrize(
    ("change", "model", "complaint"),
    [
        (_drop_field, Ticket, "Ticket.subject: the client reads it, the contract has no such field"),
        (_make_optional, Ticket, "Ticket.conversation_id: the client requires it, the contract does not"),
        (_allow_null, Ticket, "Ticket.customer_id: the client does not allow null, the contract does"),
        (_forbid_null, Ticket, "Ticket.conversation_id: the client allows null, the contract does not"),
        (_change_type, Ticket, "Ticket.id: the client reads type integer, the contract says string"),
        (_add_enum_value, Ticket, "Ticket.status: the client knows the values"),
        (_change_nested_type, TicketPage, "TicketPage.items[]: the contract's answer is not an object"),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_the_checker_catches_a_disagreement(
    document: dict[str, Any], change: Any, model: type[BackendModel], complaint: str
) -> None:
    components = _copy_of_components(document)
    name = "TicketPage" if model is TicketPage else "TicketOut"
    assert contract_mismatches(model, {"$ref": f"{_REF_PREFIX}{name}"}, components) == []
    change(components)
    problems = contract_mismatches(model, {"$ref": f"{_REF_PREFIX}{name}"}, components)
    assert any(problem.startswith(complaint) for problem in problems), problems
