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

from payments_service.dal import DynamoPaymentRepository, LambdaPaymentProvider, StepFunctionsCallbacks
from payments_service.logic import PaymentsService
from payments_service.models import StartPayment, TaskSettings

SETTINGS = load_settings(TaskSettings)


@cache
def payments_service() -> PaymentsService:
    return PaymentsService(DynamoPaymentRepository(SETTINGS.payments_table_name),
                           LambdaPaymentProvider(SETTINGS.provider_function_name), StepFunctionsCallbacks())


@logger.inject_lambda_context(correlation_id_path="payment_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    action, service = event["action"], payments_service()
    logger.info("payment step", extra={"action": action})
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
        return {"state": service.reconcile(event["payment_id"]).value}
    elif action == "fail":
        return {"state": service.fail(event["payment_id"], event.get("reason", "the workflow gave up")).value}
    else:
        raise ValueError(f"unknown payment step {action!r}")
    return {"parked": True}
