"""Measure what BENCHMARKS.md reports and rewrite it.  Run: `make bench` (= `python -m benchmarks.run_all`).

Each figure is measured here, in one run, next to a baseline measured in the same run:

- cold install of each environment: a new venv, `pip install --no-cache-dir -r requirements/<env>.txt`;
  baseline: the same venv with only `pip install --no-cache-dir rasa-sdk==3.6.2` (the smallest real install).
- model training: `rasa train` of our data and config with an empty Rasa cache; baseline: the same data with
  Rasa's default pipeline and policies (config.yml with only `recipe`, `language` and `assistant_id`).
- time from `make run` to the first answer: the whole service, with the environments installed and the model
  trained; baseline: `rasa run` alone on the same model (its HTTP API locked, as bot/rasa_server.py runs it).
- resident memory of each process once it has answered (VmRSS of the process and its children);
  baseline: that `rasa run` alone.

Options: `--skip-install` leaves the two cold installs out of this run (they take minutes; the table then has
no install rows), `--output PATH` writes somewhere other than BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.report import git_commit, replace_section
from launcher.stack import (
    BOT_PYTHON,
    BOT_VENV,
    DEFAULT_MODEL,
    REPO_ROOT,
    WEBSITE_SECRET_VARIABLE,
    WIDGET_SECRET_VARIABLE,
    Ports,
    free_port,
    generate_token,
)

QUIET_ENV = {
    "RASA_TELEMETRY_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
}


@dataclass
class Figure:
    what: str
    value: str
    baseline: str
    ratio: str
    command: str


def _python_for(role: str) -> str:
    return subprocess.run(
        [str(REPO_ROOT / "scripts" / "find-python.sh"), role], check=True, capture_output=True, text=True
    ).stdout.strip()


def _timed(argv: list[str], **kwargs: object) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - started


def _dir_size_mb(path: Path) -> float:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
    return total / 1e6


def measure_install(role: str, lock: str, work: Path) -> tuple[float, float]:
    venv = work / f"venv-{role}"
    python = _python_for(role)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    seconds = _timed(
        [str(venv / "bin" / "pip"), "install", "--no-cache-dir", "-r", str(REPO_ROOT / lock)],
        env={**os.environ, **QUIET_ENV},
    )
    size = _dir_size_mb(venv)
    shutil.rmtree(venv)
    return seconds, size


def measure_install_baseline(work: Path) -> float:
    venv = work / "venv-baseline"
    subprocess.run([_python_for("bot"), "-m", "venv", str(venv)], check=True)
    seconds = _timed(
        [str(venv / "bin" / "pip"), "install", "--no-cache-dir", "rasa-sdk==3.6.2"],
        env={**os.environ, **QUIET_ENV},
    )
    shutil.rmtree(venv)
    return seconds


def measure_training(config: Path, work: Path, name: str) -> float:
    cache = work / f"rasa-cache-{name}"
    env = {**os.environ, **QUIET_ENV, "RASA_CACHE_DIRECTORY": str(cache)}
    seconds = _timed(
        [
            str(BOT_VENV / "bin" / "rasa"),
            "train",
            "--data",
            "nlu_data",
            "dialogue",
            "--config",
            str(config),
            "--domain",
            "domain.yml",
            "--out",
            str(work / "models"),
            "--fixed-model-name",
            name,
        ],
        cwd=REPO_ROOT,
        env=env,
    )
    shutil.rmtree(cache, ignore_errors=True)
    return seconds


def default_config(work: Path) -> Path:
    path = work / "default-config.yml"
    path.write_text("recipe: default.v1\nlanguage: en\nassistant_id: benchmark-baseline\n")
    return path


def _first_answer(rasa_url: str, rest_token: str, deadline: float) -> None:
    body = json.dumps({"sender": f"bench-{time.time_ns()}", "message": "hello"}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {rest_token}"}
    while time.monotonic() < deadline:
        request = urllib.request.Request(f"{rasa_url}/webhooks/rest/webhook", data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if json.loads(response.read()):
                    return
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.25)
    raise TimeoutError("no answer from the Rasa server")


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = (task / "children").read_text().split() if (task / "children").exists() else []
        for child in map(int, children):
            found.append(child)
            found.extend(_children(child))
    return found


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _tree_rss_mb(pid: int) -> float:
    return sum(_rss_mb(p) for p in [pid, *_children(pid)] if Path(f"/proc/{p}").exists())


def _classify(pid: int) -> str | None:
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    if "-m cs_backend serve" in cmdline:
        return "cs_backend"
    if "-m bot.action_server" in cmdline:
        return "action server"
    if "-m bot.rasa_server" in cmdline:
        return "Rasa server"
    return None


def measure_make_run(work: Path) -> tuple[float, dict[str, float], float]:
    ports = Ports.pick_free()
    env = {
        **os.environ,
        **QUIET_ENV,
        **ports.as_env(),
        "DATABASE_URL": f"sqlite+aiosqlite:///{work / 'bench.db'}",
        "REDIS_URL": "",
        "RASA_EVENTS_DB": str(work / "bench-events.db"),
        "RASA_TRACKER_DB": str(work / "bench-tracker.db"),
        "RASA_REST_TOKEN": generate_token(),
    }
    started = time.monotonic()
    make = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _first_answer(ports.rasa_url, env["RASA_REST_TOKEN"], started + 600)
        first_answer = time.monotonic() - started
        memory: dict[str, float] = {}
        for pid in _children(make.pid):
            kind = _classify(pid)
            if kind and kind not in memory:
                memory[kind] = _tree_rss_mb(pid)
        stop_started = time.monotonic()
    finally:
        os.killpg(make.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        make.wait(timeout=60)
    return first_answer, memory, time.monotonic() - stop_started


def measure_rasa_alone(work: Path) -> tuple[float, float]:
    port = free_port()
    rest_token = generate_token()
    started = time.monotonic()
    rasa = subprocess.Popen(
        # `rasa run` with its HTTP API locked, as the service runs it (bot/rasa_server.py).
        [
            str(BOT_PYTHON),
            "-m",
            "bot.rasa_server",
            "--model",
            str(DEFAULT_MODEL),
            "--interface",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=REPO_ROOT,
        # endpoints.yml is read from the working directory: keep its event broker off the real events file.
        env={
            **os.environ,
            **QUIET_ENV,
            "PYTHONPATH": str(REPO_ROOT),
            "ACTION_SERVER_URL": "http://127.0.0.1:9/webhook",
            "ACTION_SERVER_TOKEN": generate_token(),
            "RASA_AUTH_TOKEN": generate_token(),
            "RASA_REST_TOKEN": rest_token,
            # The widget's channel refuses to start without its signing keys (docs/SECURITY.md).
            WIDGET_SECRET_VARIABLE: generate_token(),
            WEBSITE_SECRET_VARIABLE: generate_token(),
            "RASA_EVENTS_DB": str(work / "alone-events.db"),
            "RASA_TRACKER_DB": str(work / "alone-tracker.db"),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _first_answer(f"http://127.0.0.1:{port}", rest_token, started + 600)
        seconds = time.monotonic() - started
        memory = _tree_rss_mb(rasa.pid)
    finally:
        os.killpg(rasa.pid, signal.SIGTERM)
        rasa.wait(timeout=60)
    return seconds, memory


def render(figures: list[Figure], notes: list[str]) -> str:
    lines = [
        "## Install, training, startup, memory",
        "",
        "Written by `make bench` (`python -m benchmarks.run_all`, source in `benchmarks/run_all.py`);",
        "every figure below comes from that one run, next to a baseline measured in the same run.",
        "Do not edit by hand.",
        "",
        f"- Measured: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()} (backend), "
        f"commit `{git_commit()}`.",
        *[f"- {note}" for note in notes],
        "",
        "| what | value | baseline (same run) | ratio | command |",
        "|---|---|---|---|---|",
        *[f"| {f.what} | {f.value} | {f.baseline} | {f.ratio} | `{f.command}` |" for f in figures],
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skip-install", action="store_true", help="do not measure the cold installs (slow)")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "BENCHMARKS.md")
    args = parser.parse_args()

    figures: list[Figure] = []
    notes = ["Installs use the machine's pip configuration (index and mirrors) with `--no-cache-dir`."]
    with tempfile.TemporaryDirectory(prefix="cs-bench-") as tmp:
        work = Path(tmp)
        if not args.skip_install:
            baseline = measure_install_baseline(work)
            print(f"baseline install (rasa-sdk only): {baseline:.0f} s", flush=True)
            for role, lock in (("bot", "requirements/bot.txt"), ("backend", "requirements/backend.txt")):
                seconds, size = measure_install(role, lock, work)
                print(f"{role} install: {seconds:.0f} s, {size:.0f} MB", flush=True)
                figures.append(
                    Figure(
                        f"cold install, {role} environment ({size:,.0f} MB on disk)",
                        f"{seconds:.0f} s",
                        f"{baseline:.0f} s (venv + rasa-sdk only)",
                        f"{seconds / baseline:.1f}×",
                        f"pip install --no-cache-dir -r {lock}",
                    )
                )

        ours = measure_training(REPO_ROOT / "config.yml", work, "ours")
        default = measure_training(default_config(work), work, "default")
        print(f"training: {ours:.0f} s (default config {default:.0f} s)", flush=True)
        figures.append(
            Figure(
                "model training (empty cache)",
                f"{ours:.0f} s",
                f"{default:.0f} s (Rasa default pipeline and policies, same data)",
                f"{ours / default:.2f}×",
                "rasa train --data nlu_data dialogue --config config.yml --domain domain.yml",
            )
        )

        alone_seconds, alone_memory = measure_rasa_alone(work)
        first_answer, memory, stop_seconds = measure_make_run(work)
        print(f"make run → first answer: {first_answer:.1f} s (rasa alone {alone_seconds:.1f} s)", flush=True)
        figures.append(
            Figure(
                "`make run` → first answer (environments and model ready)",
                f"{first_answer:.1f} s",
                f"{alone_seconds:.1f} s (`rasa run` alone, same model)",
                f"{first_answer / alone_seconds:.2f}×",
                "make run; POST /webhooks/rest/webhook until a reply",
            )
        )
        figures.append(
            Figure(
                "Ctrl-C → every process stopped",
                f"{stop_seconds:.1f} s",
                "—",
                "—",
                "SIGINT to make run's process group",
            )
        )
        for name in ("Rasa server", "action server", "cs_backend"):
            if name in memory:
                figures.append(
                    Figure(
                        f"resident memory, {name}",
                        f"{memory[name]:.0f} MB",
                        f"{alone_memory:.0f} MB (`rasa run` alone)",
                        f"{memory[name] / alone_memory:.2f}×",
                        "VmRSS after the first answer",
                    )
                )

    replace_section("bench", render(figures, notes), args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    main()
