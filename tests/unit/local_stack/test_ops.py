"""OpsService: the ops page's JSON and a donation's timeline, from collected traces and logs
(no emulator: a template without a pledges table and without queues)."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from careforall_local.ops import OpsService, pledge_view
from careforall_local.runtime import FunctionRuntime
from careforall_local.telemetry import Telemetry

API_ROOT = "1-5759e988-00000000000000000000000a"
PAYMENT_ROOT = "1-5759e988-00000000000000000000000b"


def seeded_telemetry() -> Telemetry:
    """A pledge request (stage -> function -> handler annotated with pledge_id and correlation_id) and, in
    another trace, a payment step annotated with payment_id and the same correlation id."""
    telemetry = Telemetry()
    record = telemetry.traces.record
    record({"id": "a000000000000001", "trace_id": API_ROOT, "name": "careforall-api/v1", "start_time": 100.0,
            "end_time": 100.4, "origin": "AWS::ApiGateway::Stage"})
    record({"id": "a000000000000002", "trace_id": API_ROOT, "parent_id": "a000000000000001",
            "name": "careforall-PledgesFunction", "start_time": 100.05, "end_time": 100.35,
            "origin": "AWS::Lambda::Function", "aws": {"function_logical_id": "PledgesFunction"}})
    record({"id": "a000000000000003", "trace_id": API_ROOT, "parent_id": "a000000000000002", "type": "subsegment",
            "name": "## create_pledge", "start_time": 100.1, "end_time": 100.3,
            "annotations": {"pledge_id": "pledge-1", "correlation_id": "corr-1"}})
    record({"id": "b000000000000001", "trace_id": PAYMENT_ROOT, "name": "## handler", "start_time": 101.0,
            "end_time": 101.2, "fault": True, "annotations": {"payment_id": "pay-1", "correlation_id": "corr-1"}})
    telemetry.logs.add("PledgesFunction", {"correlation_id": "corr-1", "level": "INFO", "message": "pledge created",
                                           "timestamp": 100.2})
    telemetry.logs.add("PaymentTaskFunction", {"correlation_id": "corr-1", "level": "ERROR",
                                               "message": "payment failed", "timestamp": 101.1})
    return telemetry


def run_ops(scenario, telemetry: Telemetry | None = None):
    async def main():
        telemetry_ = telemetry or seeded_telemetry()
        runtime = FunctionRuntime({}, "http://127.0.0.1:1", 1, telemetry=telemetry_)
        ops = OpsService(runtime, telemetry_, queues=[], pledges_table=None, aws_endpoint="http://127.0.0.1:1")
        app = web.Application()
        app.router.add_get("/_local/ops", ops.page)
        app.router.add_get("/_local/ops/data", ops.data_json)
        app.router.add_get("/_local/ops/donations/{key}", ops.donation_json)
        async with TestClient(TestServer(app)) as client:
            return await scenario(client)

    return asyncio.run(main())


def donation(key: str) -> tuple[int, dict, str]:
    async def scenario(client):
        response = await client.get(f"/_local/ops/donations/{key}")
        return response.status, await response.json(content_type=None), response.content_type

    return run_ops(scenario)


def test_donation_by_pledge_id_returns_spans_of_related_traces_sorted_with_offsets():
    status, body, _ = donation("pledge-1")

    assert status == 200
    assert set(body["trace_ids"]) == {API_ROOT, PAYMENT_ROOT}  # the payment trace shares the correlation id
    spans = body["spans"]
    assert [s["id"] for s in spans] == ["a000000000000001", "a000000000000002", "a000000000000003", "b000000000000001"]
    assert [s["offset_ms"] for s in spans] == [0.0, 50.0, 100.0, 1000.0]
    assert spans[2]["function"] == "PledgesFunction" and spans[3]["error"] is True
    assert {"trace_id", "id", "parent_id", "name", "origin", "start", "end", "offset_ms", "duration_ms", "error",
            "annotations", "function"} <= set(spans[0])


def test_donation_in_trace_of_another_donations_batch_keeps_its_own_traces_apart():
    telemetry = seeded_telemetry()
    other_root = "1-5759e988-00000000000000000000000c"
    telemetry.traces.record({"id": "c000000000000001", "trace_id": other_root, "name": "## create_pledge",
                             "start_time": 99.0, "end_time": 99.1,
                             "annotations": {"pledge_id": "pledge-2", "correlation_id": "corr-2"}})
    # A batch invocation joined pledge-1's trace and worked on pledge-2 as well (its last record).
    telemetry.traces.record({"id": "a000000000000009", "trace_id": API_ROOT, "name": "## handler", "start_time": 102.0,
                             "end_time": 102.1, "annotations": {"pledge_id": "pledge-2", "correlation_id": "corr-2"}})

    async def scenario(client):
        return await (await client.get("/_local/ops/donations/pledge-1")).json()

    body = run_ops(scenario, telemetry)

    assert other_root not in body["trace_ids"] and body["correlation_ids"] == ["corr-1"]
    foreign = {s["id"]: s["foreign"] for s in body["spans"]}
    assert foreign["a000000000000009"] is True  # the batch's work on pledge-2, in pledge-1's trace
    assert foreign["a000000000000003"] is False


def test_donation_by_payment_id_finds_the_pledge_request_through_annotations():
    status, body, _ = donation("pay-1")

    assert status == 200 and body["pledge_id"] == "pledge-1"
    assert API_ROOT in body["trace_ids"]


def test_donation_by_correlation_id_returns_its_log_lines_by_time():
    _, body, _ = donation("corr-1")

    assert [(line["function"], line["message"]) for line in body["logs"]] == [
        ("PledgesFunction", "pledge created"), ("PaymentTaskFunction", "payment failed")]
    assert body["pledge"] is None  # this template has no pledges table


def test_donation_by_trace_id_returns_that_trace():
    status, body, _ = donation(PAYMENT_ROOT)

    assert status == 200 and PAYMENT_ROOT in body["trace_ids"]


def test_donation_unknown_key_is_404_problem():
    status, body, content_type = donation("nobody-knows")

    assert status == 404 and content_type == "application/problem+json"
    assert body["status"] == 404 and body["title"] == "Not Found"


def test_ops_data_has_every_section_and_recent_donations_from_annotations():
    async def scenario(client):
        response = await client.get("/_local/ops/data")
        return await response.json()

    data = run_ops(scenario)

    assert {"ready", "healthy", "functions", "event_sources", "websocket_connections", "queues", "streams", "metrics",
            "recent_donations"} <= set(data)
    assert [d["pledge_id"] for d in data["recent_donations"]] == ["pledge-1"]
    assert data["recent_donations"][0]["timeline"] == "/_local/ops?donation=pledge-1"
    assert data["healthy"] is True


def test_ops_page_is_self_contained_html():
    async def scenario(client):
        response = await client.get("/_local/ops")
        return response.content_type, await response.text()

    content_type, html = run_ops(scenario)

    assert content_type == "text/html"
    assert "/_local/ops/data" in html and "setInterval(refresh, 2000)" in html
    assert "src=\"http" not in html and "href=\"http" not in html  # no external assets


def test_pledge_view_formats_amount_and_keeps_payment_state():
    view = pledge_view({"id": "p", "campaign_id": "c", "amount_cents": 2550, "currency": "USD", "status": "COMPLETED",
                        "payment": {"id": "pay", "state": "CAPTURED"}, "correlation_id": "corr"})

    assert (view["amount"], view["status"], view["payment"]["state"]) == ("25.50", "COMPLETED", "CAPTURED")
