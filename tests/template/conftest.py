"""Make the local-stack template module and the offline template check importable from the tests; the
template as written (`sam`) and as CloudFormation sees it after the SAM transform (`cfn`)."""

import json
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"

for folder in (REPO_ROOT / "infra" / "local", REPO_ROOT / "scripts"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from careforall_local.template import load_yaml, transform


@pytest.fixture(scope="session")
def sam() -> dict[str, Any]:
    return json.loads(json.dumps(load_yaml(TEMPLATE)))


@pytest.fixture(scope="session")
def cfn() -> dict[str, Any]:
    return transform(TEMPLATE, {}).cfn
