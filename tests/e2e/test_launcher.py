"""`python -m launcher` (make run): starts the three processes, says where they are, Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from launcher.stack import BACKEND_PYTHON, Ports, backend_command
from tests.support import REPO_ROOT


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


def test_ctrl_c_stops_every_process(service_paths: tuple[Path, Path], tmp_path: Path) -> None:
    ports = Ports.pick_free()
    listening_ports = (ports.backend, ports.actions, ports.rasa)
    database = tmp_path / "launcher.db"
    env = {
        **os.environ,
        **ports.as_env(),
        "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "REDIS_URL": "",
        "RASA_EVENTS_DB": str(tmp_path / "rasa_events.db"),
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
        children = _descendants(launcher.pid)
        assert len(children) >= 3
        assert all(_listening(port) for port in listening_ports)

        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(timeout=60) == 0
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()

    rest = launcher.stdout.read() if launcher.stdout else ""
    assert "All processes stopped." in rest
    assert not [pid for pid in children if _alive(pid)]
    assert not [port for port in listening_ports if _listening(port)]
