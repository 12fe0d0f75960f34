"""BENCHMARKS.md is written by several commands, each owning one marked section of it.

`make bench` owns `<!-- bench:start -->…<!-- bench:end -->`, `make cross-validate` owns
`<!-- cross-validation:start -->…<!-- cross-validation:end -->`; a command rewrites only its own section, so a
figure always comes from the last run of the command written next to it.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from launcher.stack import REPO_ROOT

BENCHMARKS = REPO_ROOT / "BENCHMARKS.md"
TITLE = "# Benchmarks\n"


def replace_section(name: str, body: str, path: Path = BENCHMARKS) -> None:
    """Put `body` between the `name` markers of `path`, appending the section if it is not there yet."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    section = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else TITLE
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text, count=1)
    else:
        text = f"{text.rstrip()}\n\n{section}\n"
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def git_commit() -> str:
    """The commit measured, marked `+changes` when the work tree differs from it."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    commit = head.stdout.strip() or "unknown"
    return f"{commit}+changes" if dirty.stdout.strip() else commit
