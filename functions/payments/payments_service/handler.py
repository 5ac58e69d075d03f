"""Payments API handlers: the provider's webhook and the admin's payment view."""

from __future__ import annotations

import base64
from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from careforall import signatures
from careforall.api import create_api, ok, require_caller, serve
from careforall.config import load_settings
from careforall.errors import BadRequestError, ForbiddenError, NotFoundError, UnauthorizedError
from careforall.observability import count, logger, metrics, tracer
from careforall.tracing import annotate, correlation
from careforall.secrets import get_secret

from payments_service.dal import DynamoPaymentRepository, StepFunctionsCallbacks
from payments_service.logic import PaymentsService
from payments_service.models import WEBHOOK_STATE, ApiSettings, WebhookEvent

SETTINGS = load_settings(ApiSettings)
app = create_api()
WEBHOOK_ROUTES = frozenset({"/webhooks/payments"})  # the signature is checked before the body is judged


@cache
def payments_service() -> PaymentsService:
    return PaymentsService(DynamoPaymentRepository(SETTINGS.payments_table_name), callbacks=StepFunctionsCallbacks())


class InvalidSignatureError(UnauthorizedError):
    problem = "invalid-signature"


@app.post("/webhooks/payments")
def receive_webhook() -> Response[Any]:
    event = app.current_event
    raw = base64.b64decode(event.body or "") if event.is_base64_encoded else (event.body or "").encode("utf-8")
    try:
        signatures.verify(get_secret(SETTINGS.webhook_secret_id), raw, event.headers.get(signatures.HEADER),
                          tolerance=SETTINGS.webhook_tolerance_seconds)
    except signatures.SignatureError as error:
        logger.warning("webhook refused", extra={"reason": str(error)})
        count(name="WebhookEventsRejected", reason="signature")
        raise InvalidSignatureError("The webhook signature is missing, wrong or too old.") from None
    try:
        webhook = WebhookEvent.model_validate_json(raw)
    except ValidationError as error:  # includes bodies that are not JSON objects: 400, as the contract says
        count(name="WebhookEventsRejected", reason="malformed")
        raise BadRequestError("The webhook body is not a valid payment event.",
                              errors=[{"loc": list(e["loc"]), "type": e["type"], "msg": e["msg"]}
                                      for e in error.errors()]) from None
    try:
        result = payments_service().apply(webhook.data.payment_id, WEBHOOK_STATE[webhook.type], event_id=webhook.id,
                                           provider_ref=webhook.data.provider_ref, reason=webhook.data.reason)
    except NotFoundError:
        count(name="WebhookEventsRejected", reason="unknown_payment")
        raise
    if result.applied:
        metrics.add_metric(name="WebhookEventsApplied", unit="Count", value=1)
    else:
        count(name="WebhookEventsIgnored", reason=result.ignored_because or "duplicate")
    # The donation's correlation id (the payment's), whatever the provider sent as its own.
    with correlation(result.payment.correlation_id or logger.get_correlation_id()):
        annotate(payment_id=result.payment.id, pledge_id=result.payment.pledge_id,
                 correlation_id=result.payment.correlation_id)
        logger.info("webhook", extra={"event_id": webhook.id, "type": webhook.type, "applied": result.applied,
                                      "ignored_because": result.ignored_because,
                                      "payment_id": webhook.data.payment_id, "state": result.payment.state.value})
    return ok({"received": True, "applied": result.applied})


@app.get("/payments/<id>")
def get_payment(id: Annotated[str, Path(min_length=1, max_length=64)]) -> Response[Any]:  # noqa: A002
    if not require_caller(app).is_admin:
        raise ForbiddenError("Only an ADMIN can read payments.")
    service = payments_service()
    return ok(service.view(service.get(id)).model_dump(mode="json"))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return serve(app, event, context, raw_body_routes=WEBHOOK_ROUTES)
