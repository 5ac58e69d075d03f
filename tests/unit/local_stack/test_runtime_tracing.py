"""FunctionRuntime as the Lambda service with active tracing: the worker's trace header, the function
segment it records, the X-Ray SDK in the worker reaching the daemon, and what function output feeds.
Handlers: tests/unit/local_stack/fake_functions."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from careforall_local.chaos import Chaos
from careforall_local.runtime import FunctionRuntime
from careforall_local.stack import FunctionSpec
from careforall_local.telemetry import Telemetry
from careforall_local.tracing import TraceCollector, parse_trace_header, start_xray_daemon

FAKES = Path(__file__).resolve().parent / "fake_functions"
ENDPOINT = "http://127.0.0.1:1"
ROOT = "1-5759e988-bd862e3fe1be46a994272793"
UPSTREAM = f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1"


def spec(logical_id: str, handler: str) -> FunctionSpec:
    name = f"careforall-{logical_id}"
    return FunctionSpec(logical_id=logical_id, name=name, arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
                        handler=handler, code_dir=FAKES, layer_dirs=(), environment={}, timeout=10, memory_mb=128,
                        reserved_concurrency=None)


SPECS = {s.name: s for s in (spec("Trace", "plain.trace"), spec("Fail", "plain.fail"),
                             spec("Chatter", "plain.chatter"), spec("Traced", "traced.handler"))}


def run(body, **runtime_options):
    async def main():
        runtime = FunctionRuntime(SPECS, ENDPOINT, 2, **runtime_options)
        try:
            return await body(runtime)
        finally:
            await runtime.shutdown()

    return asyncio.run(main())


def function_segment(runtime: FunctionRuntime, trace_id: str) -> dict:
    [segment] = [d for d in runtime.telemetry.traces.trace(trace_id) if d.get("origin") == "AWS::Lambda::Function"]
    return segment


def test_invoke_with_upstream_header_passes_root_and_function_segment_as_parent_to_worker():
    async def body(runtime):
        result = await runtime.invoke("careforall-Trace", {}, source="test", trace_header=UPSTREAM)
        return result, function_segment(runtime, ROOT)

    result, segment = run(body)
    passed = parse_trace_header(result.payload["trace"])
    assert (passed.root, passed.parent, passed.sampled) == (ROOT, segment["id"], "1")
    assert result.trace_id == ROOT and result.segment_id == segment["id"]


def test_invoke_with_upstream_header_records_function_segment_under_upstream_parent():
    async def body(runtime):
        before = time.time()
        result = await runtime.invoke("careforall-Trace", {}, source="sqs", trace_header=UPSTREAM)
        return before, result, function_segment(runtime, ROOT)

    before, result, segment = run(body)
    assert segment["parent_id"] == "53995c3f42cd8ad8"
    assert segment["name"] == "careforall-Trace" and segment["trace_id"] == ROOT
    assert before <= segment["start_time"] <= segment["end_time"] <= time.time()
    assert segment["aws"] == {"function_logical_id": "Trace", "function_arn": SPECS["careforall-Trace"].arn,
                              "request_id": result.request_id, "cold_start": True, "source": "sqs"}
    assert "fault" not in segment and "error" not in segment


def test_invoke_without_header_starts_new_trace_with_parentless_function_segment():
    async def body(runtime):
        result = await runtime.invoke("careforall-Trace", {}, source="stream")
        return result, function_segment(runtime, result.trace_id)

    result, segment = run(body)
    assert parse_trace_header(result.payload["trace"]).root == result.trace_id
    assert "parent_id" not in segment


def test_invoke_with_unsampled_header_passes_sampled_zero_and_records_nothing():
    async def body(runtime):
        result = await runtime.invoke("careforall-Trace", {}, source="sdk", trace_header=f"Root={ROOT};Sampled=0")
        return result, runtime.telemetry.traces.trace(ROOT)

    result, recorded = run(body)
    assert parse_trace_header(result.payload["trace"]).sampled == "0" and recorded == []


def test_invoke_when_handler_raises_records_fault_segment_with_cause():
    async def body(runtime):
        await runtime.invoke("careforall-Fail", {}, source="test", trace_header=UPSTREAM)
        return function_segment(runtime, ROOT), runtime.stats()["Fail"]

    segment, stats = run(body)
    assert segment["fault"] is True
    assert segment["cause"]["exceptions"] == [{"type": "RuntimeError", "message": "fake failure"}]
    assert stats["errors"] == 1 and stats["last_error"]["type"] == "RuntimeError"


def test_invoke_failed_by_chaos_before_handler_records_fault_segment():
    async def body(runtime):
        await runtime.invoke("careforall-Trace", {}, source="sqs", trace_header=UPSTREAM)
        return function_segment(runtime, ROOT)

    segment = run(body, chaos=Chaos(fail_before=1.0))
    assert segment["fault"] is True
    assert segment["cause"]["exceptions"][0]["type"] == "Chaos.FailBeforeHandler"


def test_stats_keep_pool_keys_and_add_outcomes():
    async def body(runtime):
        for _ in range(3):
            await runtime.invoke("careforall-Trace", {}, source="test")
        return runtime.stats()["Trace"]

    stats = run(body)
    assert {"workers", "idle", "invocations", "cold_starts", "max_concurrency"} <= set(stats)
    assert stats["invocations"] == 3 and stats["errors"] == 0 and stats["p50_ms"] > 0 and stats["p99_ms"] > 0


def test_worker_output_feeds_metrics_and_correlated_logs():
    telemetry = Telemetry()

    async def body(runtime):
        await runtime.invoke("careforall-Chatter", {"correlation_id": "corr-42"}, source="test")
        await runtime.shutdown()  # the relay has read every line once the worker is gone

    run(body, telemetry=telemetry)
    assert [(m["name"], m["sum"]) for m in telemetry.metrics.summaries()] == [("Things", 2.0)]
    assert [(line["function"], line["message"]) for line in telemetry.logs.lines("corr-42")] == [
        ("Chatter", "did a thing")]


def test_worker_with_powertools_tracer_sends_subsegment_to_daemon_under_passed_trace():
    collector = TraceCollector()

    async def body():
        loop = asyncio.get_running_loop()
        transport = await start_xray_daemon(collector, 0)
        port = transport.get_extra_info("sockname")[1]
        runtime = FunctionRuntime(SPECS, ENDPOINT, 2, telemetry=Telemetry(traces=collector),
                                  xray_daemon_address=f"127.0.0.1:{port}")
        try:
            result = await runtime.invoke("careforall-Traced", {"pledge_id": "p-7"}, source="test",
                                          trace_header=UPSTREAM)
            deadline = loop.time() + 10
            while not collector.lookup("p-7") and loop.time() < deadline:
                await asyncio.sleep(0.02)
            return result
        finally:
            await runtime.shutdown()
            transport.close()

    result = asyncio.run(body())
    assert result.ok and result.payload["tracer_disabled"] is False
    handler = next(d for d in collector.trace(ROOT) if d.get("name") == "## handler")
    assert handler["trace_id"] == ROOT
    assert handler["parent_id"] == result.segment_id  # the Parent the runtime passed in
    assert handler["annotations"]["pledge_id"] == "p-7"
    assert collector.lookup("p-7") == [ROOT]
