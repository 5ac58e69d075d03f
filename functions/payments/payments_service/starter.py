"""Consumes pledge.created from the payments queue and starts one payment workflow per pledge.

The execution is named after the payment id: a Standard workflow runs a name once, so a
redelivered or duplicated message starts nothing new (ExecutionAlreadyExists is success).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from careforall.config import load_settings
from careforall.observability import logger, metrics, tracer
from careforall.tracing import correlation, joined_trace

from payments_service.dal import StepFunctionsStarter
from payments_service.logic import payment_id_for
from payments_service.models import StarterSettings, StartPayment

SETTINGS = load_settings(StarterSettings)
# Every pledge is its own message group: a message that fails holds back only its own group. With the default
# (stop at the first failure) valid messages batched behind a poison one failed with it until all reached the DLQ.
processor = SqsFifoPartialProcessor(skip_group_on_error=True)


@cache
def starter() -> StepFunctionsStarter:
    return StepFunctionsStarter(SETTINGS.state_machine_arn)


def start_payment(record: SQSRecord) -> None:
    event = json.loads(record.body)
    if event.get("type") != "pledge.created":
        logger.warning("ignoring unexpected event", extra={"type": event.get("type")})
        return
    data, correlation_id = event["data"], event.get("correlation_id")
    # A batch's invocation joins its first message's trace only: each message continues its own.
    with correlation(correlation_id), \
            joined_trace(record.attributes.aws_trace_header, pledge_id=data["pledge_id"],
                         payment_id=payment_id_for(data["pledge_id"]), correlation_id=correlation_id) as trace_header:
        start = StartPayment(payment_id=payment_id_for(data["pledge_id"]), pledge_id=data["pledge_id"],
                             campaign_id=data["campaign_id"], amount_cents=int(data["amount_cents"]),
                             currency=data["currency"], payment_method=data["payment_method"],
                             donor_email=data.get("donor_email"), pledge_created_at=data.get("created_at"),
                             correlation_id=correlation_id, trace_header=trace_header)
        started = starter().start(start.payment_id, start.model_dump(mode="json"), trace_header)
        metrics.add_metric(name="PaymentWorkflowsStarted" if started else "PaymentWorkflowsAlreadyRunning",
                           unit="Count", value=1)
        logger.info("payment workflow started" if started else "payment workflow already running",
                    extra={"pledge_id": start.pledge_id, "payment_id": start.payment_id})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=start_payment, processor=processor, context=context)
