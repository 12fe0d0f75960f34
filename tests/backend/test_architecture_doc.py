"""The route and settings tables of docs/ARCHITECTURE.md match the code (cs_backend/reference.py)."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from cs_backend import reference
from cs_backend.__main__ import main
from cs_backend.app_keys import API_ROUTES
from cs_backend.config import Settings, environment_variables
from cs_backend.main import create_app
from cs_backend.models import Base
from cs_backend.reference import (
    ARCHITECTURE_DOC,
    PACKAGE_DIR,
    generated_sections,
    module_table,
    route_table,
    settings_table,
    table_table,
    with_generated_sections,
    write_architecture_doc,
)
from tests.support import REPO_ROOT


def test_the_generated_sections_of_architecture_md_match_the_code() -> None:
    current = ARCHITECTURE_DOC.read_text(encoding="utf-8")
    expected = with_generated_sections(current, generated_sections())
    difference = "".join(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            expected.splitlines(keepends=True),
            "docs/ARCHITECTURE.md",
            "generated from the code",
        )
    )
    assert current == expected, f"docs/ARCHITECTURE.md differs from the code: run `make docs`\n{difference}"


def test_the_route_table_has_a_row_per_registered_route() -> None:
    routes = create_app(Settings())[API_ROUTES]
    rows = route_table(routes).splitlines()[2:]
    assert len(rows) == len(routes)
    assert "| POST | `/api/tickets` | Open a ticket | tickets | service |" in rows
    assert "| GET | `/api/openapi.json` | This OpenAPI 3.1 document | meta | public |" in rows


def test_the_settings_table_has_a_row_per_variable_with_machine_independent_defaults() -> None:
    rows = settings_table().splitlines()[2:]
    assert [row.split(" | ")[0] for row in rows] == [f"| `{v.name}`" for v in environment_variables()]
    assert "| `CS_BACKEND_PORT` | `8000` | Port to bind (0-65535). |" in rows
    assert "| `REDIS_URL` | unset |" in "\n".join(rows)
    assert str(REPO_ROOT) not in settings_table()


def test_the_module_table_names_every_module_and_the_files_of_each_domain() -> None:
    rows = module_table().splitlines()[2:]
    listed = {row.split(" | ")[0].removeprefix("| ").strip("`") for row in rows}
    on_disk = {p.name for p in PACKAGE_DIR.glob("*.py") if p.stem != "__init__"}
    on_disk |= {f"{p.name}/" for p in PACKAGE_DIR.iterdir() if (p / "__init__.py").exists()}
    assert listed == on_disk
    tickets = next(row for row in rows if row.startswith("| `tickets/`"))
    assert tickets.endswith("| `models`, `schemas`, `service`, `routes`, `transitions` |")
    assert "| `jobs.py` | The periodic runner every background job of the backend uses | |" in rows


def test_the_table_table_has_every_table_with_its_keys_and_checks() -> None:
    rows = table_table().splitlines()[2:]
    assert [row.split(" | ")[0].removeprefix("| ").strip("`") for row in rows] == sorted(Base.metadata.tables)
    tickets = next(row for row in rows if row.startswith("| `tickets`"))
    assert "customer_id (→ customers)" in tickets
    assert "check priority IN ('low', 'normal', 'high', 'urgent')" in tickets
    assert "unique (idempotency_key)" in tickets


def test_only_the_marked_sections_are_rewritten() -> None:
    document = "intro\n<!-- generated:routes -->\nold\n<!-- /generated:routes -->\noutro | kept\n"
    assert with_generated_sections(document, {"routes": "new | table"}) == (
        "intro\n<!-- generated:routes -->\nnew | table\n<!-- /generated:routes -->\noutro | kept\n"
    )
    with pytest.raises(ValueError, match="generated:settings"):
        with_generated_sections(document, {"settings": "table"})


def test_the_docs_command_rewrites_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "ARCHITECTURE.md"
    stale.write_text(
        "# A\n<!-- generated:routes -->\n<!-- /generated:routes -->\n"
        "<!-- generated:settings -->\n| stale |\n<!-- /generated:settings -->\n"
        "<!-- generated:modules -->\n<!-- /generated:modules -->\n"
        "<!-- generated:tables -->\n<!-- /generated:tables -->\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(reference, "ARCHITECTURE_DOC", stale)
    monkeypatch.setenv("CS_BACKEND_PORT", "not a port")  # the environment's settings play no part

    assert main(["docs"]) == 0
    assert capsys.readouterr().out == f"{stale}: updated\n"
    assert "| `DATABASE_URL` |" in stale.read_text(encoding="utf-8")
    assert "| POST | `/api/tickets` |" in stale.read_text(encoding="utf-8")
    assert write_architecture_doc(stale) is False  # already up to date
