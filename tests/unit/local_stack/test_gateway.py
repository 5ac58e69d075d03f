"""RestGateway: API Gateway REST semantics on the probe template (routing, events, authorizer, errors)."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from careforall_local.gateway import LambdaInvokeApi, RestGateway, TokenBucket, _policy_allows
from careforall_local.runtime import FunctionRuntime


def _serve(probe_specs, route, scenario):
    """Serve `route(app, runtime)` on a test server and run `scenario(client, runtime)` against it."""

    async def main():
        runtime = FunctionRuntime(probe_specs, "http://127.0.0.1:1", 4)
        app = web.Application()
        route(app, runtime)
        async with TestClient(TestServer(app)) as client:
            try:
                return await scenario(client, runtime)
            finally:
                await runtime.shutdown()

    return asyncio.run(main())


def run_against_gateway(probe_model, probe_specs, scenario):
    """Serve the probe API on a test server and run `scenario(client, runtime)` against it."""
    return _serve(probe_specs, lambda app, runtime: app.router.add_route(
        "*", "/{tail:.*}", RestGateway(probe_model.rest_apis()[0], runtime).handle), scenario)


def test_request_with_path_parameter_becomes_v1_proxy_event(probe_model, probe_specs):
    async def scenario(client, _):
        response = await client.get("/things/42?a=1&a=2&b=x", headers={"X-Custom": "v"})
        return response.status, response.headers, await response.json()

    status, headers, body = run_against_gateway(probe_model, probe_specs, scenario)
    event = body["event"]
    assert status == 200 and headers["X-Probe"] == "yes"
    assert event["resource"] == "/things/{id}" and event["path"] == "/things/42"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"]["b"] == "x"
    assert event["multiValueQueryStringParameters"]["a"] == ["1", "2"]
    assert event["headers"]["X-Custom"] == "v"
    assert event["requestContext"]["stage"] == "test"
    assert event["requestContext"]["resourcePath"] == "/things/{id}"
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert event["body"] is None and event["isBase64Encoded"] is False


def test_request_to_literal_path_wins_over_path_parameter(probe_model, probe_specs):
    async def scenario(client, _):
        return (await (await client.get("/things/special")).json())["event"]["resource"]

    assert run_against_gateway(probe_model, probe_specs, scenario) == "/things/special"


def test_request_to_unknown_route_answers_missing_authentication_token(probe_model, probe_specs):
    async def scenario(client, _):
        response = await client.get("/nowhere")
        return response.status, await response.json()

    assert run_against_gateway(probe_model, probe_specs, scenario) == (403, {"message": "Missing Authentication Token"})


def test_request_without_token_on_protected_route_is_401_without_invoking(probe_model, probe_specs):
    async def scenario(client, runtime):
        response = await client.post("/private", data=b"{}")
        return response.status, runtime.stats()["Gatekeeper"]["invocations"]

    assert run_against_gateway(probe_model, probe_specs, scenario) == (401, 0)


def test_request_with_allowed_token_carries_authorizer_context_and_is_cached(probe_model, probe_specs):
    async def scenario(client, runtime):
        first = await (await client.post("/private", headers={"Authorization": "allow"}, data=b"{}")).json()
        await client.post("/private", headers={"Authorization": "allow"}, data=b"{}")
        return first["event"]["requestContext"]["authorizer"], runtime.stats()["Gatekeeper"]["invocations"]

    context, authorizer_calls = run_against_gateway(probe_model, probe_specs, scenario)
    assert context == {"user_id": "probe-user", "role": "DONOR", "principalId": "probe-user"}
    assert authorizer_calls == 1  # the second request used the cached policy


def test_request_with_denied_token_is_403(probe_model, probe_specs):
    async def scenario(client, _):
        return (await client.post("/private", headers={"Authorization": "deny"}, data=b"{}")).status

    assert run_against_gateway(probe_model, probe_specs, scenario) == 403


def test_request_when_authorizer_raises_unauthorized_is_401(probe_model, probe_specs):
    async def scenario(client, _):
        return (await client.post("/private", headers={"Authorization": "forged"}, data=b"{}")).status

    assert run_against_gateway(probe_model, probe_specs, scenario) == 401


def test_request_when_function_raises_is_502(probe_model, probe_specs):
    async def scenario(client, _):
        return (await client.get("/fail")).status

    assert run_against_gateway(probe_model, probe_specs, scenario) == 502


def test_request_when_function_times_out_is_502(probe_model, probe_specs):
    async def scenario(client, _):
        return (await client.get("/slow")).status

    assert run_against_gateway(probe_model, probe_specs, scenario) == 502


def test_response_echoes_sane_correlation_id(probe_model, probe_specs):
    async def scenario(client, _):
        response = await client.get("/things/1", headers={"X-Correlation-Id": "abc-123"})
        return response.headers["X-Correlation-Id"]

    assert run_against_gateway(probe_model, probe_specs, scenario) == "abc-123"


def test_token_bucket_when_burst_spent_refuses_until_refilled():
    now = [0.0]
    bucket = TokenBucket(rate=2, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5  # one token at 2/s
    assert bucket.take() and not bucket.take()


def test_policy_with_explicit_deny_wins_over_allow():
    arn = "arn:aws:execute-api:us-east-1:1:local/v1/GET/campaigns"
    document = {"Statement": [{"Effect": "Allow", "Resource": "arn:aws:execute-api:us-east-1:1:local/*"},
                              {"Effect": "Deny", "Resource": ["arn:aws:execute-api:us-east-1:1:local/v1/GET/*"]}]}
    assert not _policy_allows(document, arn)
    assert _policy_allows({"Statement": document["Statement"][:1]}, arn)


# ---------------------------------------------------------------------- X-Ray
ROOT = "1-5759e988-bd862e3fe1be46a994272793"


def _segments(runtime, trace_id: str, origin: str) -> list[dict]:
    return [d for d in runtime.telemetry.traces.trace(trace_id) if d.get("origin") == origin]


def test_request_with_trace_header_records_stage_segment_as_parent_of_function_segment(probe_model, probe_specs):
    async def scenario(client, runtime):
        response = await client.get("/things/1",
                                    headers={"X-Amzn-Trace-Id": f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1"})
        return response.headers["X-Amzn-Trace-Id"], runtime

    answered, runtime = run_against_gateway(probe_model, probe_specs, scenario)
    [stage] = _segments(runtime, ROOT, "AWS::ApiGateway::Stage")
    [function] = _segments(runtime, ROOT, "AWS::Lambda::Function")
    assert answered == f"Root={ROOT}"
    assert stage["parent_id"] == "53995c3f42cd8ad8" and stage["name"].endswith("/test")
    assert stage["http"]["request"]["method"] == "GET" and stage["http"]["response"]["status"] == 200
    assert function["parent_id"] == stage["id"] and function["aws"]["function_logical_id"] == "Echo"


def test_request_passes_trace_header_with_stage_parent_in_proxy_event(probe_model, probe_specs):
    async def scenario(client, runtime):
        event = (await (await client.get("/things/1", headers={"X-Amzn-Trace-Id": f"Root={ROOT}"})).json())["event"]
        return event, runtime

    event, runtime = run_against_gateway(probe_model, probe_specs, scenario)
    [stage] = _segments(runtime, ROOT, "AWS::ApiGateway::Stage")
    assert event["headers"]["X-Amzn-Trace-Id"] == f"Root={ROOT};Parent={stage['id']};Sampled=1"
    assert event["multiValueHeaders"]["X-Amzn-Trace-Id"] == [event["headers"]["X-Amzn-Trace-Id"]]
    assert "parent_id" not in stage


def test_request_without_trace_header_starts_new_trace(probe_model, probe_specs):
    async def scenario(client, runtime):
        response = await client.get("/things/1")
        return response.headers["X-Amzn-Trace-Id"].removeprefix("Root="), runtime

    root, runtime = run_against_gateway(probe_model, probe_specs, scenario)
    assert len(_segments(runtime, root, "AWS::ApiGateway::Stage")) == 1
    assert len(_segments(runtime, root, "AWS::Lambda::Function")) == 1


def test_request_with_authorizer_invokes_it_in_the_same_trace_under_the_stage(probe_model, probe_specs):
    async def scenario(client, runtime):
        await client.post("/private", headers={"Authorization": "allow", "X-Amzn-Trace-Id": f"Root={ROOT}"}, data=b"{}")
        return runtime

    runtime = run_against_gateway(probe_model, probe_specs, scenario)
    [stage] = _segments(runtime, ROOT, "AWS::ApiGateway::Stage")
    functions = {s["aws"]["function_logical_id"]: s for s in _segments(runtime, ROOT, "AWS::Lambda::Function")}
    assert set(functions) == {"Gatekeeper", "Echo"}
    assert {s["parent_id"] for s in functions.values()} == {stage["id"]}


def test_request_when_function_raises_marks_stage_fault_and_function_fault(probe_model, probe_specs):
    async def scenario(client, runtime):
        await client.get("/fail", headers={"X-Amzn-Trace-Id": f"Root={ROOT}"})
        return runtime

    runtime = run_against_gateway(probe_model, probe_specs, scenario)
    [stage] = _segments(runtime, ROOT, "AWS::ApiGateway::Stage")
    [function] = _segments(runtime, ROOT, "AWS::Lambda::Function")
    assert stage["fault"] is True and stage["http"]["response"]["status"] == 502
    assert function["fault"] is True


def run_against_invoke_api(probe_specs, scenario):
    """Serve the Lambda Invoke API on a test server and run `scenario(client, runtime)` against it."""
    return _serve(probe_specs, lambda app, runtime: app.router.add_post(
        "/2015-03-31/functions/{name}/invocations", LambdaInvokeApi(runtime).invoke), scenario)


def test_invoke_api_with_trace_header_field_in_payload_joins_that_trace(probe_model, probe_specs):
    async def scenario(client, runtime):
        await client.post("/2015-03-31/functions/careforall-Echo/invocations",
                          json={"trace_header": f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1"})
        return runtime

    runtime = run_against_invoke_api(probe_specs, scenario)
    [function] = _segments(runtime, ROOT, "AWS::Lambda::Function")
    assert function["parent_id"] == "53995c3f42cd8ad8" and function["aws"]["source"] == "sdk"


def test_invoke_api_with_request_header_joins_its_trace_over_payload_field(probe_model, probe_specs):
    other = "1-5759e988-000000000000000000000001"

    async def scenario(client, runtime):
        await client.post("/2015-03-31/functions/careforall-Echo/invocations", json={"trace_header": f"Root={other}"},
                          headers={"X-Amzn-Trace-Id": f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1"})
        return runtime

    runtime = run_against_invoke_api(probe_specs, scenario)
    assert len(_segments(runtime, ROOT, "AWS::Lambda::Function")) == 1
    assert _segments(runtime, other, "AWS::Lambda::Function") == []
