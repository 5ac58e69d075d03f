"""Everything an API function shares: the resolver, problem details, correlation ids, limits.

Domain errors become RFC 9457 problem details here and nowhere else.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import (RequestUnsupportedContentType,
                                                                      RequestValidationError)
from aws_lambda_powertools.utilities.typing import LambdaContext

from careforall import contention
from careforall.errors import DomainError, ServiceBusyError
from careforall.identity import Caller, caller_from_authorizer
from careforall.errors import UnauthorizedError
from careforall.observability import logger

PROBLEM_BASE = "https://careforall.org/problems/"
PROBLEM_JSON = "application/problem+json"
CORRELATION_HEADER = "X-Correlation-Id"
MAX_BODY_BYTES = 64 * 1024  # our largest legitimate body (5,000 characters of description) fits in UTF-8
_SAFE_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def problem(status: int, problem_type: str, title: str, detail: str, headers: dict[str, str] | None = None,
            **extensions: Any) -> Response:
    body = {"type": PROBLEM_BASE + problem_type, "title": title, "status": status, "detail": detail, **extensions}
    return Response(status_code=status, content_type=PROBLEM_JSON, body=json.dumps(body), headers=headers or {})


def create_api() -> APIGatewayRestResolver:
    """A REST resolver that validates bodies with pydantic and answers every failure as a problem."""
    app = APIGatewayRestResolver(enable_validation=True)

    @app.exception_handler(DomainError)
    def _domain_error(error: DomainError) -> Response:
        return problem(error.status, error.problem, error.title, error.detail, error.headers, **error.extensions)

    @app.exception_handler(RequestValidationError)
    def _validation_error(error: RequestValidationError) -> Response:
        details = error.errors()
        if any(item.get("type") == "json_invalid" for item in details):
            return problem(400, "malformed-json", "Bad Request", "The request body is not valid JSON.")
        errors = [
            {"loc": list(item.get("loc", ())), "type": item.get("type"), "msg": item.get("msg", "")}
            for item in details
        ]
        return problem(422, "validation-error", "Unprocessable Content", "The request is not valid.", errors=errors)

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported_content_type(_: RequestUnsupportedContentType) -> Response:
        # Powertools parses bodies only as "application/json..." (or forms); anything else is not ours to read.
        return problem(415, "unsupported-media-type", "Unsupported Media Type", "Send the body as application/json.")

    @app.not_found
    def _no_route(_: Exception) -> Response:
        return problem(404, "not-found", "Not Found", "No such route.")

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        if contention.retry_base_seconds(error) is not None:
            # Throttling or a transaction conflict that outlasted the SDK's retries on a write no data layer
            # retries itself: nothing was written, and the client may send the same request again.
            logger.warning("write refused by contention", extra={"code": contention.error_code(error)})
            return _domain_error(ServiceBusyError())
        logger.exception("unhandled error")
        return problem(500, "internal-error", "Internal Server Error",
                       "The request failed unexpectedly; it is safe to retry.")

    return app


def current_caller(app: APIGatewayRestResolver) -> Caller | None:
    return caller_from_authorizer(app.current_event.request_context.get("authorizer"))


def require_caller(app: APIGatewayRestResolver) -> Caller:
    caller = current_caller(app)
    if caller is None:  # the authorizer guards these routes; this only trips on a misconfigured route
        raise UnauthorizedError("A valid bearer token is required.")
    return caller


def correlation_id_of(event: dict[str, Any]) -> str:
    """The caller's X-Correlation-Id when it is sane, else API Gateway's request id."""
    value = _header(event, CORRELATION_HEADER)
    if isinstance(value, str) and _SAFE_CORRELATION_ID.match(value):
        return value
    return (event.get("requestContext") or {}).get("requestId") or str(uuid.uuid4())


def serve(app: APIGatewayRestResolver, event: dict[str, Any], context: LambdaContext,
          raw_body_routes: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Resolve one API Gateway event; every response carries X-Correlation-Id.

    `raw_body_routes` (API Gateway resource paths) read their body themselves, e.g. a signed
    webhook that must check the signature before judging the content.
    """
    correlation_id = correlation_id_of(event)
    logger.set_correlation_id(correlation_id)
    body = event.get("body") or ""
    content_type = _header(event, "Content-Type")
    if len(body) > MAX_BODY_BYTES // 4 and len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        response = _to_proxy_result(problem(413, "content-too-large", "Content Too Large",
                                            f"The request body exceeds {MAX_BODY_BYTES} bytes."))
    elif body and content_type and not _is_json(content_type):
        response = _to_proxy_result(problem(415, "unsupported-media-type", "Unsupported Media Type",
                                            "Send the body as application/json."))
    elif event.get("resource") in raw_body_routes:
        response = app.resolve(event, context)
    elif (unreadable := _unreadable_body(event, body)) is not None:
        response = _to_proxy_result(unreadable)
    else:
        response = app.resolve(event, context)
    _set_header(response, CORRELATION_HEADER, correlation_id)
    return response


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name.lower():
            return value
    return None


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _unreadable_body(event: dict[str, Any], body: str) -> Response | None:
    """The problem with a request body no route of ours can take, or None to let the resolver judge it.

    Checked here because the resolver's own JSON parsing lets some of these escape as a 500: a body that is
    not UTF-8 (API Gateway passes it as base64; no JSON text is such a body, RFC 8259 section 8.1), and JSON
    beyond what Python's parser holds (nesting deeper than the recursion limit, an integer of more than 4,300
    digits). An array is refused too: Powertools' validation unwraps a one-element list into its element, and
    every body we take is an object. Bodies of other methods are never read, so they are not judged.
    """
    if not body or event.get("httpMethod") not in _BODY_METHODS:
        return None
    text = body
    if event.get("isBase64Encoded"):
        try:
            text = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
            return _malformed_json()
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError and the integer digit limit are ValueErrors
        return _malformed_json()
    if isinstance(value, list):
        return problem(422, "validation-error", "Unprocessable Content", "The request is not valid.",
                       errors=[{"loc": ["body"], "type": "model_type", "msg": "Input should be a JSON object"}])
    return None


def _malformed_json() -> Response:
    return problem(400, "malformed-json", "Bad Request", "The request body is not valid JSON.")


def _to_proxy_result(response: Response) -> dict[str, Any]:
    headers = {"Content-Type": response.headers.get("Content-Type", PROBLEM_JSON)}
    headers.update({k: v for k, v in response.headers.items() if isinstance(v, str)})
    return {"statusCode": response.status_code, "headers": headers, "body": response.body, "isBase64Encoded": False}


def _set_header(response: dict[str, Any], name: str, value: str) -> None:
    if "multiValueHeaders" in response:
        response["multiValueHeaders"][name] = [value]
    else:
        response.setdefault("headers", {})[name] = value


def ok(body: Any, status: int = HTTPStatus.OK, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=int(status), content_type="application/json", body=json.dumps(body),
                    headers=headers or {})
