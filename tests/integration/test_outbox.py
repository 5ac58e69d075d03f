"""The outbox: every pledge reaches the FIFO payments queue as exactly one pledge.created message, also when the
relay crashes after publishing and the stream redelivers its records (CONTRACT.md, invariant 1; template.yaml,
PledgeRelayFunction). Pledges are made over HTTP; boto3 only reads the queue, which nothing consumes yet.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter

import pytest

from tests.integration.conftest import Api
from tests.integration.helpers import assert_json, aws_client, poll, unique_email
from tests.integration.stack import start_stack

PAYMENTS_QUEUE = "careforall-PaymentsQueue.fifo"
RELAY_INVOCATION = "invoke PledgeRelayFunction source=stream"
CRASH_PLEDGES = 5


class PaymentsQueueReader:
    """Reads the pledge.created messages of the pledges a test made, counting distinct messages per pledge.

    What it reads stays in the queue, in flight, until `finish`: SQS deduplicates a FIFO send against the
    5-minute interval whether or not the first message was consumed, but moto only against messages still in
    the queue, so deleting them while the relay may still republish would let a repeat in locally. Messages of
    other tests are held in flight while it reads and made visible again by `finish`.
    """

    def __init__(self, endpoint: str) -> None:
        self.sqs = aws_client(endpoint, "sqs")
        self.url = self.sqs.get_queue_url(QueueName=PAYMENTS_QUEUE)["QueueUrl"]
        self.messages: dict[str, dict] = {}  # ours, by MessageId: {"group", "body", "handle"}
        self._others: list[str] = []

    def receive_once(self, wanted: set[str]) -> int:
        """One long poll (1 s); keeps the messages of `wanted` pledge ids. Returns how many new ones it got."""
        response = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                            VisibilityTimeout=300, MessageSystemAttributeNames=["All"])
        new = 0
        for message in response.get("Messages", []):
            body = json.loads(message["Body"])
            if body.get("data", {}).get("pledge_id") not in wanted:
                self._others.append(message["ReceiptHandle"])
            elif message["MessageId"] not in self.messages:
                self.messages[message["MessageId"]] = {"group": message["Attributes"]["MessageGroupId"],
                                                       "body": body, "handle": message["ReceiptHandle"]}
                new += 1
        return new

    def counts(self) -> Counter:
        return Counter(m["body"]["data"]["pledge_id"] for m in self.messages.values())

    def drain(self, wanted: set[str], *, quiet_seconds: float, timeout: float) -> Counter:
        """Reads until every wanted pledge id arrived and then no new message for `quiet_seconds`; ids → count."""
        deadline = time.monotonic() + timeout
        last_new = time.monotonic()
        while True:
            if self.receive_once(wanted):
                last_new = time.monotonic()
            counts = self.counts()
            if set(counts) >= wanted and time.monotonic() - last_new >= quiet_seconds:
                return counts
            if time.monotonic() > deadline:
                raise AssertionError(f"the payments queue did not settle within {timeout} s: got {dict(counts)}, "
                                     f"missing {sorted(wanted - set(counts))}")

    def finish(self, delete_own: bool) -> None:
        for handle in self._others:
            self.sqs.change_message_visibility(QueueUrl=self.url, ReceiptHandle=handle, VisibilityTimeout=0)
        self._others.clear()
        if delete_own:
            for message in self.messages.values():
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["handle"])


def pledge(api: Api, campaign_id: str, token: str | None = None, **body) -> dict:
    body = {"amount": "25.00", **({} if token else {"donor_email": unique_email("outbox")}), **body}
    response = api.post(f"/campaigns/{campaign_id}/pledges", token=token, json=body,
                        headers={"Idempotency-Key": str(uuid.uuid4())})
    return assert_json(response, 201)


def test_create_pledges_each_reaches_payments_queue_as_one_pledge_created_message(api, stack, campaign, donor):
    created = [pledge(api, campaign["id"], amount="10.00", donor_name="Gia"),
               pledge(api, campaign["id"], token=donor["token"], amount=1000000),
               pledge(api, campaign["id"], amount="0.01", payment_method="pm_card_chargeDeclined")]
    replay_key, replay_body = str(uuid.uuid4()), {"amount": "7.00", "donor_email": unique_email("replay")}
    for _ in range(3):  # replays of one request make no second pledge, so no second message
        replayed = api.post(f"/campaigns/{campaign['id']}/pledges", json=replay_body,
                            headers={"Idempotency-Key": replay_key})
    assert replayed.headers.get("Idempotent-Replayed") == "true"
    created.append(assert_json(replayed, 201))
    by_id = {p["id"]: p for p in created}
    reader = PaymentsQueueReader(stack.aws_endpoint)

    try:
        counts = reader.drain(set(by_id), quiet_seconds=1.5, timeout=30)
    finally:
        reader.finish(delete_own=True)  # no chaos here: nothing republishes them

    assert counts == Counter({pledge_id: 1 for pledge_id in by_id})
    for message in reader.messages.values():
        body, expected = message["body"], by_id[message["body"]["data"]["pledge_id"]]
        assert message["group"] == expected["id"]
        assert body["type"] == "pledge.created"
        assert body["id"] == f"pledge.created:{expected['id']}"
        assert body["data"]["amount"] == expected["amount"]
        assert body["data"]["campaign_id"] == campaign["id"]
        assert body["data"]["currency"] == expected["currency"]
        assert body["data"]["donor_email"] == expected["donor_email"]
        assert body["data"]["donor_id"] == expected["donor_id"]
    assert {m["body"]["data"]["payment_method"] for m in reader.messages.values()} == {"pm_card_visa",
                                                                              "pm_card_chargeDeclined"}


# ---------------------------------------------------------------- the relay crashes after every publish

@pytest.fixture(scope="module")
def crashing_relay_stack(tmp_path_factory):
    """A second stack where every PledgeRelayFunction invocation fails after its handler ran (and published)."""
    log_dir = tmp_path_factory.mktemp("crashing-relay")
    running = start_stack(log_dir, {
        "CAREFORALL_CHAOS_FAIL_AFTER": "1",
        "CAREFORALL_CHAOS_FUNCTIONS": "PledgeRelayFunction",
        "CAREFORALL_CHAOS_SEED": "1",
        "CAREFORALL_STATE_DIR": str(log_dir / "state"),  # its own stream checkpoints
    })
    yield running
    code = running.stop()
    assert code == 0, f"the crashing-relay stack did not stop cleanly ({code}):\n{running.log()[-3000:]}"


def test_create_pledges_with_relay_crashing_after_publish_queues_each_pledge_exactly_once(crashing_relay_stack):
    stack = crashing_relay_stack
    api = Api(stack.base_url)
    admin = assert_json(api.post("/auth/login", json={"email": stack.admin_email,
                                                      "password": stack.admin_password}), 200)["token"]
    campaign = assert_json(api.post("/campaigns", token=admin, json={
        "title": "Crash test", "description": "The relay fails after every publish.", "goal_amount": "100.00"}), 201)
    reader = PaymentsQueueReader(stack.aws_endpoint)
    first = pledge(api, campaign["id"], amount="1.00")
    # Once the first pledge is queued, its invocation has "crashed" and the stream is redelivering its record
    # (with backoff, up to MaximumRetryAttempts); the next pledges wait in the stream behind it and then go out
    # together in one batch, which fails and is redelivered (bisected) in turn.
    poll(lambda: reader.receive_once({first["id"]}), timeout=20, what="the first pledge.created message")
    poll(lambda: stack.log().count(RELAY_INVOCATION) >= 2, timeout=10, what="a redelivery of the first record")
    others = [pledge(api, campaign["id"], amount=f"{n + 2}.00") for n in range(CRASH_PLEDGES - 1)]
    wanted = {first["id"], *(p["id"] for p in others)}

    counts = reader.drain(wanted, quiet_seconds=3, timeout=45)  # kept in flight: this stack is thrown away

    assert counts == Counter({pledge_id: 1 for pledge_id in wanted})
    assert all(m["group"] == m["body"]["data"]["pledge_id"] for m in reader.messages.values())
    log = stack.log()
    invocations = [line for line in log.splitlines() if RELAY_INVOCATION in line]
    assert len(invocations) > CRASH_PLEDGES, f"only {len(invocations)} relay invocations"
    assert all("Chaos.FailAfterHandler" in line for line in invocations), "every relay invocation 'crashed'"
