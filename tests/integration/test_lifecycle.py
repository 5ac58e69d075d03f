"""Stopping the stack: SIGTERM ends it with 0 and leaves no process it started; its log records invocations."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.integration.stack import start_stack

STOP_DEADLINE_SECONDS = 30
REAP_DEADLINE_SECONDS = 15


@dataclass(frozen=True)
class Proc:
    pid: int
    start_ticks: int  # /proc/<pid>/stat field 22: tells a live process from a later one reusing its pid
    cmdline: str


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, start time) of a process, None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # the command name may hold spaces and parentheses
    return fields[0], int(fields[1]), int(fields[19])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def descendants(root: int) -> list[Proc]:
    """Every live process whose parent chain leads to `root`, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            children.setdefault(stat[1], []).append(int(entry))
    found, queue = [], list(children.get(root, []))
    while queue:
        pid = queue.pop()
        stat = _stat(pid)
        if stat is not None and stat[0] != "Z":
            found.append(Proc(pid, stat[2], _cmdline(pid)))
        queue.extend(children.get(pid, []))
    return found


def alive(proc: Proc) -> bool:
    stat = _stat(proc.pid)
    return stat is not None and stat[2] == proc.start_ticks and stat[0] not in ("Z", "X")


@dataclass(frozen=True)
class Shutdown:
    started: list[Proc]
    exit_code: int | None
    survivors: list[Proc]
    log: str


@pytest.fixture(scope="module")
def shutdown(tmp_path_factory) -> Shutdown:
    """Starts a stack of its own, uses it, then SIGTERMs it and waits for it and its processes to end."""
    stack = start_stack(tmp_path_factory.mktemp("lifecycle"))
    started: list[Proc] = []
    try:
        with requests.Session() as session:
            for _ in range(2):  # the first call takes the pre-warmed worker, the second finds it warm
                invalid = session.post(f"{stack.base_url}/auth/register", json={}, timeout=30)
                listed = session.get(f"{stack.base_url}/campaigns", timeout=30)
                assert (invalid.status_code, listed.status_code) == (422, 200), (invalid.text, listed.text)
                assert invalid.headers.get("X-Correlation-Id") and listed.headers.get("X-Correlation-Id")
        started = descendants(stack.process.pid)

        stack.process.send_signal(signal.SIGTERM)
        try:
            exit_code = stack.process.wait(timeout=STOP_DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            exit_code = None

        deadline = time.monotonic() + REAP_DEADLINE_SECONDS
        survivors = [p for p in started if alive(p)]
        while survivors and time.monotonic() < deadline:
            time.sleep(0.1)
            survivors = [p for p in survivors if alive(p)]
        yield Shutdown(started, exit_code, survivors, stack.log())
    finally:
        stack.stop(timeout=5)  # a no-op when SIGTERM worked; else SIGKILL to its process group
        for proc in started:  # whatever escaped, so a failing run leaks nothing either
            if alive(proc):
                os.kill(proc.pid, signal.SIGKILL)


def test_start_stack_with_api_traffic_runs_emulator_and_function_workers(shutdown):
    commands = [p.cmdline for p in shutdown.started]

    assert any("careforall_local.emulator" in c for c in commands), commands
    assert sum("careforall_local.worker" in c for c in commands) >= 2, commands


def test_sigterm_stops_stack_with_exit_code_0(shutdown):
    assert shutdown.exit_code == 0, shutdown.log[-3000:]


def test_sigterm_leaves_no_process_the_stack_started(shutdown):
    assert shutdown.survivors == []


def test_api_request_on_fresh_worker_logs_cold_invocation(shutdown):
    assert re.search(r"invoke UsersFunction source=api POST /auth/register \S+ ms ok cold", shutdown.log), \
        shutdown.log[-3000:]


def test_api_request_on_used_worker_logs_warm_invocation(shutdown):
    assert re.search(r"invoke UsersFunction source=api POST /auth/register \S+ ms ok warm", shutdown.log), \
        shutdown.log[-3000:]


def test_get_campaigns_without_token_logs_campaigns_invocation(shutdown):
    assert re.search(r"invoke CampaignsFunction source=api GET /campaigns \S+ ms ok (cold|warm)", shutdown.log), \
        shutdown.log[-3000:]
