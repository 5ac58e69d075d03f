"""The local API Gateway: REST API proxy integration, Lambda authorizer, stage throttling, gateway responses.

Requests on 127.0.0.1:$CAREFORALL_PORT become API Gateway REST (payload v1) proxy events for the
function the template routes them to, after the route's authorizer admitted them, exactly as
API Gateway does; its own refusals use the template's GatewayResponses.

Tracing, as API Gateway and Lambda do it with X-Ray on: a request joins the trace of its
`X-Amzn-Trace-Id` header when that names a Root, else starts one; the gateway records an
`AWS::ApiGateway::Stage` segment for it, which is the parent of the authorizer's and the
function's invocations, passes `X-Amzn-Trace-Id: Root=..;Parent=<stage segment>;Sampled=1` in the
proxy event's headers and answers with `X-Amzn-Trace-Id: Root=..`. The Lambda Invoke API takes
the request's `X-Amzn-Trace-Id`, else (a local stand-in for Step Functions' own propagation, which
moto lacks) a string `trace_header` field of a JSON object payload.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from careforall_local.runtime import FunctionRuntime
from careforall_local.stack import ACCOUNT_ID, REGION, Authorizer, GatewayResponse, RestApiSpec, Route
from careforall_local.tracing import TraceHeader, new_segment_id, parse_trace_header, upstream_or_new

log = logging.getLogger("careforall.gateway")
TRACE_HEADER = "X-Amzn-Trace-Id"
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's request payload limit
INTEGRATION_TIMEOUT_SECONDS = 29

# Status codes API Gateway uses when a GatewayResponse does not set one.
_DEFAULT_STATUS = {
    "UNAUTHORIZED": 401, "ACCESS_DENIED": 403, "THROTTLED": 429, "MISSING_AUTHENTICATION_TOKEN": 403,
    "REQUEST_TOO_LARGE": 413, "AUTHORIZER_FAILURE": 500, "AUTHORIZER_CONFIGURATION_ERROR": 500,
    "INTEGRATION_FAILURE": 504, "INTEGRATION_TIMEOUT": 504, "DEFAULT_4XX": 400, "DEFAULT_5XX": 500,
}
_DEFAULT_MESSAGE = {
    "UNAUTHORIZED": "Unauthorized", "ACCESS_DENIED": "User is not authorized to access this resource",
    "THROTTLED": "Too Many Requests", "MISSING_AUTHENTICATION_TOKEN": "Missing Authentication Token",
    "REQUEST_TOO_LARGE": "Request Too Long", "INTEGRATION_TIMEOUT": "Endpoint request timed out",
}


class TokenBucket:
    """API Gateway's stage throttle: `rate` tokens a second, at most `burst` banked."""

    def __init__(self, rate: float, burst: int, clock=time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens, self._last = float(burst), clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


@dataclass
class _CompiledRoute:
    route: Route
    pattern: re.Pattern
    literal_segments: int


def _compile(route: Route) -> _CompiledRoute:
    parts, literals = [], 0
    for segment in route.resource.strip("/").split("/") if route.resource != "/" else []:
        if segment.startswith("{") and segment.endswith("+}"):
            parts.append(f"(?P<{segment[1:-2]}>.+)")
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
        else:
            parts.append(re.escape(segment))
            literals += 1
    return _CompiledRoute(route, re.compile("^/" + "/".join(parts) + "/?$"), literals)


class RestGateway:
    def __init__(self, api: RestApiSpec, runtime: FunctionRuntime) -> None:
        self.api = api
        self.runtime = runtime
        # Literal segments win over path parameters, as in API Gateway's resource tree.
        self.routes = sorted((_compile(r) for r in api.routes), key=lambda c: -c.literal_segments)
        self.bucket = TokenBucket(api.rate_limit, api.burst_limit) if api.rate_limit is not None else None
        self._policy_cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}

    def owns(self, path: str) -> bool:
        return any(c.pattern.match(path) for c in self.routes)

    # ------------------------------------------------------------------ request flow
    async def handle(self, request: web.Request) -> web.StreamResponse:
        upstream = upstream_or_new(request.headers.get(TRACE_HEADER))
        stage_segment = new_segment_id()
        started = time.time()
        status = 500
        try:
            response = await self._handle(request, upstream.child(stage_segment))
            status = response.status
            response.headers[TRACE_HEADER] = f"Root={upstream.root}"
            return response
        finally:
            if upstream.sampled != "0":
                self.runtime.telemetry.traces.record(
                    self._stage_segment(request, upstream, stage_segment, started, status))

    def _stage_segment(self, request: web.Request, upstream: TraceHeader, segment_id: str, started: float,
                       status: int) -> dict[str, Any]:
        """The AWS::ApiGateway::Stage segment X-Ray records for one request."""
        segment: dict[str, Any] = {
            "name": f"{self.api.name or self.api.logical_id}/{self.api.stage}", "id": segment_id,
            "trace_id": upstream.root, "start_time": started, "end_time": time.time(),
            "origin": "AWS::ApiGateway::Stage",
            "http": {"request": {"method": request.method, "url": str(request.url),
                                 "client_ip": request.remote or "127.0.0.1",
                                 "user_agent": request.headers.get("User-Agent")},
                     "response": {"status": status}},
            "aws": {"api_id": "local", "stage": self.api.stage},
        }
        if upstream.parent:
            segment["parent_id"] = upstream.parent
        if status == 429:
            segment["throttle"] = True
        if 400 <= status < 500:
            segment["error"] = True
        elif status >= 500:
            segment["fault"] = True
        return segment

    async def _handle(self, request: web.Request, trace: TraceHeader) -> web.StreamResponse:
        request_id = str(uuid.uuid4())
        matched, params = self._match(request.method, request.path)
        if self.bucket is not None and not self.bucket.take():
            return self._gateway_response("THROTTLED", request, request_id)
        if matched is None:
            return self._gateway_response("MISSING_AUTHENTICATION_TOKEN", request, request_id)
        if request.content_length is not None and request.content_length > MAX_PAYLOAD_BYTES:
            return self._gateway_response("REQUEST_TOO_LARGE", request, request_id)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:  # chunked uploads carry no Content-Length to check first
            return self._gateway_response("REQUEST_TOO_LARGE", request, request_id)
        if len(body) > MAX_PAYLOAD_BYTES:
            return self._gateway_response("REQUEST_TOO_LARGE", request, request_id)

        authorizer_context = None
        if matched.authorizer:
            outcome = await self._authorize(self.api.authorizers[matched.authorizer], matched, request, request_id,
                                            trace)
            if isinstance(outcome, str):
                return self._gateway_response(outcome, request, request_id)
            authorizer_context = outcome

        event = self._proxy_event(request, body, matched, params, request_id, authorizer_context, trace)
        invocation = asyncio.ensure_future(self.runtime.invoke(matched.function_name, event, source="api",
                                                               detail=f"{request.method} {request.path}",
                                                               trace_header=str(trace)))
        try:
            # API Gateway stops waiting after 29 s; the function itself runs on to its own Timeout.
            result = await asyncio.wait_for(asyncio.shield(invocation), INTEGRATION_TIMEOUT_SECONDS)
        except asyncio.TimeoutError:
            return self._gateway_response("INTEGRATION_TIMEOUT", request, request_id)
        if not result.ok:  # an unhandled error or a function timeout: Lambda's error, API Gateway's 502
            return self._gateway_response("DEFAULT_5XX", request, request_id, status=502)
        return self._proxy_response(result.payload, request, request_id)

    def _match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        for compiled in self.routes:
            found = compiled.pattern.match(path)
            if found and compiled.route.method in (method.upper(), "ANY"):
                return compiled.route, {k: _unquote(v) for k, v in found.groupdict().items()}
        return None, {}

    def method_arn(self, route: Route, method: str, path: str) -> str:
        return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:local/{self.api.stage}/{method.upper()}{path}"

    async def _authorize(self, authorizer: Authorizer, route: Route, request: web.Request,
                         request_id: str, trace: TraceHeader | None = None) -> dict[str, Any] | str:
        """The authorizer context on success, else the gateway response type to send."""
        token = request.headers.get(authorizer.header, "")
        if not token:
            return "UNAUTHORIZED"
        if authorizer.validation_expression and not re.fullmatch(authorizer.validation_expression, token):
            return "UNAUTHORIZED"
        method_arn = self.method_arn(route, request.method, request.path)
        cache_key = (authorizer.name, token)
        cached = self._policy_cache.get(cache_key)
        if cached and cached[0] > time.monotonic():
            policy = cached[1]
        else:
            result = await self.runtime.invoke(authorizer.function_name, {
                "type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}, source="authorizer",
                detail=f"{request.method} {request.path}", trace_header=str(trace) if trace else None)
            if not result.ok:
                if (result.payload or {}).get("errorMessage") == "Unauthorized":
                    return "UNAUTHORIZED"
                log.warning("authorizer failed: %s", result.payload)
                return "AUTHORIZER_FAILURE"
            policy = result.payload
            if not isinstance(policy, dict) or "policyDocument" not in policy or "principalId" not in policy:
                return "AUTHORIZER_CONFIGURATION_ERROR"
            if authorizer.ttl_seconds > 0:
                self._policy_cache[cache_key] = (time.monotonic() + authorizer.ttl_seconds, policy)
        if not _policy_allows(policy["policyDocument"], method_arn):
            return "ACCESS_DENIED"
        context = {k: v for k, v in (policy.get("context") or {}).items()}
        context["principalId"] = policy["principalId"]
        return context

    def _proxy_event(self, request: web.Request, body: bytes, route: Route, params: dict[str, str],
                     request_id: str, authorizer: dict[str, Any] | None,
                     trace: TraceHeader | None = None) -> dict[str, Any]:
        headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            if trace is not None and name.lower() == TRACE_HEADER.lower():
                continue  # API Gateway passes its own: the stage segment is the function's parent
            headers[name] = value
            multi_headers.setdefault(name, []).append(value)
        if trace is not None:
            headers[TRACE_HEADER] = str(trace)
            multi_headers[TRACE_HEADER] = [str(trace)]
        query: dict[str, str] = {}
        multi_query: dict[str, list[str]] = {}
        for name, value in request.query.items():
            query[name] = value
            multi_query.setdefault(name, []).append(value)
        try:
            text, is_base64 = (body.decode("utf-8"), False) if body else (None, False)
        except UnicodeDecodeError:
            text, is_base64 = base64.b64encode(body).decode(), True
        now = datetime.now(timezone.utc)
        source_ip = request.remote or "127.0.0.1"  # the connection's address, never a client-supplied header
        context: dict[str, Any] = {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": request.host,
            "domainPrefix": "local",
            "extendedRequestId": request_id,
            "httpMethod": request.method,
            "identity": {"sourceIp": source_ip, "userAgent": request.headers.get("User-Agent"),
                         "accessKey": None, "accountId": None, "caller": None, "user": None, "userArn": None},
            "path": f"/{self.api.stage}{request.path}",
            "protocol": f"HTTP/{request.version.major}.{request.version.minor}",
            "requestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "resourceId": "local",
            "resourcePath": route.resource,
            "stage": self.api.stage,
        }
        if authorizer is not None:
            context["authorizer"] = authorizer
        return {
            "resource": route.resource,
            "path": request.path,
            "httpMethod": request.method,
            "headers": headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": context,
            "body": text,
            "isBase64Encoded": is_base64,
        }

    def _proxy_response(self, payload: Any, request: web.Request, request_id: str) -> web.Response:
        if not isinstance(payload, dict) or not isinstance(payload.get("statusCode", 200), int):
            log.warning("malformed Lambda proxy response: %r", payload)
            return self._gateway_response("DEFAULT_5XX", request, request_id, status=502)
        body = payload.get("body") or ""
        raw = base64.b64decode(body) if payload.get("isBase64Encoded") else str(body).encode()
        response = web.Response(status=payload.get("statusCode", 200), body=raw)
        response.headers.popall("Content-Type", None)
        for name, value in (payload.get("headers") or {}).items():
            response.headers[name] = str(value)
        for name, values in (payload.get("multiValueHeaders") or {}).items():
            response.headers.popall(name, None)
            for value in values:
                response.headers.add(name, str(value))
        if "Content-Type" not in response.headers:
            response.headers["Content-Type"] = "application/json"
        self._stamp(response, request, request_id)
        return response

    def _gateway_response(self, kind: str, request: web.Request, request_id: str,
                          status: int | None = None) -> web.Response:
        fallback = "DEFAULT_5XX" if _DEFAULT_STATUS.get(kind, 500) >= 500 else "DEFAULT_4XX"
        spec = self.api.gateway_responses.get(kind) or self.api.gateway_responses.get(fallback) or GatewayResponse(
            None, {}, None)
        code = spec.status or status or _DEFAULT_STATUS.get(kind, 500)
        body = spec.body or json.dumps({"message": _DEFAULT_MESSAGE.get(kind, "Internal server error")})
        response = web.Response(status=code, text=body, content_type="application/json")
        for name, mapping in spec.headers.items():
            if mapping.startswith("'") and mapping.endswith("'"):
                response.headers[name] = mapping[1:-1]
            elif mapping.startswith("method.request.header."):
                value = request.headers.get(mapping.removeprefix("method.request.header."))
                if value:
                    response.headers[name] = value
        self._stamp(response, request, request_id)
        return response

    @staticmethod
    def _stamp(response: web.Response, request: web.Request, request_id: str) -> None:
        response.headers["x-amzn-RequestId"] = request_id
        stamp_correlation_id(response, request, request_id)


_SAFE_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")  # the same rule as careforall.api


def stamp_correlation_id(response: web.StreamResponse, request: web.Request, fallback: str) -> None:
    """Local difference: API Gateway's own responses echo X-Correlation-Id only when the client sent
    one; locally every response carries one (a sane client value, else the request id), as the
    contract asks and as our functions do."""
    sent = request.headers.get("X-Correlation-Id", "")
    current = response.headers.get("X-Correlation-Id")
    if current is None or not _SAFE_CORRELATION_ID.match(current):
        response.headers["X-Correlation-Id"] = sent if _SAFE_CORRELATION_ID.match(sent) else fallback


def _unquote(value: str) -> str:
    from urllib.parse import unquote

    return unquote(value)


def _arn_matches(pattern: str, arn: str) -> bool:
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, arn, re.DOTALL) is not None  # IAM wildcards match any character, a line break too


def _policy_allows(document: dict[str, Any], method_arn: str) -> bool:
    """IAM evaluation for execute-api:Invoke: an explicit Deny wins, then any Allow."""
    allowed = False
    for statement in document.get("Statement", []):
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        if not any(_arn_matches(r, method_arn) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed


class LambdaInvokeApi:
    """The Lambda Invoke API the AWS endpoint forwards to (SDK calls, Step Functions tasks)."""

    def __init__(self, runtime: FunctionRuntime) -> None:
        self.runtime = runtime

    async def invoke(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if not self.runtime.has(name):
            return web.json_response({"Type": "User", "Message": f"Function not found: {name}"}, status=404,
                                     headers={"x-amzn-ErrorType": "ResourceNotFoundException"})
        raw = await request.read()
        try:
            event = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            return web.json_response({"Type": "User", "Message": "Could not parse request body into json"},
                                     status=400, headers={"x-amzn-ErrorType": "InvalidRequestContentException"})
        invocation_type = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type == "DryRun":
            return web.Response(status=204)
        trace_header = invoke_trace_header(request.headers.get(TRACE_HEADER), event)
        if invocation_type == "Event":
            asyncio.create_task(self.runtime.invoke(name, event, source="async", trace_header=trace_header))
            return web.Response(status=202)
        result = await self.runtime.invoke(name, event, source="sdk", trace_header=trace_header)
        headers = {"x-amzn-RequestId": result.request_id, "X-Amz-Executed-Version": "$LATEST"}
        if not result.ok:
            headers["X-Amz-Function-Error"] = "Unhandled"
        return web.Response(status=200, body=json.dumps(result.payload).encode(), content_type="application/json",
                            headers=headers)


def invoke_trace_header(header: str | None, payload: Any) -> str | None:
    """The trace an Invoke joins: its X-Amzn-Trace-Id header, else a payload's string `trace_header`.

    On AWS, Step Functions with tracing passes the execution's trace to its Lambda tasks by itself;
    moto's interpreter does not, so the workflows put the trace header in each task payload.
    """
    if parse_trace_header(header) is not None:
        return header
    if isinstance(payload, dict) and isinstance(payload.get("trace_header"), str):
        return payload["trace_header"]
    return None
