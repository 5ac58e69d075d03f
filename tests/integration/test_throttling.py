"""Stage throttling from the template's MethodSettings: a second stack with rate 1/s and burst 3."""

from __future__ import annotations

import pytest
import requests

from tests.integration.helpers import PROBLEM_JSON, media_type
from tests.integration.stack import start_stack

BURST_LIMIT = 3
BURST_SIZE = 10


@pytest.fixture(scope="module")
def throttled_stack(tmp_path_factory):
    running = start_stack(tmp_path_factory.mktemp("throttled"), {
        "CAREFORALL_PARAMETER_OVERRIDES": f"ApiThrottlingRateLimit=1 ApiThrottlingBurstLimit={BURST_LIMIT}"})
    yield running
    code = running.stop()
    assert code == 0, f"the throttled stack did not stop cleanly ({code}):\n{running.log()[-3000:]}"


@pytest.fixture(scope="module")
def burst(throttled_stack) -> list[requests.Response]:
    """BURST_SIZE back-to-back GET /campaigns on a stack nobody else has called; each names its correlation id."""
    with requests.Session() as session:
        return [session.get(f"{throttled_stack.base_url}/campaigns", headers={"X-Correlation-Id": f"burst-{i}"},
                            timeout=30)
                for i in range(BURST_SIZE)]


def test_burst_within_burst_limit_succeeds(burst):
    assert [r.status_code for r in burst[:BURST_LIMIT]] == [200] * BURST_LIMIT


def test_burst_above_limit_returns_some_429s(burst):
    statuses = [r.status_code for r in burst]

    assert 429 in statuses
    assert set(statuses) <= {200, 429}


def test_burst_throttled_responses_carry_retry_after(burst):
    throttled = [r for r in burst if r.status_code == 429]

    assert throttled
    assert all(int(r.headers["Retry-After"]) >= 1 for r in throttled)


def test_burst_throttled_responses_are_problem_json(burst):
    throttled = [r for r in burst if r.status_code == 429]

    assert throttled
    for response in throttled:
        assert media_type(response) == PROBLEM_JSON
        body = response.json()
        assert body["status"] == 429
        assert body["type"].endswith("too-many-requests")
        assert body["title"] and body["detail"]


def test_burst_every_response_echoes_its_correlation_id(burst):
    assert [r.headers.get("X-Correlation-Id") for r in burst] == [f"burst-{i}" for i in range(BURST_SIZE)]
