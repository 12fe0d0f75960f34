"""`python -m launcher` (make run): starts the three processes, says where they are, Ctrl-C stops them all; it
locks Rasa's HTTP API and the action server with tokens of its own that it never shows, and refuses a
configuration that would open them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path

import pytest

from launcher.stack import (
    BACKEND_PYTHON,
    RASA_TOKEN_VARIABLE,
    REST_TOKEN_VARIABLE,
    SERVICE_SECRET_VARIABLE,
    TOKEN_VARIABLES,
    WEBSITE_SECRET_VARIABLE,
    WIDGET_SECRET_VARIABLE,
    Ports,
    backend_command,
)
from tests.support import REPO_ROOT

LAUNCHER_LOG_DIR = REPO_ROOT / "var" / "log"


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found |= {child, *_descendants(child)}
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().split()[2] != "Z"


def _environment(pid: int) -> dict[str, str]:
    entries = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0")
    return dict(entry.split("=", 1) for entry in entries if "=" in entry)


def _command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def _status(url: str | urllib.request.Request) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def assert_tokens_generated_and_kept_secret(
    children: Iterable[int], rasa_url: str, output: str
) -> dict[str, str]:
    """Each service got its own random token through its environment; Rasa's API needs it; no command line,
    output or log file shows a token. Returns the tokens."""
    commands = {pid: _command_line(pid) for pid in children}
    rasa = next(pid for pid, command in commands.items() if "bot.rasa_server" in command)
    backend = next(pid for pid, command in commands.items() if "cs_backend serve" in command)
    actions = next(pid for pid, command in commands.items() if "bot.action_server" in command)
    rasa_only = (WIDGET_SECRET_VARIABLE, REST_TOKEN_VARIABLE)
    tokens = {name: _environment(backend)[name] for name in TOKEN_VARIABLES if name not in rasa_only}
    tokens.update({name: _environment(rasa)[name] for name in rasa_only})
    assert all(len(token) >= 40 for token in tokens.values())
    assert len(set(tokens.values())) == len(tokens)
    assert _environment(rasa)[RASA_TOKEN_VARIABLE] == tokens[RASA_TOKEN_VARIABLE]
    assert _environment(actions)[SERVICE_SECRET_VARIABLE] == tokens[SERVICE_SECRET_VARIABLE]
    assert SERVICE_SECRET_VARIABLE not in _environment(rasa)  # Rasa never calls cs_backend
    # The website's identity secret: Rasa's widget channel and cs_backend verify with it, the actions never.
    assert _environment(rasa)[WEBSITE_SECRET_VARIABLE] == tokens[WEBSITE_SECRET_VARIABLE]
    assert WEBSITE_SECRET_VARIABLE not in _environment(actions)
    # Only Rasa's channels sign widget sessions and check the REST channel's token.
    for name in rasa_only:
        assert name not in _environment(backend)
        assert name not in _environment(actions)

    tracker = f"{rasa_url}/conversations/launcher-check/tracker"
    assert _status(tracker) == 401
    assert _status(f"{tracker}?token={tokens[RASA_TOKEN_VARIABLE]}") == 200
    rest_channel = urllib.request.Request(
        f"{rasa_url}/webhooks/rest/webhook",
        data=b'{"sender": "launcher-check", "message": "hi"}',
        method="POST",
    )
    rest_channel.add_header("Content-Type", "application/json")
    assert _status(rest_channel) == 401
    rest_channel.add_header("Authorization", f"Bearer {tokens[REST_TOKEN_VARIABLE]}")
    assert _status(rest_channel) == 200

    logs = "".join(path.read_text(errors="replace") for path in LAUNCHER_LOG_DIR.glob("*.log"))
    for name, token in tokens.items():
        assert token not in output, f"{name} printed"
        assert token not in logs, f"{name} in {LAUNCHER_LOG_DIR}"
        assert not [command for command in commands.values() if token in command], f"{name} in a command line"
    return tokens


def test_the_launcher_locks_the_services_and_ctrl_c_stops_every_process(
    service_paths: tuple[Path, Path], tmp_path: Path
) -> None:
    ports = Ports.pick_free()
    listening_ports = (ports.backend, ports.actions, ports.rasa)
    database = tmp_path / "launcher.db"
    env = {
        **{name: value for name, value in os.environ.items() if name not in TOKEN_VARIABLES},
        **ports.as_env(),
        "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "REDIS_URL": "",
        "RASA_EVENTS_DB": str(tmp_path / "rasa_events.db"),
        "RASA_TRACKER_DB": str(tmp_path / "rasa_tracker.db"),
        "ACTIONS_OUTBOX_PATH": str(tmp_path / "actions_outbox.db"),
    }
    subprocess.run(backend_command("migrate"), cwd=REPO_ROOT, env=env, check=True)

    launcher = subprocess.Popen(
        [str(BACKEND_PYTHON), "-m", "launcher"],
        cwd=REPO_ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 300
        assert launcher.stdout is not None
        for line in launcher.stdout:
            output.append(line)
            if "Press Ctrl-C to stop" in line or time.monotonic() > deadline:
                break
        assert any("Press Ctrl-C to stop" in line for line in output), "".join(output[-40:])
        # Read the banner (URLs) that follows the ready line; "Logs:" is its last line. (A fixed count of
        # lines would block: once idle, the processes print nothing more.)
        while not output[-1].lstrip().startswith("Logs:"):
            output.append(launcher.stdout.readline())
        banner = "".join(output)
        assert f"http://127.0.0.1:{ports.backend}/" in banner
        assert f"http://127.0.0.1:{ports.rasa}/webhooks/rest/webhook" in banner
        assert "RASA_AUTH_TOKEN: random for this run, not shown" in banner
        assert "-m cs_backend create-admin --email" in banner  # how to create the first admin
        assert "-m cs_backend create-agent --email" in banner  # and an agent who takes live chats
        children = _descendants(launcher.pid)
        assert len(children) >= 3
        assert all(_listening(port) for port in listening_ports)
        tokens = assert_tokens_generated_and_kept_secret(children, ports.rasa_url, banner)

        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(timeout=60) == 0
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()

    rest = launcher.stdout.read() if launcher.stdout else ""
    assert "All processes stopped." in rest
    assert not [name for name, token in tokens.items() if token in rest]
    assert not [pid for pid in children if _alive(pid)]
    assert not [port for port in listening_ports if _listening(port)]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RASA_CORS_ORIGINS", "*", "RASA_CORS_ORIGINS: '*' is not an origin"),
        ("RASA_CORS_ORIGINS", "https://shop.example, https://.*", "is not an origin"),
        ("RASA_CORS_ORIGINS", "https://shop.example/widget", "is not an origin"),
        ("RASA_AUTH_TOKEN", "short", "RASA_AUTH_TOKEN must be at least 16 characters"),
        ("ACTION_SERVER_TOKEN", "short", "ACTION_SERVER_TOKEN must be at least 16 characters"),
        ("CS_BACKEND_SERVICE_SECRET", "x" * 31, "CS_BACKEND_SERVICE_SECRET must be at least 32 characters"),
        ("WIDGET_SESSION_SECRET", "x" * 31, "WIDGET_SESSION_SECRET must be at least 32 characters"),
        ("RASA_REST_TOKEN", "short", "RASA_REST_TOKEN must be at least 16 characters"),
        ("CS_BACKEND_PORT", "eighty", "CS_BACKEND_PORT must be a port number (1-65535), got 'eighty'"),
        ("STARTUP_TIMEOUT", "soon", "STARTUP_TIMEOUT must be a number of seconds above 0, got 'soon'"),
    ],
)
def test_a_bad_or_unsafe_configuration_is_refused_before_anything_starts(
    service_paths: tuple[Path, Path], variable: str, value: str, message: str
) -> None:
    ports = Ports.pick_free()
    env = {**os.environ, **ports.as_env(), variable: value}
    launcher = subprocess.run(
        [str(BACKEND_PYTHON), "-m", "launcher"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert launcher.returncode == 1, launcher.stdout + launcher.stderr
    assert message in launcher.stderr
    assert "Traceback" not in launcher.stderr
    assert "Starting" not in launcher.stdout
    assert not [port for port in (ports.backend, ports.actions, ports.rasa) if _listening(port)]
