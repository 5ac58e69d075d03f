"""Starts the whole local stack (`python -m careforall_local`) as a child process on free ports, and stops it by PID.

Shared by the integration tests (tests/integration/stack.py) and scripts that need a stack of their own
(scripts/chaos.py): each stack gets its own API, AWS endpoint, internal and X-Ray ports, so several run side by side.
Nothing here is used by `make run` itself.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
START_DEADLINE_SECONDS = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_udp_port() -> int:
    """A UDP port for the stack's X-Ray daemon (CAREFORALL_XRAY_PORT), so stacks never share one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningStack:
    process: subprocess.Popen
    base_url: str
    aws_endpoint: str
    admin_email: str
    admin_password: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM to this stack's process (it stops its own children), SIGKILL to its process group after
        `timeout`; returns the exit code. Only this stack: never by name."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode


def _healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):  # refused while starting, or 503 (HTTPError is a URLError)
        return False


def start_stack(log_dir: Path, extra_env: dict[str, str] | None = None, *,
                deadline_seconds: float = START_DEADLINE_SECONDS) -> RunningStack:
    """Starts a stack on free ports (the environment's AWS_* and CAREFORALL_* left out, `extra_env` on top), its
    output in `log_dir/stack-<port>.log`; returns once GET /health answers 200. Raises (and stops it) otherwise."""
    port, aws_port, internal_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CAREFORALL_"))}
    env.update({
        "CAREFORALL_PORT": str(port),
        "CAREFORALL_AWS_PORT": str(aws_port),
        "CAREFORALL_INTERNAL_PORT": str(internal_port),
        "CAREFORALL_XRAY_PORT": str(free_udp_port()),
        "PYTHONPATH": str(REPO_ROOT / "infra" / "local"),
        **(extra_env or {}),
    })
    # extra_env may pin ports (e.g. to reattach to an emulator started separately): report those.
    port, aws_port = int(env["CAREFORALL_PORT"]), int(env["CAREFORALL_AWS_PORT"])
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"stack-{port}.log"
    log_file = log_path.open("w")
    process = subprocess.Popen([sys.executable, "-m", "careforall_local"], cwd=REPO_ROOT, env=env,
                               stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    log_file.close()  # the child has its own descriptor
    stack = RunningStack(process, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{aws_port}",
                         env.get("CAREFORALL_ADMIN_EMAIL", "admin@careforall.local"),
                         env.get("CAREFORALL_ADMIN_PASSWORD", "careforall-admin"), log_path)
    deadline = time.monotonic() + deadline_seconds
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the local stack exited with {process.returncode}:\n{stack.log()[-4000:]}")
        if _healthy(stack.base_url):
            return stack
        if time.monotonic() > deadline:
            stack.stop()
            raise RuntimeError(f"the local stack was not healthy within {deadline_seconds} s:\n"
                               f"{stack.log()[-4000:]}")
        time.sleep(0.2)
