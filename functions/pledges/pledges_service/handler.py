"""Pledges API handlers: parse, validate, call the logic, shape the response."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Optional

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from careforall.api import create_api, ok, require_caller, serve
from careforall.auth import Authenticator, Unauthenticated
from careforall.config import load_settings
from careforall.directory import authenticator_for
from careforall.mail import SesMailer
from careforall.errors import UnauthorizedError
from careforall.identity import Caller
from careforall.observability import logger, metrics, tracer
from careforall.ratelimit import DynamoWindowCounters
from careforall.secrets import get_secret
from careforall.tokens import TokenService
from careforall.tracing import annotate, current_trace_header

from pledges_service.dal import DynamoCampaignDirectory, DynamoPledgeRepository
from pledges_service.logic import IdempotencyKeyInFlightError, IdempotencyKeyReuseError, PledgesService
from pledges_service.models import CreatePledgeRequest, LookupRequest, PledgeStatus, Settings

SETTINGS = load_settings(Settings)
LOOKUP_AUDIENCE = "careforall-donation-lookup"
LOOKUP_TTL_SECONDS = 15 * 60
app = create_api()
Id = Annotated[str, Path(min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[Optional[str], Query(max_length=1024)]


@cache
def pledges_service() -> PledgesService:
    key = get_secret(SETTINGS.jwt_secret_id)
    return PledgesService(
        pledges=DynamoPledgeRepository(SETTINGS.pledges_table_name, SETTINGS.campaigns_table_name),
        campaigns=DynamoCampaignDirectory(SETTINGS.campaigns_table_name),
        mailer=SesMailer(SETTINGS.sender_email),
        counters=DynamoWindowCounters(SETTINGS.rate_limits_table_name),
        lookup_tokens=TokenService(key, SETTINGS.token_issuer, LOOKUP_TTL_SECONDS, audience=LOOKUP_AUDIENCE),
        web_app_url=SETTINGS.web_app_url,
    )


@cache
def authenticator() -> Authenticator:
    return authenticator_for(SETTINGS.jwt_secret_id, SETTINGS.token_issuer, SETTINGS.users_table_name)


def optional_caller() -> Caller | None:
    """These routes admit guests; a bearer token, when sent, must be valid (401 otherwise)."""
    header = app.current_event.headers.get("Authorization")
    if not header:
        return None
    try:
        return authenticator().authenticate(header)
    except Unauthenticated:
        raise UnauthorizedError("The bearer token is invalid or has expired.") from None


@app.post("/campaigns/<id>/pledges")
def create_pledge(id: Id, body: Annotated[CreatePledgeRequest, Body()]) -> Response[Any]:  # noqa: A002
    idempotency_key = app.current_event.headers.get("Idempotency-Key")
    correlation_id = logger.get_correlation_id()
    try:
        reply = pledges_service().create(optional_caller(), id, idempotency_key, body,
                                         correlation_id=correlation_id, trace_header=current_trace_header())
    except (IdempotencyKeyReuseError, IdempotencyKeyInFlightError):
        metrics.add_metric(name="IdempotencyKeyConflicts", unit="Count", value=1)
        raise
    headers = {"Location": f"/pledges/{reply.pledge_id}"}
    if reply.replayed:  # a replay is not the donation's trace: annotated apart from it
        annotate(replayed_pledge_id=reply.pledge_id, correlation_id=correlation_id)
        headers["Idempotent-Replayed"] = "true"
        metrics.add_metric(name="IdempotentReplays", unit="Count", value=1)
        logger.info("pledge replayed", extra={"pledge_id": reply.pledge_id})
    else:
        annotate(pledge_id=reply.pledge_id, correlation_id=correlation_id)
        metrics.add_metric(name="PledgesCreated", unit="Count", value=1)
        logger.info("pledge created", extra={"pledge_id": reply.pledge_id, "campaign_id": id})
    return Response(status_code=reply.status, content_type="application/json", body=reply.body, headers=headers)


@app.get("/campaigns/<id>/pledges")
def campaign_pledges(id: Id, status: Annotated[Optional[PledgeStatus], Query()] = None,  # noqa: A002
                     limit: Limit = 20, cursor: Cursor = None) -> Response[Any]:
    """The campaign's owner or an ADMIN (behind the authorizer): its pledges newest first, optionally by status."""
    page = pledges_service().campaign_pledges(require_caller(app), id, status, limit, cursor)
    return ok(page.model_dump(mode="json"))


@app.get("/pledges/<id>")
def get_pledge(id: Id, receipt_token: Annotated[Optional[str], Query(max_length=128)] = None  # noqa: A002
               ) -> Response[Any]:
    caller = None if receipt_token is not None else optional_caller()
    return ok(pledges_service().get(caller, id, receipt_token).model_dump(mode="json"))


@app.get("/users/me/pledges")
def my_pledges(limit: Limit = 20, cursor: Cursor = None) -> Response[Any]:
    return ok(pledges_service().my_pledges(require_caller(app), limit, cursor).model_dump(mode="json"))


@app.post("/donations/lookup")
def request_lookup(body: Annotated[LookupRequest, Body()]) -> Response[Any]:
    client_ip = app.current_event.request_context.identity.source_ip or "unknown"
    if not pledges_service().request_lookup(body.email, client_ip):
        logger.info("donation lookup rate-limited")
    return ok({"status": "accepted",
               "detail": "If donations were made with this email, a link to see them has been sent."}, status=202)


@app.get("/donations")
def guest_donations(token: Annotated[str, Query(min_length=1, max_length=2048)], limit: Limit = 20,
                    cursor: Cursor = None) -> Response[Any]:
    return ok(pledges_service().guest_donations(token, limit, cursor).model_dump(mode="json"))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return serve(app, event, context)
