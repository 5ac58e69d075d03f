"""scripts/system-deps: `make test` installs Debian's chromium and chromedriver itself, or says in one line what to do.

Run against fake programs on a PATH of their own (id, sudo, apt-get, chromium, chromedriver), so no test installs
anything or depends on what this machine has.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "system-deps"
# What the script and the fakes run besides the programs each test fakes.
REAL_TOOLS = ("bash", "env", "mktemp", "rm", "cat", "chmod")  # chmod: the fake apt-get's


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    for tool in REAL_TOOLS:
        (directory / tool).symlink_to(shutil.which(tool))
    return directory


def fake(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/bash\n{body}\n")
    path.chmod(0o755)


def fake_user(bin_dir: Path, uid: int) -> None:
    fake(bin_dir, "id", f'[ "$1" = -u ] && echo {uid}')


def fake_apt(bin_dir: Path, *, update_ok: bool = True, install_ok: bool = True) -> Path:
    """apt-get that records its calls and, on install, puts the packages' programs on the PATH."""
    calls = bin_dir.parent / "apt-calls"
    fake(bin_dir, "apt-get", f"""echo "$@" >> {calls}
case "$1" in
  update) {'exit 0' if update_ok else 'echo "E: network unreachable" >&2; exit 100'} ;;
  install) {'' if install_ok else 'echo "E: cannot install" >&2; exit 100'}
    for package in "$@"; do
      case "$package" in
        chromium) printf '#!/bin/bash\\n' > {bin_dir}/chromium; chmod +x {bin_dir}/chromium ;;
        chromium-driver) printf '#!/bin/bash\\n' > {bin_dir}/chromedriver; chmod +x {bin_dir}/chromedriver ;;
      esac
    done ;;
esac""")
    return calls


def run(bin_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/bash", str(SCRIPT), "browser"], env={"PATH": str(bin_dir)}, capture_output=True,
                          text=True, timeout=30, check=False)


def test_browser_deps_present_exits_zero_without_installing(bin_dir: Path) -> None:
    fake(bin_dir, "chromium", "")
    fake(bin_dir, "chromedriver", "")
    calls = fake_apt(bin_dir)
    fake_user(bin_dir, 0)

    done = run(bin_dir)

    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert not calls.exists()


def test_browser_deps_missing_as_root_installs_both_debian_packages(bin_dir: Path) -> None:
    calls = fake_apt(bin_dir)
    fake_user(bin_dir, 0)

    done = run(bin_dir)

    assert done.returncode == 0, done.stderr
    assert calls.read_text().splitlines() == ["update -qq", "install -y -qq chromium chromium-driver"]
    assert (bin_dir / "chromium").exists() and (bin_dir / "chromedriver").exists()


def test_browser_deps_only_driver_missing_installs_only_the_driver(bin_dir: Path) -> None:
    fake(bin_dir, "chromium", "")
    calls = fake_apt(bin_dir)
    fake_user(bin_dir, 0)

    done = run(bin_dir)

    assert done.returncode == 0, done.stderr
    assert calls.read_text().splitlines()[-1] == "install -y -qq chromium-driver"


def test_browser_deps_missing_with_passwordless_sudo_installs_through_sudo(bin_dir: Path) -> None:
    calls = fake_apt(bin_dir)
    fake_user(bin_dir, 1000)
    fake(bin_dir, "sudo", '[ "$1" = -n ] && shift; [ "$1" = true ] && exit 0; exec "$@"')

    done = run(bin_dir)

    assert done.returncode == 0, done.stderr
    assert "install -y -qq chromium chromium-driver" in calls.read_text()


def test_browser_deps_missing_without_root_or_sudo_fails_with_one_line(bin_dir: Path) -> None:
    calls = fake_apt(bin_dir)
    fake_user(bin_dir, 1000)

    done = run(bin_dir)

    assert done.returncode == 1
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert "sudo apt-get install -y chromium chromium-driver" in done.stderr
    assert not calls.exists()


def test_browser_deps_missing_with_sudo_asking_a_password_fails_with_one_line(bin_dir: Path) -> None:
    fake_apt(bin_dir)
    fake_user(bin_dir, 1000)
    fake(bin_dir, "sudo", 'echo "sudo: a password is required" >&2; exit 1')

    done = run(bin_dir)

    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1 and "apt-get install -y chromium chromium-driver" in done.stderr


def test_browser_deps_no_package_index_fails_with_one_line(bin_dir: Path) -> None:
    fake_apt(bin_dir, update_ok=False)
    fake_user(bin_dir, 0)

    done = run(bin_dir)

    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1
    assert re.search(r"apt-get update failed.*output is in /", done.stderr)


def test_browser_deps_install_refused_fails_with_one_line(bin_dir: Path) -> None:
    fake_apt(bin_dir, install_ok=False)
    fake_user(bin_dir, 0)

    done = run(bin_dir)

    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1 and "apt-get install failed" in done.stderr


def test_browser_deps_without_apt_get_fails_with_one_line(bin_dir: Path) -> None:
    fake_user(bin_dir, 0)

    done = run(bin_dir)

    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1 and "no apt-get here" in done.stderr


def test_make_test_installs_browser_deps_before_running_pytest() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()

    assert re.search(r"^test: browser install$", makefile, re.M)
    assert re.search(r"^browser:\n\t@scripts/system-deps browser$", makefile, re.M)


def test_ci_run_calls_exactly_make_test() -> None:
    commands = [line for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()
                if line and not line.startswith(("#", " ")) and "make test" in line]

    assert commands == ["make test"]
