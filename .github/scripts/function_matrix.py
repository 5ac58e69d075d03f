#!/usr/bin/env python3
"""The per-function CI matrix: which functions/<dir> changed, their unit tests and the template resource to build.

    python3 .github/scripts/function_matrix.py '<JSON list of paths-filter names>'   # prints {"include": [...]}
    python3 .github/scripts/function_matrix.py --all                                 # every code directory

Each directory under functions/ that holds Python code is one entry: `functions/layer` (the shared layer) and one
per function code directory. An entry names:
  function  the directory name (and the dorny/paths-filter filter of the same name in ci.yml)
  tests     tests/unit/<function>, the unit tests of that code
  resource  the first template resource whose CodeUri (ContentUri for the layer) is functions/<function>:
            `sam build <resource>` builds that code and the layer it uses (every resource of one CodeUri shares
            the same built code)

Names that are not code directories (e.g. the filter `shared`) are ignored. Standard library only: the job that
runs it has no project virtualenv.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

_RESOURCE = re.compile(r"^  ([A-Za-z0-9]+):\s*(#.*)?$")
_CODE_URI = re.compile(r"^\s+(?:CodeUri|ContentUri):\s*[\"']?([^\"'\s#]+)[\"']?\s*(#.*)?$")


def code_directories(repo_root: Path = REPO_ROOT) -> list[str]:
    """The directories under functions/ that hold Python code, sorted."""
    functions = repo_root / "functions"
    return sorted(path.name for path in functions.iterdir() if path.is_dir() and any(path.rglob("*.py")))


def resources_by_code_uri(template_text: str) -> dict[str, list[str]]:
    """CodeUri/ContentUri -> the logical ids of the resources that use it, in template order."""
    uses: dict[str, list[str]] = {}
    section = None
    resource = None
    for line in template_text.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            section = line.split(":", 1)[0].strip()
            resource = None
            continue
        if section != "Resources":
            continue
        if match := _RESOURCE.match(line):
            resource = match.group(1)
        elif resource and (match := _CODE_URI.match(line)):
            uses.setdefault(match.group(1).rstrip("/"), []).append(resource)
    return uses


def matrix(changed: list[str], repo_root: Path = REPO_ROOT) -> dict[str, list[dict[str, str]]]:
    uses = resources_by_code_uri((repo_root / "template.yaml").read_text(encoding="utf-8"))
    include = []
    for name in code_directories(repo_root):
        if name not in changed:
            continue
        resources = uses.get(f"functions/{name}")
        if not resources:
            raise SystemExit(f"functions/{name} holds code but no template resource has CodeUri functions/{name}")
        include.append({"function": name, "tests": f"tests/unit/{name}", "resource": resources[0]})
    return {"include": include}


def main(argv: list[str]) -> int:
    if argv == ["--all"]:
        changed = code_directories()
    elif len(argv) == 1:
        changed = json.loads(argv[0])
        if not isinstance(changed, list) or not all(isinstance(name, str) for name in changed):
            raise SystemExit(f"expected a JSON list of filter names, got {argv[0]!r}")
    else:
        raise SystemExit(__doc__)
    print(json.dumps(matrix(changed), separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
