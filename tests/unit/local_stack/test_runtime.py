"""FunctionRuntime: cold and warm starts, exact environments, timeouts, crashes, concurrency caps."""

from __future__ import annotations

import asyncio
import os

from careforall_local.runtime import PIPELINE_NICENESS, FunctionRuntime

ENDPOINT = "http://127.0.0.1:1"


def run(coro):
    return asyncio.run(coro)


async def _with_runtime(specs, body, max_concurrency=4):
    runtime = FunctionRuntime(specs, ENDPOINT, max_concurrency)
    try:
        return await body(runtime)
    finally:
        await runtime.shutdown()


def test_invoke_first_call_is_cold_and_second_is_warm_in_same_process(probe_specs):
    async def body(runtime):
        return [await runtime.invoke("careforall-Echo", {"n": i}, source="test") for i in range(2)]

    first, second = run(_with_runtime(probe_specs, body))
    assert first.ok and second.ok
    assert first.cold_start and first.init_ms is not None
    assert not second.cold_start
    assert first.payload["pid"] == second.payload["pid"]
    assert second.payload["calls"] == 2


def test_invoke_environment_is_template_globals_and_function_plus_lambda_variables(probe_specs):
    async def body(runtime):
        return await runtime.invoke("careforall-Echo", {}, source="test")

    env = run(_with_runtime(probe_specs, body)).payload["env"]
    assert env["FROM_GLOBALS"] == "global-value"
    assert env["FROM_FUNCTION"] == "careforall-Table"  # !Ref resolved to the local physical name
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "careforall-Echo"
    assert env["AWS_ENDPOINT_URL"] == ENDPOINT
    assert not any(key.startswith("CAREFORALL_") and key != "CAREFORALL_LOCAL_FUNCTION_ARN" for key in env)


def test_invoke_context_reports_remaining_time_within_timeout(probe_specs):
    async def body(runtime):
        return await runtime.invoke("careforall-Echo", {}, source="test")

    payload = run(_with_runtime(probe_specs, body)).payload
    assert 0 < payload["remaining_ms"] <= 2000
    assert payload["request_id"]


def test_invoke_past_timeout_returns_sandbox_timedout_and_replaces_worker(probe_specs):
    async def body(runtime):
        timed_out = await runtime.invoke("careforall-Sleeper", {"seconds": 5}, source="test")
        quick = await runtime.invoke("careforall-Sleeper", {"seconds": 0}, source="test")
        return timed_out, quick

    timed_out, quick = run(_with_runtime(probe_specs, body))
    assert not timed_out.ok and timed_out.error_type == "Sandbox.Timedout"
    assert "1.00 seconds" in timed_out.payload["errorMessage"]
    assert quick.ok and quick.cold_start  # the timed-out sandbox was thrown away


def test_invoke_handler_exception_returns_error_and_keeps_worker_warm(probe_specs):
    async def body(runtime):
        return [await runtime.invoke("careforall-Raiser", {}, source="test") for _ in range(2)]

    first, second = run(_with_runtime(probe_specs, body))
    assert not first.ok and first.error_type == "ValueError" and first.payload["errorMessage"] == "probe failure"
    assert not second.cold_start


def test_invoke_process_exit_returns_runtime_exit_error(probe_specs):
    async def body(runtime):
        return await runtime.invoke("careforall-Crasher", {}, source="test")

    result = run(_with_runtime(probe_specs, body))
    assert not result.ok and result.error_type == "Runtime.ExitError"


def test_invoke_import_failure_returns_init_error(probe_specs):
    async def body(runtime):
        return await runtime.invoke("careforall-BadInit", {}, source="test")

    result = run(_with_runtime(probe_specs, body))
    assert not result.ok and result.error_type == "Runtime.InitError"
    assert "fails at import" in result.payload["errorMessage"]


def test_invoke_concurrent_requests_run_in_parallel_workers_up_to_cap(probe_specs):
    async def body(runtime):
        results = await asyncio.gather(*(runtime.invoke("careforall-Sleeper", {"seconds": 0.3}, source="test")
                                         for _ in range(4)))
        return results, runtime.stats()["Sleeper"]

    results, stats = run(_with_runtime(probe_specs, body, max_concurrency=2))
    assert all(r.ok for r in results)
    assert stats["workers"] == 2  # never more environments than the cap
    assert stats["cold_starts"] == 2


def test_invoke_by_arn_reaches_same_function(probe_specs):
    arn = probe_specs["careforall-Echo"].arn

    async def body(runtime):
        return await runtime.invoke(arn, {"via": "arn"}, source="test")

    assert run(_with_runtime(probe_specs, body)).payload["event"] == {"via": "arn"}


# ------------------------------------------------------------------------- the request path first (local only)
async def _until(condition, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def _request_path_runtime(specs, request_path):
    return FunctionRuntime(specs, ENDPOINT, 4, request_path=frozenset(request_path))


def _request_then_pipeline(specs, request_seconds: float, pipeline_source: str) -> tuple[list[str], int]:
    """A request to the Sleeper (request path) and, once it is in flight, a pipeline invocation of Echo: the
    sources in the order they finished, and how many pipeline invocations yielded."""
    async def body():
        runtime = _request_path_runtime(specs, {"careforall-Sleeper"})
        finished: list[str] = []
        try:
            async def call(name, event, source):
                await runtime.invoke(name, event, source=source)
                finished.append(source)

            request = asyncio.ensure_future(call("careforall-Sleeper", {"seconds": request_seconds}, "api"))
            await _until(lambda: runtime.requests_in_flight == 1)
            await asyncio.gather(call("careforall-Echo", {}, pipeline_source), request)
            return finished, runtime.pipeline_yields
        finally:
            await runtime.shutdown()

    return run(body())


def test_invoke_pipeline_during_request_starts_after_request_finishes(probe_specs):
    finished, yields = _request_then_pipeline(probe_specs, 0.5, "stream")

    assert finished == ["api", "stream"]
    assert yields == 1


def test_invoke_pipeline_behind_long_request_waits_at_most_yield_seconds(probe_specs, monkeypatch):
    monkeypatch.setattr("careforall_local.runtime.PIPELINE_YIELD_SECONDS", 0.05)

    finished, _ = _request_then_pipeline(probe_specs, 1.5, "sqs")

    assert finished == ["sqs", "api"]


def test_invoke_pipeline_without_priorities_never_waits(probe_specs):
    async def body():
        runtime = FunctionRuntime(probe_specs, ENDPOINT, 4)
        try:
            request = asyncio.ensure_future(runtime.invoke("careforall-Sleeper", {"seconds": 0.5}, source="api"))
            await _until(lambda: runtime.requests_in_flight == 1)
            await runtime.invoke("careforall-Echo", {}, source="stream")
            in_flight = runtime.requests_in_flight
            await request
            return in_flight, runtime.pipeline_yields
        finally:
            await runtime.shutdown()

    assert run(body()) == (1, 0)


def test_invoke_request_never_waits_for_pipeline(probe_specs):
    async def body():
        runtime = _request_path_runtime(probe_specs, set())
        try:
            await runtime.invoke("careforall-Echo", {}, source="api")
            return runtime.pipeline_yields, runtime.requests_in_flight
        finally:
            await runtime.shutdown()

    assert run(body()) == (0, 0)


def test_worker_of_pipeline_function_runs_at_lower_priority_than_request_path(probe_specs):
    async def body():
        runtime = _request_path_runtime(probe_specs, {"careforall-Echo"})
        try:
            echo = await runtime.invoke("careforall-Echo", {}, source="api")
            sleeper = await runtime.invoke("careforall-Sleeper", {"seconds": 0}, source="stream")
            return (os.getpriority(os.PRIO_PROCESS, echo.payload["pid"]),
                    os.getpriority(os.PRIO_PROCESS, _worker_pid(runtime, "careforall-Sleeper")), sleeper.ok)
        finally:
            await runtime.shutdown()

    request_priority, pipeline_priority, ok = run(body())
    assert ok
    assert pipeline_priority - request_priority == PIPELINE_NICENESS


def _worker_pid(runtime, name: str) -> int:
    return runtime.pools[name].idle[-1].process.pid


def test_prewarm_worker_initializes_as_provisioned_concurrency(probe_specs):
    async def body():
        runtime = _request_path_runtime(probe_specs, {"careforall-Echo"})
        try:
            await runtime.pools["careforall-Echo"].prewarm()
            return await runtime.invoke("careforall-Echo", {}, source="api")
        finally:
            await runtime.shutdown()

    assert run(body()).payload["env"]["AWS_LAMBDA_INITIALIZATION_TYPE"] == "provisioned-concurrency"
