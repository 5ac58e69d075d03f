"""One donation, followed end to end the way ops would: its correlation id in every function's log,
one X-Ray trace across the functions it passed through, and its timeline on the local ops page."""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from tests.integration.browser import rendered_dom, screenshot
from tests.integration.helpers import new_idempotency_key, poll

# Every function a successful guest donation passes through, from the API call to the receipt.
DONATION_PATH = ("PledgesFunction", "PledgeRelayFunction", "PaymentStarterFunction", "PaymentTaskFunction",
                 "SandboxProviderFunction", "SandboxWebhookSenderFunction", "PaymentsFunction",
                 "PaymentProjectorFunction", "TotalsAggregatorFunction", "RealtimeFunction")
SETTLE_SECONDS = 90


@pytest.fixture(scope="module")
def donation(session_client) -> dict:
    """A guest donation made with our own X-Correlation-Id, once its receipt has gone out."""
    campaign = session_client.create_campaign()
    correlation_id = f"obs-{uuid.uuid4()}"
    response = session_client.api.post(
        f"/campaigns/{campaign['id']}/pledges", json={"amount": "12.00", "donor_email": "traced@example.com"},
        headers={"Idempotency-Key": new_idempotency_key(), "X-Correlation-Id": correlation_id})
    assert response.status_code == 201, response.text
    pledge = session_client.wait_for_pledge(response.json()["id"], lambda p: p["status"] == "COMPLETED",
                                            timeout=SETTLE_SECONDS, what="the traced pledge completing")
    return {"pledge": pledge, "correlation_id": correlation_id, "response": response, "campaign": campaign}


def functions_logging(log: str, correlation_id: str) -> set[str]:
    """The functions (logical ids) that wrote at least one JSON log line carrying `correlation_id`."""
    found = set()
    for line in log.splitlines():
        if not line.startswith("[") or "] {" not in line or correlation_id not in line:
            continue
        function, _, payload = line[1:].partition("] ")
        try:
            record = json.loads(payload)
        except ValueError:
            continue
        if record.get("correlation_id") == correlation_id:
            found.add(function)
    return found


def donation_timeline(base_url: str, key: str) -> dict | None:
    response = requests.get(f"{base_url}/_local/ops/donations/{key}", timeout=10)
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return response.json()


def timeline_with_whole_path(base_url: str, pledge_id: str) -> dict:
    """The donation's timeline once spans of every function on its path have arrived."""
    def probe():
        timeline = donation_timeline(base_url, pledge_id)
        functions = {span.get("function") for span in (timeline or {}).get("spans", [])}
        return timeline if timeline and set(DONATION_PATH) <= functions else None

    return poll(probe, timeout=30, interval=0.5, what="spans from every function on the donation's path")


def test_create_pledge_with_correlation_id_echoes_it_in_response_header(donation):
    assert donation["response"].headers["X-Correlation-Id"] == donation["correlation_id"]


def test_completed_donation_correlation_id_in_log_of_every_function_on_its_path(session_client, donation):
    correlation_id = donation["correlation_id"]

    found = poll(lambda: (lambda seen: seen if set(DONATION_PATH) <= seen else None)(
        functions_logging(session_client.log(), correlation_id)), timeout=30, interval=0.5,
        what="the correlation id in every function's log")

    assert set(DONATION_PATH) <= found


def test_completed_donation_is_one_trace_spanning_every_function_on_its_path(stack, donation):
    timeline = timeline_with_whole_path(stack.base_url, donation["pledge"]["id"])

    assert len(timeline["trace_ids"]) == 1, timeline["trace_ids"]
    assert {span["trace_id"] for span in timeline["spans"]} == set(timeline["trace_ids"])


def test_donation_timeline_spans_are_in_time_order_from_the_api_call(stack, donation):
    timeline = timeline_with_whole_path(stack.base_url, donation["pledge"]["id"])
    starts = [span["offset_ms"] for span in timeline["spans"]]

    assert starts == sorted(starts)
    assert starts[0] == 0
    first_function = next(span["function"] for span in timeline["spans"] if span.get("function"))
    assert first_function in ("AuthorizerFunction", "PledgesFunction")


def test_donation_timeline_found_by_correlation_id_is_the_same_trace(stack, donation):
    by_pledge = timeline_with_whole_path(stack.base_url, donation["pledge"]["id"])

    by_correlation = donation_timeline(stack.base_url, donation["correlation_id"])

    assert by_correlation is not None and by_correlation["trace_ids"] == by_pledge["trace_ids"]


def test_donation_timeline_shows_pledge_status_and_its_log_lines(stack, donation):
    timeline = timeline_with_whole_path(stack.base_url, donation["pledge"]["id"])

    assert timeline["pledge"]["status"] == "COMPLETED"
    assert {line["function"] for line in timeline["logs"]} >= {"PledgesFunction", "RealtimeFunction"}


def test_donation_timeline_of_unknown_key_is_404_problem(stack):
    response = requests.get(f"{stack.base_url}/_local/ops/donations/{uuid.uuid4()}", timeout=10)

    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/problem+json")


def test_ops_page_in_headless_chromium_shows_finished_donation_timeline(stack, donation):
    pledge_id = donation["pledge"]["id"]
    timeline_with_whole_path(stack.base_url, pledge_id)
    url = f"{stack.base_url}/_local/ops?donation={pledge_id}"

    dom = rendered_dom(url)
    image = screenshot(url, "ops-donation-timeline")

    assert pledge_id in dom and "COMPLETED" in dom
    for function in DONATION_PATH:
        assert function in dom, f"{function} missing from the rendered timeline"
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
