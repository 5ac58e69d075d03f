"""Starts the real local stack (`python -m careforall_local`) on free ports and stops it again.

The start-up itself lives in `careforall_local.launcher` (shared with scripts/chaos.py); this module keeps the
names the tests import.
"""

from __future__ import annotations

from careforall_local.launcher import (REPO_ROOT, START_DEADLINE_SECONDS, RunningStack, free_port, free_udp_port,
                                       start_stack)

__all__ = ["REPO_ROOT", "START_DEADLINE_SECONDS", "RunningStack", "free_port", "free_udp_port", "start_stack"]
