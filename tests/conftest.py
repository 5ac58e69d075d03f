"""Test-wide setup: import paths of the functions and the local stack, and a fake, offline AWS.

Everything here runs before any test module is imported, so modules that read their settings or
build Powertools utilities at import time see the test environment.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

for relative in ("functions/layer", "functions/users", "functions/campaigns", "functions/authorizer", "functions/pledges",
                 "functions/payments", "functions/sandbox_provider", "functions/totals",
                 "infra/local"):
    path = str(REPO_ROOT / relative)
    if path not in sys.path:
        sys.path.insert(0, path)

# No test may reach a real AWS account or a running emulator: fake credentials, one region,
# and no endpoint override leaking in from the developer's shell or the local stack.
for name in list(os.environ):
    if name.startswith("AWS_ENDPOINT_URL") or name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        del os.environ[name]
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_REGION"] = "us-east-1"
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"

os.environ["POWERTOOLS_TRACE_DISABLED"] = "1"
os.environ["POWERTOOLS_METRICS_NAMESPACE"] = "CareForAllTests"
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "careforall-tests")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
