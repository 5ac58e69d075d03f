"""Payments data access, the provider adapter and Step Functions callbacks.

Payments table, key `pk`:
  PAYMENT#<id>   the payment, with `version` for optimistic concurrency and its `history`
  EVENT#<id>     a provider event (or workflow decision) that was applied: written in the same
                 transaction as the state change it caused, so a repeat can never apply twice
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.exceptions import ClientError

from careforall import contention, dynamo
from careforall.clock import now_iso
from careforall.observability import logger

from payments_service.logic import SaveOutcome
from payments_service.models import Payment, ProviderAnswer


def _item(payment: Payment) -> dict[str, Any]:
    return dynamo.to_item({**payment.model_dump(mode="json", by_alias=True, exclude_none=True),
                           "pk": f"PAYMENT#{payment.id}", "entity": "PAYMENT"})


def _payment(item: dict[str, Any] | None) -> Payment | None:
    if not item:
        return None
    return Payment.model_validate({k: v for k, v in item.items() if k not in ("pk", "entity")})


class DynamoPaymentRepository:
    def __init__(self, table_name: str, client=None) -> None:
        self._table = table_name
        self._client = client or dynamo.client()

    def create(self, payment: Payment) -> Payment:
        try:
            self._client.put_item(TableName=self._table, Item=_item(payment),
                                  ConditionExpression="attribute_not_exists(pk)")
            return payment
        except ClientError as error:
            if not dynamo.is_condition_failure(error):
                raise
        return self.get(payment.id)

    def get(self, payment_id: str) -> Payment | None:
        return _payment(dynamo.from_item(self._client.get_item(
            TableName=self._table, Key=dynamo.to_item({"pk": f"PAYMENT#{payment_id}"}),
            ConsistentRead=True).get("Item")))

    def save(self, payment: Payment, expected_version: int, event_id: str | None) -> SaveOutcome:
        put_payment = {"Put": {
            "TableName": self._table, "Item": _item(payment),
            "ConditionExpression": "#version = :expected",
            "ExpressionAttributeNames": {"#version": "version"},
            "ExpressionAttributeValues": dynamo.to_values({":expected": expected_version})}}
        if event_id is None:
            try:
                self._client.put_item(**put_payment["Put"])
                return SaveOutcome.SAVED
            except ClientError as error:
                if dynamo.is_condition_failure(error):
                    return SaveOutcome.STALE
                raise
        put_event = {"Put": {
            "TableName": self._table,
            "Item": dynamo.to_item({"pk": f"EVENT#{event_id}", "entity": "EVENT", "event_id": event_id,
                                    "payment_id": payment.id, "state": payment.state.value,
                                    "received_at": now_iso()}),
            "ConditionExpression": "attribute_not_exists(pk)"}}
        try:
            self._client.transact_write_items(TransactItems=[put_event, put_payment])
            return SaveOutcome.SAVED
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            codes = contention.cancellation_codes(error)
            if codes and codes[0] == "ConditionalCheckFailed":
                return SaveOutcome.DUPLICATE_EVENT
            if "ConditionalCheckFailed" in codes or "TransactionConflict" in codes:
                return SaveOutcome.STALE
            raise


class LambdaPaymentProvider:
    """The sandbox provider, reached through Lambda Invoke (its own function, its own table)."""

    def __init__(self, function_name: str, client=None) -> None:
        self._function = function_name
        self._client = client or boto3.client("lambda")

    def _call(self, action: str, payment: Payment) -> ProviderAnswer:
        request = {"action": action, "payment_id": payment.id, "provider_ref": payment.provider_ref,
                   "amount_cents": payment.amount_cents, "currency": payment.currency,
                   "payment_method": payment.payment_method, "idempotency_key": f"{payment.id}:{action}",
                   # As a real provider's metadata: echoed in its webhooks, so they name the donation too.
                   "metadata": {"correlation_id": payment.correlation_id} if payment.correlation_id else {}}
        response = self._client.invoke(FunctionName=self._function, Payload=json.dumps(request).encode())
        body = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            raise RuntimeError(f"payment provider failed on {action}: {body}")
        return ProviderAnswer.model_validate(body)

    def authorize(self, payment: Payment) -> ProviderAnswer:
        return self._call("authorize", payment)

    def capture(self, payment: Payment) -> ProviderAnswer:
        return self._call("capture", payment)

    def status(self, payment: Payment) -> ProviderAnswer:
        return self._call("status", payment)


class StepFunctionsCallbacks:
    def __init__(self, client=None) -> None:
        self._client = client or boto3.client("stepfunctions")

    def succeed(self, token: str, output: dict) -> None:
        try:
            self._client.send_task_success(taskToken=token, output=json.dumps(output))
        except ClientError as error:  # the step already moved on (timeout, or resumed by another path)
            logger.info("task token no longer waiting", extra={"error": error.response["Error"]["Code"]})

    def fail(self, token: str, error: str, cause: str) -> None:
        try:
            self._client.send_task_failure(taskToken=token, error=error, cause=cause[:256])
        except ClientError as failure:
            logger.info("task token no longer waiting", extra={"error": failure.response["Error"]["Code"]})


class StepFunctionsStarter:
    def __init__(self, state_machine_arn: str, client=None) -> None:
        self._arn = state_machine_arn
        self._client = client or boto3.client("stepfunctions")

    def start(self, name: str, payload: dict, trace_header: str | None = None) -> bool:
        """Start the execution named `name`; False when it already exists (a redelivered message)."""
        extra = {"traceHeader": trace_header} if trace_header else {}  # the workflow joins the caller's trace
        try:
            self._client.start_execution(stateMachineArn=self._arn, name=name, input=json.dumps(payload), **extra)
            return True
        except ClientError as error:
            if error.response["Error"]["Code"] == "ExecutionAlreadyExists":
                return False
            raise


class DynamoPledgeProjection:
    """Writes the payment's state onto its pledge (status and the `payment` view), newest version wins."""

    def __init__(self, table_name: str, client=None) -> None:
        self._table = table_name
        self._client = client or dynamo.client()

    def project(self, pledge_id: str, campaign_id: str, status: str, view: dict, version: int) -> bool:
        # campaign_status ("<campaign_id>#<status>") keys the pledges table's by_campaign_status index
        # (functions/pledges/pledges_service/dal.py): it moves with the status, in the same write.
        try:
            self._client.update_item(
                TableName=self._table, Key=dynamo.to_item({"pk": f"PLEDGE#{pledge_id}"}),
                UpdateExpression="SET #status = :status, campaign_status = :campaign_status, payment = :payment, "
                                 "payment_version = :version, updated_at = :now",
                ConditionExpression="attribute_exists(pk) AND "
                                    "(attribute_not_exists(payment_version) OR payment_version < :version)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=dynamo.to_values({":status": status,
                                                            ":campaign_status": f"{campaign_id}#{status}",
                                                            ":payment": view, ":version": version,
                                                            ":now": now_iso()}))
            return True
        except ClientError as error:
            if dynamo.is_condition_failure(error):
                return False  # an older or repeated record: the pledge already shows something newer
            raise
