"""api.serve: problem details for every failure, correlation ids, and the body size limit."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import pytest
from botocore.exceptions import ClientError
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, ConfigDict, Field

from careforall.api import MAX_BODY_BYTES, PROBLEM_JSON, create_api, ok, require_caller, serve
from careforall.errors import ConflictError, ServiceBusyError, TooManyRequestsError

REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"  # requestContext.requestId of the sample events


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=50)
    quantity: int = Field(ge=1)


app = create_api()
calls: list[str] = []


@app.post("/items")
def create_item(body: Annotated[Item, Body()]) -> Response[Any]:
    calls.append("create_item")
    return ok(body.model_dump(), status=201)


@app.get("/conflict")
def conflict() -> Response[Any]:
    raise ConflictError("The item is taken.", conflicting_id="item-1")


@app.get("/throttled")
def throttled() -> Response[Any]:
    raise TooManyRequestsError("Slow down.", retry_after_seconds=42)


@app.get("/boom")
def boom() -> Response[Any]:
    raise RuntimeError("database password is hunter2")


@app.get("/contended")
def contended() -> Response[Any]:
    raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                       "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}]},
                      "TransactWriteItems")


@app.get("/throughput")
def throughput() -> Response[Any]:
    raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
                      "UpdateItem")


@app.get("/busy")
def busy() -> Response[Any]:
    raise ServiceBusyError()


@app.get("/whoami")
def whoami() -> Response[Any]:
    return ok({"user_id": require_caller(app).user_id})


@pytest.fixture(autouse=True)
def _reset_calls():
    calls.clear()


@pytest.fixture
def request_to(api_event):
    """An API Gateway proxy event for this test app: request_to("POST", "/items", body=...)."""

    def build(method: str, path: str, **tweaks: Any) -> dict[str, Any]:
        event = api_event("campaigns_list", query=None, path=path, **tweaks)
        event["httpMethod"] = event["requestContext"]["httpMethod"] = method
        event["resource"] = event["requestContext"]["resourcePath"] = path
        return event

    return build


@pytest.fixture
def call(lambda_context):
    def invoke(event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        result = serve(app, event, lambda_context)
        headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        headers.update({k.lower(): ", ".join(v) for k, v in (result.get("multiValueHeaders") or {}).items()})
        return result["statusCode"], headers, json.loads(result["body"]) if result.get("body") else None

    return invoke


def _assert_problem(status_code, headers, body, status):
    assert status_code == status
    assert headers["content-type"] == PROBLEM_JSON
    assert set(body) >= {"type", "title", "status", "detail"}
    assert body["status"] == status
    assert body["type"].startswith("https://careforall.org/problems/")


def test_serve_valid_request_runs_route(request_to, call):
    status, headers, body = call(request_to("POST", "/items", body={"name": "tent", "quantity": 2}))

    assert status == 201
    assert headers["content-type"] == "application/json"
    assert body == {"name": "tent", "quantity": 2}


@pytest.mark.parametrize("header_name", ["X-Correlation-Id", "x-correlation-id", "X-CORRELATION-ID"])
def test_serve_sane_correlation_id_echoed(request_to, call, header_name):
    _, headers, _ = call(request_to("GET", "/conflict", headers={header_name: "web-7f3a.42:abc_DEF-1"}))

    assert headers["x-correlation-id"] == "web-7f3a.42:abc_DEF-1"


@pytest.mark.parametrize(
    "hostile",
    ["abc\r\nSet-Cookie: session=stolen", "two words", "<script>alert(1)</script>", "x" * 129, "ïd-ünicode",
     "", "id;drop table", "../../etc/passwd"],
)
def test_serve_hostile_correlation_id_replaced_by_request_id(request_to, call, hostile):
    _, headers, _ = call(request_to("GET", "/conflict", headers={"X-Correlation-Id": hostile}))

    assert headers["x-correlation-id"] == REQUEST_ID


def test_serve_no_correlation_id_uses_request_id(request_to, call):
    _, headers, _ = call(request_to("GET", "/conflict"))

    assert headers["x-correlation-id"] == REQUEST_ID


def test_serve_no_correlation_id_nor_request_id_generates_uuid(request_to, call):
    event = request_to("GET", "/conflict")
    del event["requestContext"]["requestId"]

    _, headers, _ = call(event)

    assert uuid.UUID(headers["x-correlation-id"])


def test_serve_oversized_body_answers_413_without_running_route(request_to, call):
    # GIVEN a syntactically valid body one byte over the limit
    padding = "x" * (MAX_BODY_BYTES - len(json.dumps({"name": "", "quantity": 1})) + 1)
    event = request_to("POST", "/items", raw_body=json.dumps({"name": padding, "quantity": 1}),
                       headers={"X-Correlation-Id": "big-body-1"})
    assert len(event["body"]) == MAX_BODY_BYTES + 1

    status, headers, body = call(event)

    _assert_problem(status, headers, body, 413)
    assert body["type"].endswith("/content-too-large")
    assert headers["x-correlation-id"] == "big-body-1"
    assert calls == []


def test_serve_body_over_limit_in_utf8_bytes_answers_413(request_to, call):
    # GIVEN fewer characters than the limit, but more bytes once encoded as UTF-8 (3 bytes per "€")
    name = "€" * (MAX_BODY_BYTES // 3 + 1)
    event = request_to("POST", "/items", body={"name": name, "quantity": 1})
    assert len(event["body"]) < MAX_BODY_BYTES < len(event["body"].encode())

    status, headers, body = call(event)

    _assert_problem(status, headers, body, 413)
    assert calls == []


def test_serve_body_at_limit_reaches_validation(request_to, call):
    body_text = json.dumps({"name": "tent", "quantity": 1})
    event = request_to("POST", "/items", raw_body=body_text + " " * (MAX_BODY_BYTES - len(body_text)))

    status, _, _ = call(event)

    assert status == 201


def test_serve_domain_error_answers_problem_with_extensions(request_to, call):
    status, headers, body = call(request_to("GET", "/conflict"))

    _assert_problem(status, headers, body, 409)
    assert body == {"type": "https://careforall.org/problems/conflict", "title": "Conflict", "status": 409,
                    "detail": "The item is taken.", "conflicting_id": "item-1"}


def test_serve_too_many_requests_carries_retry_after(request_to, call):
    status, headers, body = call(request_to("GET", "/throttled"))

    _assert_problem(status, headers, body, 429)
    assert headers["retry-after"] == "42"


def test_serve_unhandled_exception_answers_500_without_internals(request_to, call):
    status, headers, body = call(request_to("GET", "/boom"))

    _assert_problem(status, headers, body, 500)
    assert "hunter2" not in json.dumps(body)
    assert headers["x-correlation-id"] == REQUEST_ID


@pytest.mark.parametrize("path", ["/contended", "/throughput", "/busy"])
def test_serve_write_refused_by_contention_answers_503_with_retry_after(request_to, call, path):
    status, headers, body = call(request_to("GET", path))

    _assert_problem(status, headers, body, 503)
    assert body["type"].endswith("/service-busy")
    assert headers["retry-after"] == "1"


def test_serve_unknown_route_answers_404_problem(request_to, call):
    status, headers, body = call(request_to("GET", "/nothing-here"))

    _assert_problem(status, headers, body, 404)


def test_serve_malformed_json_answers_400(request_to, call):
    status, headers, body = call(request_to("POST", "/items", raw_body='{"name": "tent", '))

    _assert_problem(status, headers, body, 400)
    assert body["type"].endswith("/malformed-json")
    assert calls == []


def test_serve_invalid_body_answers_422_with_errors(request_to, call):
    status, headers, body = call(request_to("POST", "/items", body={"name": "", "quantity": "many", "x": 1}))

    _assert_problem(status, headers, body, 422)
    assert body["type"].endswith("/validation-error")
    fields = {tuple(error["loc"][-1:]) for error in body["errors"]}
    assert fields == {("name",), ("quantity",), ("x",)}
    assert all(set(error) == {"loc", "type", "msg"} for error in body["errors"])


def test_serve_protected_route_without_authorizer_context_answers_401(request_to, call):
    status, headers, body = call(request_to("GET", "/whoami", caller=None))

    _assert_problem(status, headers, body, 401)


def test_serve_protected_route_with_authorizer_context_sees_caller(request_to, call):
    caller = {"user_id": "u-42", "email": "a@example.com", "role": "DONOR"}

    status, _, body = call(request_to("GET", "/whoami", caller=caller))

    assert (status, body) == (200, {"user_id": "u-42"})


@pytest.mark.parametrize("raw", ['[{"name": "tent", "quantity": 1}]', "[]", " [1, 2]",
                                 '[{"name": "a", "quantity": 1}, {}]'])
def test_serve_json_array_body_answers_422_without_running_route(request_to, call, raw):
    # Powertools would unwrap a one-element list into its element; bodies are objects only
    status, headers, body = call(request_to("POST", "/items", raw_body=raw))

    _assert_problem(status, headers, body, 422)
    assert body["errors"][0]["loc"] == ["body"]
    assert calls == []


def test_serve_malformed_json_array_answers_400(request_to, call):
    status, headers, body = call(request_to("POST", "/items", raw_body='[{"name": "tent",'))

    _assert_problem(status, headers, body, 400)


def test_serve_non_json_content_type_answers_415(request_to, call):
    event = request_to("POST", "/items", body={"name": "tent", "quantity": 1},
                       headers={"Content-Type": "text/plain"})

    status, headers, body = call(event)

    _assert_problem(status, headers, body, 415)
    assert calls == []


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
def test_serve_json_content_type_accepted(request_to, call, content_type):
    event = request_to("POST", "/items", body={"name": "tent", "quantity": 1},
                       headers={"Content-Type": content_type})

    status, _, _ = call(event)

    assert status == 201


@pytest.mark.parametrize(("content_type", "raw_body"), [
    ("application/merge-patch+json", '{"name": "tent", "quantity": 1}'),
    ("text/plain", None),
    ("multipart/mixed; boundary=x", None),
])
def test_serve_body_the_parser_cannot_read_answers_415_not_500(request_to, call, content_type, raw_body):
    event = request_to("POST", "/items", raw_body=raw_body, headers={"Content-Type": content_type})

    status, headers, body = call(event)

    _assert_problem(status, headers, body, 415)
    assert calls == []
