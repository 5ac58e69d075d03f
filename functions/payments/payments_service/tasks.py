"""The payment workflow's Lambda tasks (infra/statemachines/payment.asl.json), one action per step.

Steps that wait (authorize, capture, await_completion) are invoked with .waitForTaskToken: they
park the token on the payment and return; a webhook, reconciliation or this very call resumes
the workflow with SendTaskSuccess/SendTaskFailure.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from careforall.config import load_settings
from careforall.observability import logger, metrics, tracer
from careforall.tracing import annotate

from payments_service.dal import DynamoPaymentRepository, LambdaPaymentProvider, StepFunctionsCallbacks
from payments_service.logic import PaymentsService
from payments_service.models import StartPayment, TaskSettings
from payments_service.transitions import TERMINAL

SETTINGS = load_settings(TaskSettings)


@cache
def payments_service() -> PaymentsService:
    return PaymentsService(DynamoPaymentRepository(SETTINGS.payments_table_name),
                           LambdaPaymentProvider(SETTINGS.provider_function_name), StepFunctionsCallbacks())


def reconcile(service: PaymentsService, payment_id: str) -> dict[str, Any]:
    """A wait for the provider timed out (a lost webhook): ask the provider; count what it could not move."""
    before = service.get(payment_id).state
    after = service.reconcile(payment_id)
    metrics.add_metric(name="PaymentsReconciled", unit="Count", value=1)
    if after == before and after not in TERMINAL:
        metrics.add_metric(name="PaymentsStuck", unit="Count", value=1)
        logger.warning("payment stuck: reconciliation could not move it", extra={"state": after.value})
    return {"state": after.value}


@logger.inject_lambda_context(correlation_id_path="correlation_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    action, service = event["action"], payments_service()
    payment_id = event.get("payment_id") or (event.get("input") or {}).get("payment_id")
    annotate(payment_id=payment_id, correlation_id=event.get("correlation_id"))
    logger.info("payment step", extra={"action": action, "payment_id": payment_id})
    if action == "create":
        payment = service.create(StartPayment.model_validate(event["input"]))
        return {"state": payment.state.value, "payment_id": payment.id}
    if action == "authorize":
        service.authorize(event["payment_id"], event["task_token"])
    elif action == "capture":
        service.capture(event["payment_id"], event["task_token"])
    elif action == "await_completion":
        service.await_completion(event["payment_id"], event["task_token"])
    elif action == "reconcile":
        return reconcile(service, event["payment_id"])
    elif action == "fail":
        metrics.add_metric(name="PaymentsGivenUp", unit="Count", value=1)
        return {"state": service.fail(event["payment_id"], event.get("reason", "the workflow gave up")).value}
    else:
        raise ValueError(f"unknown payment step {action!r}")
    return {"parked": True}
