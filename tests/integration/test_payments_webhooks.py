"""The provider's webhook, POST /webhooks/payments, against a stack whose sandbox provider sends none by itself
(CONTRACT.md, "Payments"; invariant 2): signatures are checked, each event id is applied at most once, states only
move forward whatever the order and concurrency of the webhooks, and the pledge follows its payment.

The stack runs with CAREFORALL_PROVIDER_AUTOPILOT=0 and waits of 120 s (reconciliation 60 s apart), so each payment's
workflow sits in its first wait, for the tests' webhooks only, while the module runs.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.conftest import StackClient, run_stack
from tests.integration.helpers import (PAYMENTS_QUEUE, PAYMENTS_TABLE, assert_forward_history, assert_json,
                                       assert_problem, metric_total, payment_executions, pledge_created_message,
                                       poll, post_webhook, webhook_event, webhook_signature)

STEP_TIMEOUT_SECONDS = 120
PROJECTION_SECONDS = 15  # a payment's change reaches its pledge (payments stream -> projector) well within this


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    yield from run_stack(tmp_path_factory, "webhooks", {
        "CAREFORALL_PROVIDER_AUTOPILOT": "0",
        "CAREFORALL_PARAMETER_OVERRIDES": f"PaymentStepTimeoutSeconds={STEP_TIMEOUT_SECONDS} "
                                          "ReconcileIntervalSeconds=60"})


@pytest.fixture(scope="module")
def campaign_id(client) -> str:
    return client.create_campaign()["id"]


def new_payment(client: StackClient, campaign_id: str) -> dict:
    """A pledge whose workflow created its payment and waits for the provider: {pledge, id, provider_ref}."""
    pledge = client.create_pledge(campaign_id, amount="25.00")
    shown = client.wait_for_pledge(pledge["id"], lambda p: (p.get("payment") or {}).get("provider_ref"),
                                   timeout=30, what="the payment, authorized at the provider")
    assert shown["payment"]["state"] == "PENDING" and shown["status"] == "PENDING"
    return {"pledge": shown, "id": shown["payment"]["id"], "provider_ref": shown["payment"]["provider_ref"]}


@pytest.fixture
def payment(client, campaign_id) -> dict:
    return new_payment(client, campaign_id)


@pytest.fixture(scope="module")
def idle_payment(client, campaign_id) -> dict:
    """A payment that only refused webhooks may touch: it stays PENDING with no history."""
    return new_payment(client, campaign_id)


def send(client: StackClient, payment: dict, kind: str, **kwargs):
    """Signs and POSTs one event for `payment`; returns (event, response)."""
    event = webhook_event(payment["id"], kind, provider_ref=payment["provider_ref"], **kwargs)
    return event, post_webhook(client.stack.base_url, event)


def applied(response) -> bool:
    body = assert_json(response, 200)
    assert body["received"] is True and isinstance(body["applied"], bool), body
    return body["applied"]


def assert_untouched(client: StackClient, payment: dict) -> None:
    current = client.payment(payment["id"])
    assert current["state"] == "PENDING" and current["history"] == [], current


# ---------------------------------------------------------------- refused webhooks

def test_post_webhook_signed_with_wrong_secret_returns_401(client, idle_payment):
    body = json.dumps(webhook_event(idle_payment["id"], "completed")).encode()

    response = post_webhook(client.stack.base_url, raw=body, signature=webhook_signature(body, secret="whsec_wrong"))

    assert_problem(response, 401)
    assert_untouched(client, idle_payment)


def test_post_webhook_with_body_changed_after_signing_returns_401(client, idle_payment):
    signed = json.dumps(webhook_event(idle_payment["id"], "authorized")).encode()
    tampered = signed.replace(b"payment.authorized", b"payment.completed")

    response = post_webhook(client.stack.base_url, raw=tampered, signature=webhook_signature(signed))

    assert_problem(response, 401)
    assert_untouched(client, idle_payment)


def test_post_webhook_without_signature_header_returns_401(client, idle_payment):
    response = post_webhook(client.stack.base_url, webhook_event(idle_payment["id"], "completed"), signature=None)

    assert_problem(response, 401)
    assert_untouched(client, idle_payment)


def test_post_webhook_signed_400_seconds_ago_returns_401(client, idle_payment):
    response = post_webhook(client.stack.base_url, webhook_event(idle_payment["id"], "completed"),
                            timestamp=int(time.time()) - 400)

    assert_problem(response, 401)
    assert_untouched(client, idle_payment)


@pytest.mark.parametrize("raw", [
    b"{not json",
    b'{"id": "evt_1", "type": "payment.refunded", "created": 1, "data": {"payment_id": "p"}}',
    b'{"id": "evt_1", "type": "payment.completed", "created": 1}',
    b'{"id": "not-an-event-id", "type": "payment.completed", "created": 1, "data": {"payment_id": "p"}}',
], ids=["not-json", "unknown-type", "no-data", "bad-event-id"])
def test_post_webhook_signed_but_malformed_returns_400(client, idle_payment, raw):
    response = post_webhook(client.stack.base_url, raw=raw)

    assert_problem(response, 400)
    assert_untouched(client, idle_payment)


def test_post_webhook_for_unknown_payment_returns_404(client):
    response = post_webhook(client.stack.base_url, webhook_event(str(uuid.uuid4()), "authorized"))

    assert_problem(response, 404)


# ---------------------------------------------------------------- applied at most once, forward only

def test_post_webhook_sent_five_times_is_applied_once(client, payment):
    event = webhook_event(payment["id"], "authorized", provider_ref=payment["provider_ref"])
    start = threading.Barrier(5)

    def deliver(_):
        start.wait()
        return post_webhook(client.stack.base_url, event)

    with ThreadPoolExecutor(5) as pool:
        results = [applied(response) for response in pool.map(deliver, range(5))]

    assert sorted(results) == [False, False, False, False, True]
    assert applied(post_webhook(client.stack.base_url, event)) is False  # and once more, afterwards
    current = client.payment(payment["id"])
    assert current["state"] == "AUTHORIZED"
    assert [(e["from"], e["to"], e["event_id"]) for e in current["history"]] == [
        ("PENDING", "AUTHORIZED", event["id"])]


def test_post_webhooks_in_order_moves_payment_through_every_state_and_completes_pledge(client, payment):
    events = [send(client, payment, kind) for kind in ("authorized", "captured", "completed")]

    assert [applied(response) for _, response in events] == [True, True, True]
    current = client.payment(payment["id"])
    assert current["state"] == "COMPLETED"
    assert [(e["from"], e["to"], e["event_id"]) for e in current["history"]] == [
        ("PENDING", "AUTHORIZED", events[0][0]["id"]), ("AUTHORIZED", "CAPTURED", events[1][0]["id"]),
        ("CAPTURED", "COMPLETED", events[2][0]["id"])]
    pledge = client.wait_for_pledge(payment["pledge"]["id"], lambda p: p["status"] == "COMPLETED",
                                    timeout=PROJECTION_SECONDS, what="the pledge completing")
    assert pledge["payment"]["state"] == "COMPLETED"


def test_post_webhook_captured_before_authorized_ends_captured_and_ignores_late_authorized(client, payment):
    captured, first = send(client, payment, "captured")
    _, late = send(client, payment, "authorized")

    assert applied(first) is True
    assert applied(late) is False
    current = client.payment(payment["id"])
    assert current["state"] == "CAPTURED"
    assert [(e["from"], e["to"], e["event_id"]) for e in current["history"]] == [
        ("PENDING", "CAPTURED", captured["id"])]
    pledge = client.wait_for_pledge(payment["pledge"]["id"], lambda p: p["payment"]["state"] == "CAPTURED",
                                    timeout=PROJECTION_SECONDS, what="the pledge showing the capture")
    assert pledge["status"] == "PENDING"


def test_post_webhooks_after_completed_change_nothing(client, payment):
    completed, first = send(client, payment, "completed")
    assert applied(first) is True

    later = [send(client, payment, kind, **extra)[1] for kind, extra in
             (("failed", {"reason": "card_declined"}), ("authorized", {}), ("captured", {}), ("completed", {}))]

    assert [applied(response) for response in later] == [False, False, False, False]
    current = client.payment(payment["id"])
    assert current["state"] == "COMPLETED" and current["failure_reason"] is None
    assert [(e["from"], e["to"], e["event_id"]) for e in current["history"]] == [
        ("PENDING", "COMPLETED", completed["id"])]
    pledge = client.wait_for_pledge(payment["pledge"]["id"], lambda p: p["status"] == "COMPLETED",
                                    timeout=PROJECTION_SECONDS, what="the pledge completing")
    assert pledge["payment"]["state"] == "COMPLETED"


def test_post_webhook_failed_after_captured_ends_failed_and_fails_pledge(client, payment):
    _, captured = send(client, payment, "captured")
    failed, response = send(client, payment, "failed", reason="capture_reversed")

    assert applied(captured) is True and applied(response) is True
    current = client.payment(payment["id"])
    assert current["state"] == "FAILED" and current["failure_reason"] == "capture_reversed"
    assert [(e["from"], e["to"]) for e in current["history"]] == [("PENDING", "CAPTURED"), ("CAPTURED", "FAILED")]
    assert current["history"][-1]["event_id"] == failed["id"]
    assert applied(send(client, payment, "completed")[1]) is False  # FAILED is terminal too
    pledge = client.wait_for_pledge(payment["pledge"]["id"], lambda p: p["status"] == "FAILED",
                                    timeout=PROJECTION_SECONDS, what="the pledge failing")
    assert pledge["payment"]["state"] == "FAILED"


def test_post_ten_webhooks_concurrently_for_one_payment_loses_no_update(client, payment):
    kinds = ["authorized", "captured", "completed", "authorized", "captured",
             "completed", "authorized", "captured", "authorized", "captured"]
    events = [webhook_event(payment["id"], kind, provider_ref=payment["provider_ref"]) for kind in kinds]
    start = threading.Barrier(len(events))

    def deliver(event):
        start.wait()
        return event["id"], post_webhook(client.stack.base_url, event)

    with ThreadPoolExecutor(len(events)) as pool:
        outcomes = {event_id: applied(response) for event_id, response in pool.map(deliver, events)}

    applied_ids = {event_id for event_id, was_applied in outcomes.items() if was_applied}
    current = client.payment(payment["id"])
    assert current["state"] == "COMPLETED"
    assert_forward_history(current["history"])  # strictly forward, each event id once
    assert sorted(e["event_id"] for e in current["history"]) == sorted(applied_ids)
    dynamodb = client.aws("dynamodb")
    for event_id, was_applied in outcomes.items():  # an applied event is recorded with its change, and only then
        item = dynamodb.get_item(TableName=PAYMENTS_TABLE, Key={"pk": {"S": f"EVENT#{event_id}"}},
                                 ConsistentRead=True).get("Item")
        assert (item is not None) is was_applied, (event_id, was_applied, item)
    pledge = client.wait_for_pledge(payment["pledge"]["id"], lambda p: p["status"] == "COMPLETED",
                                    timeout=PROJECTION_SECONDS, what="the pledge completing")
    assert pledge["payment"]["state"] == "COMPLETED"


# ---------------------------------------------------------------- a redelivered pledge.created

def test_redeliver_pledge_created_while_workflow_waits_starts_no_second_execution(client, payment):
    """Step Functions answers a start with the same name and input as a RUNNING execution with that execution
    (no error, nothing new); the execution name deduplicates either way."""
    pledge = payment["pledge"]
    [execution] = [e for e in payment_executions(client.stack.aws_endpoint) if e["name"] == payment["id"]]
    assert execution["status"] == "RUNNING"

    def starter_messages() -> int:
        log = client.log()
        return (metric_total(log, "PaymentStarterFunction", "PaymentWorkflowsStarted")
                + metric_total(log, "PaymentStarterFunction", "PaymentWorkflowsAlreadyRunning"))

    before = starter_messages()
    sqs = client.aws("sqs")
    queue_url = sqs.get_queue_url(QueueName=PAYMENTS_QUEUE)["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(pledge_created_message(pledge, "pm_card_visa")),
                     MessageGroupId=pledge["id"], MessageDeduplicationId=f"redelivery-{uuid.uuid4()}")

    poll(lambda: starter_messages() > before, timeout=20, what="the starter consuming the copy")
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    assert attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}, \
        "the copy was handled (deleted), not failed"
    same = [e for e in payment_executions(client.stack.aws_endpoint) if e["name"] == payment["id"]]
    assert same == [execution]
    assert client.payment(payment["id"])["history"] == []
