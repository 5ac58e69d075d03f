"""Run scripts/deploy and scripts/seed-admin as a user would, against fake `sam` and `aws` executables.

The fakes are the only programs on PATH: each call is appended to a JSON-lines log, and `aws` answers
describe-stacks with FAKE_OUTPUTS, `lambda invoke` with FAKE_INVOKE_RESPONSE (and FAKE_FUNCTION_ERROR), and
`s3 sync` by recording the uploaded folder. FAKE_FAIL="sam build" makes that call exit 1.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = REPO_ROOT / "scripts"

FAKE_TOOL = """#!{python}
import json, os, sys
from pathlib import Path

tool, argv = Path(sys.argv[0]).name, sys.argv[1:]
entry = {{"tool": tool, "argv": argv}}
if tool == "aws" and argv[:2] == ["s3", "sync"]:
    source = Path(argv[2])
    entry["files"] = sorted(str(p.relative_to(source)) for p in source.rglob("*") if p.is_file())
    entry["config_js"] = (source / "app" / "config.js").read_text()
if tool == "aws" and argv[:2] == ["lambda", "invoke"]:
    payload = next(a for a in argv if a.startswith("fileb://"))[len("fileb://"):]
    entry["payload"] = json.loads(Path(payload).read_text())
    entry["payload_mode"] = oct(os.stat(payload).st_mode & 0o777)
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(entry) + "\\n")
if os.environ.get("FAKE_FAIL") == " ".join([tool, *argv[:1]]):
    sys.exit(1)
if tool == "aws" and argv[:2] == ["cloudformation", "describe-stacks"]:
    print(os.environ.get("FAKE_OUTPUTS", "[]"))
if tool == "aws" and argv[:2] == ["lambda", "invoke"]:
    Path(argv[-1]).write_text(os.environ.get("FAKE_INVOKE_RESPONSE", "null"))
    status = {{"StatusCode": 200, "ExecutedVersion": "$LATEST"}}
    if os.environ.get("FAKE_FUNCTION_ERROR"):
        status["FunctionError"] = os.environ["FAKE_FUNCTION_ERROR"]
    print(json.dumps(status))
"""


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    calls: list[dict]

    @property
    def commands(self) -> list[list[str]]:
        return [[call["tool"], *call["argv"]] for call in self.calls]


@dataclass
class Tools:
    """A folder holding only fake `sam` and `aws`, and how to run a script with it as the whole PATH."""

    bin_dir: Path
    log: Path

    def run(self, script: str | Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None,
            tools: bool = True) -> Result:
        path = Path(script) if Path(script).is_absolute() else SCRIPTS / script
        environment = {"PATH": str(self.bin_dir) if tools else str(self.bin_dir.parent / "empty"),
                       "FAKE_LOG": str(self.log), "HOME": str(self.bin_dir.parent), "PYTHONDONTWRITEBYTECODE": "1",
                       **(env or {})}
        (self.bin_dir.parent / "empty").mkdir(exist_ok=True)
        completed = subprocess.run([sys.executable, str(path), *args], input=stdin if stdin is not None else "",
                                   capture_output=True, text=True, env=environment, timeout=60, check=False)
        calls = [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []
        self.log.unlink(missing_ok=True)
        return Result(completed.returncode, completed.stdout, completed.stderr, calls)


@pytest.fixture
def tools(tmp_path: Path) -> Tools:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("sam", "aws"):
        tool = bin_dir / name
        tool.write_text(FAKE_TOOL.format(python=sys.executable))
        tool.chmod(0o755)
    return Tools(bin_dir=bin_dir, log=tmp_path / "calls.jsonl")


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """The files the scripts read, copied, so a test can break one (e.g. a stacks file) without touching the repo."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    for script in ("deploy", "seed-admin"):
        shutil.copy2(SCRIPTS / script, root / "scripts" / script)
    for name in ("template.yaml", "samconfig.toml"):
        shutil.copy2(REPO_ROOT / name, root / name)
    shutil.copytree(REPO_ROOT / "stacks", root / "stacks")
    shutil.copytree(REPO_ROOT / "web", root / "web")
    return root
