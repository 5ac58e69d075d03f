"""Make the local-stack template module and the offline template check importable from the tests."""

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

for folder in (REPO_ROOT / "infra" / "local", REPO_ROOT / "scripts"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
