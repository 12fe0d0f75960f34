"""The reference tables of docs/ARCHITECTURE.md, generated from the code so that they cannot drift: the HTTP
routes from the route registry (api/registry.py), the settings from their declarations (config.py), the
modules of cs_backend from their docstrings, and the tables from the SQLAlchemy models (models.py).

Each table sits between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` markers; `python -m
cs_backend docs` (`make docs`) rewrites those sections and nothing else, and
tests/backend/test_architecture_doc.py fails when they differ from what the code generates.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import CheckConstraint, MetaData, UniqueConstraint

from cs_backend.api.registry import ApiRoute, access_label
from cs_backend.app_keys import API_ROUTES
from cs_backend.config import REPO_ROOT, EnvVariable, Settings, environment_variables
from cs_backend.main import create_app
from cs_backend.models import Base

ARCHITECTURE_DOC = REPO_ROOT / "docs" / "ARCHITECTURE.md"
PACKAGE_DIR = REPO_ROOT / "cs_backend"
# The files every domain folder is made of, in the order a reader meets them (a domain has the ones it needs).
DOMAIN_FILES = ("models", "schemas", "service", "routes", "jobs")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def route_table(routes: Sequence[ApiRoute]) -> str:
    """Every route as a Markdown table row (method, path, summary, tag, access), in registration order."""
    rows = ["| method | path | summary | tag | access |", "|---|---|---|---|---|"]
    rows += [
        f"| {r.method} | `{r.path}` | {_cell(r.summary)} | {r.tag} | {access_label(r.access)} |"
        for r in routes
    ]
    return "\n".join(rows)


def _shown_default(variable: EnvVariable[Any]) -> str:
    if variable.shown_default is not None:
        return f"`{variable.shown_default}`"
    if variable.default is None:
        return "unset"
    if isinstance(variable.default, float):
        return f"`{variable.default:g}`"
    return f"`{variable.default}`"


def settings_table(variables: Sequence[EnvVariable[Any]] | None = None) -> str:
    """Every environment variable of cs_backend as a Markdown table row (variable, default, meaning)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for variable in environment_variables() if variables is None else variables:
        rows.append(f"| `{variable.name}` | {_shown_default(variable)} | {_cell(variable.description)} |")
    return "\n".join(rows)


def _summary(path: Path) -> str:
    """The first sentence of a module's docstring."""
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    paragraph = " ".join(docstring.split("\n\n")[0].split())
    sentence = re.match(r"(.+?)\.(?:\s|$)", paragraph)
    return sentence.group(1) if sentence else paragraph


def module_table(package_dir: Path = PACKAGE_DIR) -> str:
    """cs_backend's top-level modules and packages: what each is for, and each package's files."""
    rows = ["| module | what it is for | files |", "|---|---|---|"]
    for path in sorted(package_dir.iterdir()):
        if path.suffix == ".py" and path.stem != "__init__":
            rows.append(f"| `{path.name}` | {_cell(_summary(path))} | |")
        elif path.is_dir() and (path / "__init__.py").exists():
            stems = sorted(p.stem for p in path.glob("*.py") if p.stem != "__init__")
            ordered = [s for s in DOMAIN_FILES if s in stems] + [s for s in stems if s not in DOMAIN_FILES]
            files = ", ".join(f"`{stem}`" for stem in ordered) or "(no Python modules)"
            rows.append(f"| `{path.name}/` | {_cell(_summary(path / '__init__.py'))} | {files} |")
    return "\n".join(rows)


def _constraint_text(constraint: CheckConstraint | UniqueConstraint) -> str:
    if isinstance(constraint, UniqueConstraint):
        return "unique (" + ", ".join(column.name for column in constraint.columns) + ")"
    return "check " + " ".join(str(constraint.sqltext).split())


def table_table(metadata: MetaData = Base.metadata) -> str:
    """Every table of the models: its columns (primary key first) and its constraints beyond types."""
    rows = ["| table | columns | keys and checks |", "|---|---|---|"]
    for table in sorted(metadata.tables.values(), key=lambda t: t.name):
        columns = []
        for column in table.columns:
            notes = ["PK"] if column.primary_key else []
            notes += [f"→ {key.column.table.name}" for key in column.foreign_keys]
            columns.append(column.name + (f" ({', '.join(notes)})" if notes else ""))
        constraints = [
            _constraint_text(constraint)
            for constraint in sorted(table.constraints, key=lambda c: str(c.name))
            if isinstance(constraint, (CheckConstraint, UniqueConstraint))
        ]
        rows.append(f"| `{table.name}` | {_cell(', '.join(columns))} | {_cell('; '.join(constraints))} |")
    return "\n".join(rows)


def registered_routes() -> list[ApiRoute]:
    """The routes an app registers (building an app starts nothing: see main.create_app)."""
    routes: list[ApiRoute] = create_app(Settings())[API_ROUTES]
    return routes


def generated_sections() -> dict[str, str]:
    return {
        "modules": module_table(),
        "routes": route_table(registered_routes()),
        "tables": table_table(),
        "settings": settings_table(),
    }


def with_generated_sections(document: str, sections: Mapping[str, str]) -> str:
    """`document` with the text between each section's markers replaced by the section's body."""
    for name, body in sections.items():
        start, end = f"<!-- generated:{name} -->", f"<!-- /generated:{name} -->"
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
        found = pattern.search(document)
        if found is None:
            raise ValueError(f"no {start} … {end} section in the document")
        document = f"{document[: found.start()]}{start}\n{body}\n{end}{document[found.end() :]}"
    return document


def write_architecture_doc(path: Path | None = None) -> bool:
    """Rewrite the generated sections of `path` (docs/ARCHITECTURE.md); True when the file changed."""
    path = ARCHITECTURE_DOC if path is None else path
    current = path.read_text(encoding="utf-8")
    updated = with_generated_sections(current, generated_sections())
    if updated != current:
        path.write_text(updated, encoding="utf-8")
    return updated != current
