"""X-Ray, EMF and the ops page of the local stack.

A stack of its own (tracing_app/template.yaml: functions with Powertools Tracer, Logger and Metrics)
shows trace propagation end to end: API Gateway -> Lambda -> the SDK's subsegments over UDP ->
SQS (AWSTraceHeader) -> Lambda, and the Invoke API's `trace_header` payload field. The shared
machinery stack shows the ops page and its data."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.integration.event_machinery.support import Probe, eventually, start_machinery_stack, unique

TRACING_TEMPLATE = Path(__file__).resolve().parent / "tracing_app" / "template.yaml"
OPS_DATA_KEYS = {"ready", "healthy", "functions", "event_sources", "websocket_connections", "queues", "streams",
                 "metrics", "recent_donations"}


def new_trace_header() -> tuple[str, str, str]:
    root = f"1-{int(time.time()):08x}-{os.urandom(12).hex()}"
    parent = os.urandom(8).hex()
    return root, parent, f"Root={root};Parent={parent};Sampled=1"


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    stack = start_machinery_stack(tmp_path_factory.mktemp("traced"), CAREFORALL_TEMPLATE=str(TRACING_TEMPLATE))
    yield stack
    assert stack.stop() == 0, stack.log()[-3000:]


def donation(base_url: str, key: str) -> dict | None:
    response = requests.get(f"{base_url}/_local/ops/donations/{key}", timeout=10)
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return response.json()


def spans_where(base_url: str, key: str, predicate, count: int = 1) -> list[dict]:
    """Waits until the donation `key` has at least `count` spans matching `predicate`; returns them."""
    def found():
        timeline = donation(base_url, key)
        matches = [s for s in (timeline or {}).get("spans", []) if predicate(s)]
        return matches if len(matches) >= count else None

    return eventually(found, timeout=30, what=f"{count} matching span(s) of {key}")


@pytest.fixture(scope="module")
def api_donation(traced) -> dict:
    """One POST /donations sent with its own X-Amzn-Trace-Id and X-Correlation-Id."""
    root, parent, header = new_trace_header()
    pledge_id, correlation_id = unique("pledge"), unique("corr")
    response = requests.post(f"{traced.base_url}/donations", json={"pledge_id": pledge_id}, timeout=30,
                             headers={"X-Amzn-Trace-Id": header, "X-Correlation-Id": correlation_id})
    assert response.status_code == 200, response.text
    return {"root": root, "parent": parent, "pledge_id": pledge_id, "correlation_id": correlation_id,
            "response": response}


def test_api_request_with_trace_header_records_stage_segment_under_callers_parent(traced, api_donation):
    [stage] = spans_where(traced.base_url, api_donation["pledge_id"],
                          lambda s: s["origin"] == "AWS::ApiGateway::Stage")

    assert stage["trace_id"] == api_donation["root"] and stage["parent_id"] == api_donation["parent"]
    assert stage["name"] == "traced-api/test"
    assert api_donation["response"].headers["X-Amzn-Trace-Id"] == f"Root={api_donation['root']}"


def test_powertools_tracer_in_worker_sends_handler_subsegment_under_passed_trace_and_parent(traced, api_donation):
    key = api_donation["pledge_id"]
    [handler] = spans_where(traced.base_url, key, lambda s: s["name"] == "## api")
    [function] = [s for s in donation(traced.base_url, key)["spans"]
                  if s["origin"] == "AWS::Lambda::Function" and s["function"] == "ApiFunction"]
    stage = next(s for s in donation(traced.base_url, key)["spans"] if s["origin"] == "AWS::ApiGateway::Stage")

    assert handler["trace_id"] == api_donation["root"]
    assert handler["parent_id"] == function["id"]  # the Parent the local Lambda service passed in
    assert function["parent_id"] == stage["id"]
    assert handler["annotations"]["pledge_id"] == key and handler["function"] == "ApiFunction"
    assert json.loads(api_donation["response"].text)["trace"] == (
        f"Root={api_donation['root']};Parent={function['id']};Sampled=1")


def test_sqs_message_sent_by_traced_function_consumer_joins_the_same_trace(traced, api_donation):
    [consumer] = spans_where(traced.base_url, api_donation["pledge_id"],
                             lambda s: s["origin"] == "AWS::Lambda::Function" and s["function"] == "Consumer")
    spans = {s["id"]: s for s in donation(traced.base_url, api_donation["pledge_id"])["spans"]}

    assert consumer["trace_id"] == api_donation["root"]
    assert spans[consumer["parent_id"]]["function"] == "ApiFunction"  # the SDK's SQS call in the API function


def test_sqs_message_with_explicit_aws_trace_header_consumer_joins_that_trace(traced):
    root, parent, header = new_trace_header()
    probe = Probe(traced.aws_endpoint)
    probe.sqs.send_message(QueueUrl=probe.queue_url("TracedQueue"),
                           MessageBody=json.dumps({"pledge_id": unique("queued"), "correlation_id": unique("c")}),
                           MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": header}})

    [consumer] = spans_where(traced.base_url, root, lambda s: s["origin"] == "AWS::Lambda::Function")

    assert consumer["function"] == "Consumer" and consumer["parent_id"] == parent


def test_invoke_with_trace_header_in_payload_joins_that_trace(traced):
    root, parent, header = new_trace_header()
    payment_id = unique("payment")
    result = Probe(traced.aws_endpoint).lambda_.invoke(
        FunctionName="careforall-Direct", Payload=json.dumps({"payment_id": payment_id, "trace_header": header}))
    assert "FunctionError" not in result

    spans = spans_where(traced.base_url, payment_id, lambda s: s["function"] == "Direct", count=2)
    function = next(s for s in spans if s["origin"] == "AWS::Lambda::Function")
    handler = next(s for s in spans if s["name"] == "## direct")

    assert function["trace_id"] == root and function["parent_id"] == parent
    assert handler["parent_id"] == function["id"]


def test_donation_timeline_carries_its_correlated_log_lines(traced, api_donation):
    def logs():
        lines = (donation(traced.base_url, api_donation["correlation_id"]) or {}).get("logs", [])
        return lines if {line["message"] for line in lines} >= {"probe donation received",
                                                                 "probe donation consumed"} else None

    lines = eventually(logs, what="the API function's and the consumer's log lines")

    assert {line["function"] for line in lines} == {"ApiFunction", "Consumer"}
    assert [line["time"] for line in lines] == sorted(line["time"] for line in lines)


def test_ops_data_counts_emf_metric_and_lists_the_donation(traced, api_donation):
    def data():
        body = requests.get(f"{traced.base_url}/_local/ops/data", timeout=10).json()
        metric = [m for m in body["metrics"] if m["name"] == "ProbeDonations"]
        listed = [d for d in body["recent_donations"] if d["pledge_id"] == api_donation["pledge_id"]]
        return (metric, listed, body) if metric and listed else None

    [metric], [listed], body = eventually(data, what="the EMF metric and the recent donation")

    assert metric["namespace"] == "TracedProbe" and metric["count"] >= 1
    assert metric["dimensions"] == {"service": "traced-probe"}
    assert listed["trace_id"] == api_donation["root"]
    assert body["functions"]["ApiFunction"]["invocations"] >= 1


def test_donation_unknown_key_answers_404_problem(traced):
    response = requests.get(f"{traced.base_url}/_local/ops/donations/{uuid.uuid4()}", timeout=10)

    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/problem+json")


# ---------------------------------------------------------------------- the shared machinery stack
def test_get_ops_answers_self_contained_html_page(machinery):
    response = requests.get(f"{machinery.base_url}/_local/ops", timeout=10)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "/_local/ops/data" in response.text and "<script" in response.text


def test_get_ops_data_answers_json_with_every_section(machinery):
    data = requests.get(f"{machinery.base_url}/_local/ops/data", timeout=10).json()

    assert OPS_DATA_KEYS <= set(data)
    assert data["ready"] is True
    assert {"workers", "idle", "invocations", "cold_starts", "max_concurrency", "errors", "p50_ms",
            "p99_ms"} <= set(data["functions"]["StreamConsumer"])


def test_get_ops_data_marks_dead_letter_and_failure_destination_queues(machinery):
    queues = {q["name"]: q for q in requests.get(f"{machinery.base_url}/_local/ops/data", timeout=10).json()["queues"]}

    assert queues["WorkDeadLetterQueue"]["kind"] == "dead-letter"
    assert queues["WorkDeadLetterQueue"]["dead_letter_for"] == ["WorkQueue"]
    assert queues["StreamFailureQueue"]["kind"] == "failure-destination"
    assert queues["WorkQueue"]["kind"] == "source" and not queues["WorkQueue"]["failure_queue"]
    assert all(isinstance(q["visible"], int) and isinstance(q["in_flight"], int) for q in queues.values())


def test_get_ops_data_reports_stream_mapping_delivery_and_lag(machinery, probe):
    key = unique("ops-stream")
    probe.write((key, "ok"))
    probe.delivered("stream", key)

    def stream():
        streams = requests.get(f"{machinery.base_url}/_local/ops/data", timeout=10).json()["streams"]
        found = [s for s in streams if s["function"] == "StreamConsumer"]
        return found[0] if found and found[0]["records_delivered"] >= 1 and found[0]["caught_up"] else None

    mapping = eventually(stream, what="the stream mapping caught up")

    assert mapping["lag_seconds"] == 0.0 and mapping["newest_record_at"] > time.time() - 600
