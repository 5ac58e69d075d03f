"""The outbox end to end: every pledge becomes exactly one payment, run by exactly one execution of the payment
state machine named after the payment id, also when the relay crashes after publishing and the stream
redelivers, and when a pledge.created message is delivered again later (CONTRACT.md, invariants 1, 2 and 4;
template.yaml, PledgeRelayFunction and PaymentStarterFunction).

The payments queue is consumed by PaymentStarterFunction, so these tests look at what it made: the state machine's
executions and the payments table, read with boto3; pledges are made over HTTP.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter

import pytest

from tests.integration.conftest import StackClient, run_stack
from tests.integration.helpers import (PAYMENTS_QUEUE, PAYMENTS_TABLE, TERMINAL_PAYMENT_STATES, amount_cents,
                                       assert_json, metric_total, payment_executions,
                                       pledge_created_message, poll, unique_email)

RELAY_INVOCATION = "invoke PledgeRelayFunction source=stream"
STARTER = "PaymentStarterFunction"
CRASH_PLEDGES = 5


def execution_counts(client: StackClient, payment_ids) -> Counter:
    names = Counter(e["name"] for e in payment_executions(client.stack.aws_endpoint))
    return Counter({payment_id: names[payment_id] for payment_id in payment_ids})


def payment_items_by_pledge(client: StackClient, pledge_ids) -> dict[str, list[str]]:
    """pledge id -> the pk of every PAYMENT item of that pledge in the payments table."""
    found: dict[str, list[str]] = {pledge_id: [] for pledge_id in pledge_ids}
    for page in client.aws("dynamodb").get_paginator("scan").paginate(
            TableName=PAYMENTS_TABLE, ConsistentRead=True, FilterExpression="entity = :payment",
            ExpressionAttributeValues={":payment": {"S": "PAYMENT"}}):
        for item in page["Items"]:
            if item["pledge_id"]["S"] in found:
                found[item["pledge_id"]["S"]].append(item["pk"]["S"])
    return found


def starter_messages(log: str) -> tuple[int, int]:
    """(workflows started, workflows already there) as PaymentStarterFunction counted them."""
    return (metric_total(log, STARTER, "PaymentWorkflowsStarted"),
            metric_total(log, STARTER, "PaymentWorkflowsAlreadyRunning"))


def test_create_pledges_each_starts_one_payment_workflow_named_after_its_payment(session_client, campaign, donor):
    client = session_client
    created = [client.create_pledge(campaign["id"], amount="10.00", donor_name="Gia"),
               client.create_pledge(campaign["id"], token=donor["token"], amount=1000000),
               client.create_pledge(campaign["id"], amount="0.01", payment_method="pm_card_chargeDeclined")]
    replay_key, replay_body = str(uuid.uuid4()), {"amount": "7.00", "donor_email": unique_email("replay")}
    for _ in range(3):  # replays of one request make no second pledge, so no second payment
        replayed = client.api.post(f"/campaigns/{campaign['id']}/pledges", json=replay_body,
                                   headers={"Idempotency-Key": replay_key})
    assert replayed.headers.get("Idempotent-Replayed") == "true"
    created.append(assert_json(replayed, 201))
    methods = ["pm_card_visa", "pm_card_visa", "pm_card_chargeDeclined", "pm_card_visa"]

    payment_ids = {p["id"]: client.wait_for_payment_id(p["id"]) for p in created}

    assert execution_counts(client, payment_ids.values()) == Counter({pid: 1 for pid in payment_ids.values()})
    assert payment_items_by_pledge(client, payment_ids) == {
        pledge_id: [f"PAYMENT#{payment_id}"] for pledge_id, payment_id in payment_ids.items()}
    sfn = client.aws("stepfunctions")
    executions = {e["name"]: e for e in payment_executions(client.stack.aws_endpoint)}
    for pledge, method in zip(created, methods):
        described = sfn.describe_execution(executionArn=executions[payment_ids[pledge["id"]]]["executionArn"])
        started_with = json.loads(described["input"])
        correlation_id, trace_header = started_with.pop("correlation_id"), started_with.pop("trace_header")
        assert started_with == {
            "payment_id": payment_ids[pledge["id"]], "pledge_id": pledge["id"], "campaign_id": campaign["id"],
            "amount_cents": amount_cents(pledge["amount"]), "currency": pledge["currency"],
            "payment_method": method, "donor_email": pledge["donor_email"], "pledge_created_at": pledge["created_at"]}
        assert correlation_id and trace_header.startswith("Root=1-")  # the donation's, for logs and X-Ray


def test_redeliver_pledge_created_after_its_workflow_ended_starts_no_second_execution(session_client, campaign):
    client = session_client
    pledge = client.create_pledge(campaign["id"], amount="3.00", payment_method="pm_card_chargeDeclined")
    payment_id = client.wait_for_pledge(pledge["id"], lambda p: p["status"] == "FAILED", timeout=30,
                                        what="the declined pledge failing")["payment"]["id"]
    history = client.payment(payment_id)["history"]

    def ended():
        [execution] = [e for e in payment_executions(client.stack.aws_endpoint) if e["name"] == payment_id]
        return execution if execution["status"] != "RUNNING" else None

    execution = poll(ended, timeout=30, what="the payment's workflow ending")
    started, already = starter_messages(client.log())
    sqs = client.aws("sqs")
    queue_url = sqs.get_queue_url(QueueName=PAYMENTS_QUEUE)["QueueUrl"]
    # A redelivery after SQS's 5-minute deduplication window: the same event, a new deduplication id.
    message = pledge_created_message(pledge, "pm_card_chargeDeclined")
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message),
                     MessageGroupId=pledge["id"], MessageDeduplicationId=f"redelivery-{uuid.uuid4()}")

    poll(lambda: starter_messages(client.log())[1] > already, timeout=20,
         what="the starter reporting the workflow as already there (PaymentWorkflowsAlreadyRunning)")

    assert starter_messages(client.log()) == (started, already + 1)
    assert [e for e in payment_executions(client.stack.aws_endpoint) if e["name"] == payment_id] == [execution]
    assert client.payment(payment_id)["history"] == history
    assert payment_items_by_pledge(client, [pledge["id"]]) == {pledge["id"]: [f"PAYMENT#{payment_id}"]}


# ---------------------------------------------------------------- the relay crashes after every publish

@pytest.fixture(scope="module")
def crashing_relay(tmp_path_factory):
    """A second stack where every PledgeRelayFunction invocation fails after its handler ran (and published)."""
    yield from run_stack(tmp_path_factory, "crashing-relay", {
        "CAREFORALL_CHAOS_FAIL_AFTER": "1",
        "CAREFORALL_CHAOS_FUNCTIONS": "PledgeRelayFunction",
        "CAREFORALL_CHAOS_SEED": "1",
    })


def test_create_pledges_with_relay_crashing_after_publish_starts_one_workflow_per_pledge(crashing_relay):
    client = crashing_relay
    campaign = client.create_campaign(title="Crash test", description="The relay fails after every publish.")
    first = client.create_pledge(campaign["id"], amount="1.00")
    # Once the first pledge's workflow exists, its relay invocation has "crashed" and the stream redelivers the
    # record (with backoff, up to MaximumRetryAttempts), publishing it again each time; the next pledges wait in
    # the stream behind it and then go out together in one batch, which fails and is redelivered (bisected).
    payment_ids = {first["id"]: client.wait_for_payment_id(first["id"])}
    poll(lambda: client.log().count(RELAY_INVOCATION) >= 2, timeout=10, what="a redelivery of the first record")
    others = [client.create_pledge(campaign["id"], amount=f"{n + 2}.00") for n in range(CRASH_PLEDGES - 1)]
    payment_ids.update({p["id"]: client.wait_for_payment_id(p["id"], timeout=45) for p in others})
    # Every republished copy falls inside the FIFO queue's 5-minute deduplication interval (the local
    # emulator keeps it as AWS does), so the queue delivers each pledge.created exactly once.
    for pledge_id in payment_ids:
        client.wait_for_pledge(pledge_id, lambda p: (p.get("payment") or {}).get("state") in TERMINAL_PAYMENT_STATES,
                               timeout=45, what="the payment settling")

    assert execution_counts(client, payment_ids.values()) == Counter({pid: 1 for pid in payment_ids.values()})
    assert payment_items_by_pledge(client, payment_ids) == {
        pledge_id: [f"PAYMENT#{payment_id}"] for pledge_id, payment_id in payment_ids.items()}
    log = client.log()
    invocations = [line for line in log.splitlines() if RELAY_INVOCATION in line]
    assert len(invocations) > CRASH_PLEDGES, f"only {len(invocations)} relay invocations"
    assert all("Chaos.FailAfterHandler" in line for line in invocations), "every relay invocation 'crashed'"
    started, already = starter_messages(log)
    assert (started, already) == (CRASH_PLEDGES, 0), "each pledge.created reaches the payments queue exactly once"
    assert all(p["status"] in ("COMPLETED", "FAILED") for p in (client.pledge(pid) for pid in payment_ids))
