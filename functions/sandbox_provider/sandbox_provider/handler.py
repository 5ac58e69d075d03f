"""Sandbox provider entry points: the provider API (Lambda Invoke) and the webhook sender (SQS)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from careforall import dynamo, signatures
from careforall.config import load_settings
from careforall.observability import logger, metrics, tracer
from careforall.secrets import get_secret
from careforall.tracing import annotate, correlation, current_trace_header

from sandbox_provider.provider import ProviderPayment, SandboxProvider, WebhookDecision, WebhookPlan
from sandbox_provider.settings import Settings


SETTINGS = load_settings(Settings)


class DynamoPaymentStore:
    def __init__(self, table_name: str) -> None:
        self._table = table_name
        self._client = dynamo.client()

    def put_new(self, payment: ProviderPayment) -> ProviderPayment:
        try:
            self._client.put_item(TableName=self._table, Item=dynamo.to_item(
                {"pk": f"PI#{payment.payment_id}", **payment.__dict__}), ConditionExpression="attribute_not_exists(pk)")
            return payment
        except ClientError as error:
            if not dynamo.is_condition_failure(error):
                raise
        return self.get(payment.payment_id)

    def get(self, payment_id: str) -> ProviderPayment | None:
        item = dynamo.from_item(self._client.get_item(TableName=self._table, ConsistentRead=True,
                                                      Key=dynamo.to_item({"pk": f"PI#{payment_id}"})).get("Item"))
        if not item:
            return None
        item.pop("pk")
        return ProviderPayment(**item)

    def set_status(self, payment_id: str, status: str) -> None:
        self._client.update_item(TableName=self._table, Key=dynamo.to_item({"pk": f"PI#{payment_id}"}),
                                 UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
                                 ExpressionAttributeValues=dynamo.to_values({":s": status}))


class SqsWebhookOutbox:
    def __init__(self, queue_url: str) -> None:
        self._queue_url = queue_url
        self._client = boto3.client("sqs")

    def schedule(self, event: dict, delay_seconds: int) -> None:
        extra, trace_header = {}, current_trace_header()
        if trace_header:  # the webhook's delivery joins the payment's trace
            extra["MessageSystemAttributes"] = {"AWSTraceHeader": {"DataType": "String", "StringValue": trace_header}}
        self._client.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(event), DelaySeconds=delay_seconds,
                                  **extra)


def log_webhook_decision(decision: WebhookDecision) -> None:
    """One line per webhook autopilot had to send: dropped, or its copies (2: duplicated) and their delays."""
    logger.info("webhook planned", extra={
        "event_type": decision.event_type, "payment_id": decision.payment_id, "event_id": decision.event_id,
        "dropped": decision.dropped, "copies": len(decision.delays), "delays": list(decision.delays),
        "extra_delay": decision.extra_delay})


@cache
def sandbox() -> SandboxProvider:
    return SandboxProvider(DynamoPaymentStore(SETTINGS.table_name), SqsWebhookOutbox(SETTINGS.webhook_queue_url),
                           WebhookPlan(autopilot=SETTINGS.autopilot, drop_rate=SETTINGS.drop_rate,
                                       duplicate_rate=SETTINGS.duplicate_rate,
                                       max_delay_seconds=SETTINGS.max_delay_seconds),
                           observer=log_webhook_decision)


@logger.inject_lambda_context(correlation_id_path="metadata.correlation_id")
@tracer.capture_lambda_handler
def provider_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """{"action": "authorize"|"capture"|"status", "payment_id", "amount_cents", "payment_method", "metadata"?}"""
    action = event["action"]
    annotate(payment_id=event.get("payment_id"), correlation_id=logger.get_correlation_id())
    if action == "authorize":
        answer = sandbox().authorize(event["payment_id"], int(event["amount_cents"]), event["payment_method"],
                                     metadata=event.get("metadata"))
    elif action == "capture":
        answer = sandbox().capture(event["payment_id"])
    elif action == "status":
        answer = sandbox().status(event["payment_id"])
    else:
        raise ValueError(f"unknown provider action {action!r}")
    logger.info("provider call", extra={"action": action, "status": answer["status"],
                                        "payment_id": event.get("payment_id")})
    return answer


class WebhookRejected(Exception):
    """The platform did not accept the webhook (yet): the message is retried, as a provider retries."""


processor = BatchProcessor(event_type=EventType.SQS)


def deliver(record: SQSRecord) -> None:
    event = json.loads(record.body)
    correlation_id = ((event.get("data") or {}).get("metadata") or {}).get("correlation_id")
    with correlation(correlation_id):
        send_webhook(event, correlation_id)


def send_webhook(event: dict, correlation_id: str | None) -> None:
    event["created"] = int(time.time())
    body = json.dumps(event, separators=(",", ":")).encode()
    request = urllib.request.Request(SETTINGS.webhook_url, data=body, method="POST", headers={
        "Content-Type": "application/json",
        **({"X-Correlation-Id": correlation_id} if correlation_id else {}),
        # The X-Ray SDK does not patch urllib: the platform's API joins this trace through the header.
        **({"X-Amzn-Trace-Id": trace_header} if (trace_header := current_trace_header()) else {}),
        signatures.HEADER: signatures.sign(get_secret(SETTINGS.webhook_secret_id), body)})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError as error:
        raise WebhookRejected(f"webhook endpoint unreachable: {error}") from error
    if status >= 500 or status in (404, 429):
        raise WebhookRejected(f"webhook answered {status}")  # retried, like a real provider
    if status >= 400:
        logger.error("webhook refused for good", extra={"status": status, "event_id": event["id"]})
    metrics.add_metric(name="SandboxWebhooksDelivered", unit="Count", value=1)
    logger.info("webhook delivered", extra={"event_id": event["id"], "type": event["type"], "status": status})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def sender_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=deliver, processor=processor, context=context)
