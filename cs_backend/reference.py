"""The reference tables of docs/ARCHITECTURE.md, generated from the code so that they cannot drift: the HTTP
routes from the route registry (api/registry.py), the settings from their declarations (config.py).

Each table sits between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` markers; `python -m
cs_backend docs` (`make docs`) rewrites those sections and nothing else, and
tests/backend/test_architecture_doc.py fails when they differ from what the code generates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cs_backend.api.registry import ApiRoute
from cs_backend.app_keys import API_ROUTES
from cs_backend.config import REPO_ROOT, EnvVariable, Settings, environment_variables
from cs_backend.main import create_app

ARCHITECTURE_DOC = REPO_ROOT / "docs" / "ARCHITECTURE.md"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def route_table(routes: Sequence[ApiRoute]) -> str:
    """Every route as a Markdown table row (method, path, summary, tag), in registration order."""
    rows = ["| method | path | summary | tag |", "|---|---|---|---|"]
    rows += [f"| {r.method} | `{r.path}` | {_cell(r.summary)} | {r.tag} |" for r in routes]
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


def registered_routes() -> list[ApiRoute]:
    """The routes an app registers (building an app starts nothing: see main.create_app)."""
    routes: list[ApiRoute] = create_app(Settings())[API_ROUTES]
    return routes


def generated_sections() -> dict[str, str]:
    return {"routes": route_table(registered_routes()), "settings": settings_table()}


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
