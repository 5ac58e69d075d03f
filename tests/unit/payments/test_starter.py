"""The payment starter over moto: pledge.created from the payments FIFO queue -> one workflow execution per pledge."""

from __future__ import annotations

import copy
import json
import uuid

import boto3
import pytest

from payments_service.logic import payment_id_for

PLEDGE_ID = "3d6a1f52-9c4e-5b7a-8e21-4f0c9b7d2a61"


@pytest.fixture
def sfn():
    return boto3.client("stepfunctions", region_name="us-east-1")


def _point_starter_at(payments_stack, monkeypatch, arn: str) -> None:
    from careforall.config import load_settings

    monkeypatch.setenv("PAYMENT_STATE_MACHINE_ARN", arn)
    monkeypatch.setattr(payments_stack.starter, "SETTINGS", load_settings(type(payments_stack.starter.SETTINGS)))
    payments_stack.starter.starter.cache_clear()


@pytest.fixture
def machine_arn(payments_stack, sfn, monkeypatch) -> str:
    """A trivial state machine in moto, PAYMENT_STATE_MACHINE_ARN pointed at it (moto runs no definition anyway)."""
    arn = sfn.create_state_machine(
        name="payment-starter-test", roleArn="arn:aws:iam::123456789012:role/payment-starter-test",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}))["stateMachineArn"]
    _point_starter_at(payments_stack, monkeypatch, arn)
    return arn


def _message(pledge_id: str = PLEDGE_ID, event_type: str = "pledge.created", **data) -> dict:
    body = {"type": event_type, "version": 1, "id": f"{event_type}:{pledge_id}",
            "occurred_at": "2025-04-09T12:34:57.012Z", "correlation_id": "req-7f3a",
            "data": {"pledge_id": pledge_id, "campaign_id": "0b6f2f3e-8d1c-4c55-9a0e-6f2b8a7c9d10", "donor_id": None,
                     "donor_email": "guest.donor@example.com", "amount": "25.00", "amount_cents": 2500,
                     "currency": "USD", "payment_method": "pm_card_visa", "created_at": "2025-04-09T12:34:56.789Z",
                     **data}}
    return body


def _batch(payments_stack, *bodies: dict) -> dict:
    template = payments_stack.stack.event("payment_starter_sqs")["Records"][0]
    records = []
    for body in bodies:
        record = copy.deepcopy(template)
        record["messageId"] = str(uuid.uuid4())
        record["body"] = json.dumps(body)
        record["attributes"]["MessageGroupId"] = record["attributes"]["MessageDeduplicationId"] = \
            body["data"]["pledge_id"]
        records.append(record)
    return {"Records": records}


def _start(payments_stack, *bodies: dict) -> dict:
    return payments_stack.starter.lambda_handler(_batch(payments_stack, *bodies), payments_stack.stack.context)


def _executions(sfn, arn) -> list[dict]:
    return sfn.list_executions(stateMachineArn=arn)["executions"]


def test_start_pledge_created_starts_execution_named_after_payment_id(payments_stack, sfn, machine_arn):
    response = _start(payments_stack, _message())

    assert response == {"batchItemFailures": []}
    assert [e["name"] for e in _executions(sfn, machine_arn)] == [payment_id_for(PLEDGE_ID)]


def test_start_execution_input_is_start_payment(payments_stack, sfn, machine_arn):
    _start(payments_stack, _message())

    (execution,) = _executions(sfn, machine_arn)
    payload = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert payload == {"payment_id": payment_id_for(PLEDGE_ID), "pledge_id": PLEDGE_ID,
                       "campaign_id": "0b6f2f3e-8d1c-4c55-9a0e-6f2b8a7c9d10", "amount_cents": 2500, "currency": "USD",
                       "payment_method": "pm_card_visa", "donor_email": "guest.donor@example.com",
                       "pledge_created_at": "2025-04-09T12:34:56.789Z", "correlation_id": "req-7f3a",
                       "trace_header": None}


def test_start_same_message_twice_starts_nothing_new_and_is_not_a_failure(payments_stack, sfn, machine_arn):
    _start(payments_stack, _message())

    response = _start(payments_stack, _message())

    assert response == {"batchItemFailures": []}
    assert len(_executions(sfn, machine_arn)) == 1


def test_start_redelivery_after_execution_finished_is_not_a_failure(payments_stack, sfn, machine_arn):
    """A closed execution makes Step Functions answer ExecutionAlreadyExists: that is success here."""
    _start(payments_stack, _message())
    (execution,) = _executions(sfn, machine_arn)
    sfn.stop_execution(executionArn=execution["executionArn"])

    response = _start(payments_stack, _message())

    assert response == {"batchItemFailures": []}
    assert len(_executions(sfn, machine_arn)) == 1


def test_start_same_pledge_with_different_body_starts_nothing_new(payments_stack, sfn, machine_arn):
    _start(payments_stack, _message())

    response = _start(payments_stack, _message(donor_email="changed@example.com"))

    assert response == {"batchItemFailures": []}
    assert len(_executions(sfn, machine_arn)) == 1


def test_start_two_pledges_start_two_executions(payments_stack, sfn, machine_arn):
    other = "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"

    _start(payments_stack, _message(), _message(other))

    assert sorted(e["name"] for e in _executions(sfn, machine_arn)) == sorted(
        [payment_id_for(PLEDGE_ID), payment_id_for(other)])


def test_start_malformed_message_first_in_batch_fails_only_itself(payments_stack, sfn, machine_arn):
    # GIVEN a poison pledge.created (no campaign, no amount) batched ahead of two valid ones, each its own group
    poison = {"type": "pledge.created", "version": 1, "id": "pledge.created:poison", "data": {"pledge_id": "poison"}}
    other = "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
    event = _batch(payments_stack, poison, _message(), _message(other))

    # WHEN the starter handles the batch
    response = payments_stack.starter.lambda_handler(event, payments_stack.stack.context)

    # THEN only the poison is retried (and will reach the DLQ alone); both valid pledges start their payment
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert sorted(e["name"] for e in _executions(sfn, machine_arn)) == sorted(
        [payment_id_for(PLEDGE_ID), payment_id_for(other)])


def test_start_other_event_type_is_ignored(payments_stack, sfn, machine_arn):
    response = _start(payments_stack, _message(event_type="pledge.updated"))

    assert response == {"batchItemFailures": []}
    assert _executions(sfn, machine_arn) == []


def test_start_unknown_state_machine_fails_the_batch_for_retry(payments_stack, sfn, machine_arn, monkeypatch):
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    _point_starter_at(payments_stack, monkeypatch, machine_arn + "-missing")

    with pytest.raises(BatchProcessingError):
        _start(payments_stack, _message())


def test_start_template_state_machine_from_environment(payments_stack, sfn):
    """Without the override the starter uses PAYMENT_STATE_MACHINE_ARN, the template's PaymentStateMachine."""
    arn = payments_stack.stack.environment["PAYMENT_STATE_MACHINE_ARN"]

    _start(payments_stack, _message())

    assert [e["name"] for e in _executions(sfn, arn)] == [payment_id_for(PLEDGE_ID)]


def test_start_sample_event_starts_its_pledge_payment(payments_stack, sfn, machine_arn):
    event = payments_stack.stack.event("payment_starter_sqs")

    assert payments_stack.starter.lambda_handler(event, payments_stack.stack.context) == {"batchItemFailures": []}
    assert [e["name"] for e in _executions(sfn, machine_arn)] == [
        payment_id_for(json.loads(event["Records"][0]["body"])["data"]["pledge_id"])]
