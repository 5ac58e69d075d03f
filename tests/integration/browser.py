"""Debian's Chromium, headless, for the tests that look at pages as a person would (never a downloaded browser)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
# Without the background-networking flags Chromium keeps dialling Google's hosts, which this closed network refuses.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars"]


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("Debian's chromium is needed for the browser tests: `apt-get install chromium` (.ci/run does it)")


def run_chromium(url: str, *extra: str, timeout: float = 90) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="careforall-chromium-") as profile:
        return subprocess.run([chromium_binary(), *FLAGS, f"--user-data-dir={profile}", *extra, url],
                              capture_output=True, text=True, timeout=timeout, check=False)


def rendered_dom(url: str, *, budget_ms: int = 8000) -> str:
    """The page's DOM after its scripts ran for `budget_ms` of virtual time (fetches included)."""
    result = run_chromium(url, f"--virtual-time-budget={budget_ms}", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def screenshot(url: str, name: str, *, width: int = 1280, height: int = 1600, budget_ms: int = 8000) -> Path:
    """A PNG of the page, kept under test-artifacts/screenshots/ for people to look at after the run."""
    path = ARTIFACTS / "screenshots" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    result = run_chromium(url, f"--virtual-time-budget={budget_ms}", f"--window-size={width},{height}",
                          f"--screenshot={path}")
    assert result.returncode == 0 and path.exists(), result.stderr[-2000:]
    return path
