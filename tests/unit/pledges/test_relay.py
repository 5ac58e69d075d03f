"""The outbox relay end to end: DynamoDB stream events (as Lambda delivers them) in, the payments FIFO queue out."""

from __future__ import annotations

import copy
import itertools
import json
import uuid

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError

from careforall.clock import now_iso
from pledges_service.dal import SqsEventPublisher

KEY = "9b2f6c1e-4d7a-4f3b-a8e5-0c1d2e3f4a5b"
GUEST_BODY = {"amount": "25.00", "donor_email": "guest.donor@example.com", "donor_name": "Grace Hopper"}
EVENT_DATA_FIELDS = {"pledge_id", "campaign_id", "donor_id", "donor_email", "amount", "amount_cents", "currency",
                     "payment_method", "created_at"}
_sequence = itertools.count(111100000000012345678901)


@pytest.fixture
def campaign(pledges_stack) -> str:
    return pledges_stack.put_campaign()


@pytest.fixture
def stream_arn(pledges_stack) -> str:
    return pledges_stack.stack.dynamodb.describe_table(
        TableName=pledges_stack.stack.tables["PledgesTable"])["Table"]["LatestStreamArn"]


def _pledge_item(ps, campaign_id, key=KEY, body=None, authorization=None) -> dict:
    """Create a pledge through the API function; returns its item as stored, in DynamoDB JSON."""
    headers = {"Idempotency-Key": key, **({"Authorization": authorization} if authorization else {})}
    result = ps.api(ps.stack.event("pledges_create", body=body or GUEST_BODY, headers=headers,
                                   path=f"/campaigns/{campaign_id}/pledges", path_params={"id": campaign_id}))
    assert result.status == 201, result.raw_body
    return ps.stack.dynamodb.get_item(TableName=ps.stack.tables["PledgesTable"],
                                      Key={"pk": {"S": f"PLEDGE#{result.json['id']}"}})["Item"]


def _record(stream_arn, event_name, new_image=None, old_image=None) -> dict:
    """One stream record the way Lambda's DynamoDB event source delivers it."""
    image = new_image or old_image
    dynamodb = {"ApproximateCreationDateTime": 1744202096, "Keys": {"pk": image["pk"]},
                "SequenceNumber": str(next(_sequence)), "SizeBytes": 800, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if new_image is not None:
        dynamodb["NewImage"] = new_image
    if old_image is not None:
        dynamodb["OldImage"] = old_image
    return {"eventID": uuid.uuid4().hex, "eventName": event_name, "eventVersion": "1.1",
            "eventSource": "aws:dynamodb", "awsRegion": "us-east-1", "dynamodb": dynamodb,
            "eventSourceARN": stream_arn}


def _insert(stream_arn, item) -> dict:
    return _record(stream_arn, "INSERT", new_image=item)


def _batch(*records) -> dict:
    return {"Records": list(records)}


def _bodies(messages) -> list[dict]:
    return [json.loads(m["Body"]) for m in messages]


class FailingSqs:
    """The real (moto) SQS client, except that sends for the given message groups fail."""

    def __init__(self, failing_groups: set[str]) -> None:
        self._client = boto3.client("sqs", region_name="us-east-1")
        self._failing = failing_groups

    def send_message(self, **kwargs):
        if kwargs["MessageGroupId"] in self._failing:
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "try again"}}, "SendMessage")
        return self._client.send_message(**kwargs)


@pytest.fixture
def failing_for(pledges_stack, monkeypatch):
    """Make publishing fail for some pledge ids."""

    def fail(*pledge_ids: str) -> None:
        publisher = SqsEventPublisher(pledges_stack.queue_url, client=FailingSqs(set(pledge_ids)))
        monkeypatch.setattr(pledges_stack.relay, "publisher", lambda: publisher)

    return fail


# ------------------------------------------------------------------------------------------ INSERT
def test_relay_insert_of_pledge_publishes_one_message_and_reports_no_failures(pledges_stack, campaign, stream_arn):
    item = _pledge_item(pledges_stack, campaign)

    response = pledges_stack.relay_batch(_batch(_insert(stream_arn, item)))

    assert response == {"batchItemFailures": []}
    assert len(pledges_stack.queued_messages()) == 1


def test_relay_message_is_grouped_and_deduplicated_by_pledge_id(pledges_stack, campaign, stream_arn):
    item = _pledge_item(pledges_stack, campaign)

    pledges_stack.relay_batch(_batch(_insert(stream_arn, item)))

    (message,) = pledges_stack.queued_messages()
    pledge_id = item["id"]["S"]
    assert message["Attributes"]["MessageGroupId"] == pledge_id
    assert message["Attributes"]["MessageDeduplicationId"] == pledge_id


def test_relay_message_body_is_pledge_created_event(pledges_stack, campaign, stream_arn):
    item = _pledge_item(pledges_stack, campaign)
    pledge_id = item["id"]["S"]

    pledges_stack.relay_batch(_batch(_insert(stream_arn, item)))

    (body,) = _bodies(pledges_stack.queued_messages())
    assert (body["type"], body["id"], body["version"]) == ("pledge.created", f"pledge.created:{pledge_id}", 1)
    assert body["occurred_at"].endswith("Z")
    assert set(body["data"]) == EVENT_DATA_FIELDS
    assert body["data"] == {
        "pledge_id": pledge_id, "campaign_id": campaign, "donor_id": None, "donor_email": "guest.donor@example.com",
        "amount": "25.00", "amount_cents": 2500, "currency": "USD", "payment_method": "pm_card_visa",
        "created_at": item["created_at"]["S"]}


def test_relay_signed_in_pledge_carries_donor_id(pledges_stack, campaign, stream_arn):
    donor = pledges_stack.stack.seed_user(email="donor@example.com")
    item = _pledge_item(pledges_stack, campaign, body={"amount": "10.00"},
                        authorization=pledges_stack.stack.bearer(donor))

    pledges_stack.relay_batch(_batch(_insert(stream_arn, item)))

    (body,) = _bodies(pledges_stack.queued_messages())
    assert (body["data"]["donor_id"], body["data"]["donor_email"]) == (donor["user_id"], "donor@example.com")


@pytest.mark.parametrize(("cents", "amount"), [(1, "0.01"), (10, "0.10"), (2550, "25.50"), (100000000, "1000000.00")])
def test_relay_amount_is_two_digit_string_of_cents(pledges_stack, campaign, stream_arn, cents, amount):
    item = {**_pledge_item(pledges_stack, campaign), "amount_cents": {"N": str(cents)}}

    pledges_stack.relay_batch(_batch(_insert(stream_arn, item)))

    (body,) = _bodies(pledges_stack.queued_messages())
    assert (body["data"]["amount"], body["data"]["amount_cents"]) == (amount, cents)


def test_relay_batch_of_new_pledges_publishes_one_message_each(pledges_stack, campaign, stream_arn):
    items = [_pledge_item(pledges_stack, campaign, key=f"k{i}") for i in range(3)]

    response = pledges_stack.relay_batch(_batch(*(_insert(stream_arn, item) for item in items)))

    assert response == {"batchItemFailures": []}
    assert sorted(b["data"]["pledge_id"] for b in _bodies(pledges_stack.queued_messages())) == sorted(
        item["id"]["S"] for item in items)


def test_relay_redelivered_insert_is_dropped_by_fifo_deduplication(pledges_stack, campaign, stream_arn):
    # GIVEN a pledge's INSERT already relayed
    item = _pledge_item(pledges_stack, campaign)
    pledges_stack.relay_batch(_batch(_insert(stream_arn, item)))

    # WHEN the stream delivers it again (a retried batch) - also twice within one batch
    pledges_stack.relay_batch(_batch(_insert(stream_arn, item), _insert(stream_arn, item)))

    # THEN the queue holds one message for it
    assert len(pledges_stack.queued_messages()) == 1


def test_relay_sample_event_publishes_only_its_insert(pledges_stack, stream_arn):
    event = json.loads((pledges_stack.stack.model.template_path.parent / "events" / "pledge_relay_stream.json")
                       .read_text())

    response = pledges_stack.relay_batch(event)

    assert response == {"batchItemFailures": []}
    (body,) = _bodies(pledges_stack.queued_messages())
    inserted = event["Records"][0]["dynamodb"]["NewImage"]
    assert body["data"]["pledge_id"] == inserted["id"]["S"]
    assert (body["data"]["amount"], body["data"]["donor_id"]) == ("25.00", None)


# ------------------------------------------------------------------------------------------ ignored records
def test_relay_modify_of_pledge_publishes_nothing(pledges_stack, campaign, stream_arn):
    item = _pledge_item(pledges_stack, campaign)
    completed = {**item, "status": {"S": "COMPLETED"}, "updated_at": {"S": now_iso()}}

    response = pledges_stack.relay_batch(_batch(_record(stream_arn, "MODIFY", new_image=completed, old_image=item)))

    assert response == {"batchItemFailures": []}
    assert pledges_stack.queued_messages() == []


def test_relay_unchanged_modify_publishes_nothing(pledges_stack, campaign, stream_arn):
    # moto (and the local stack) may report a no-op MODIFY with identical images
    item = _pledge_item(pledges_stack, campaign)

    pledges_stack.relay_batch(_batch(_record(stream_arn, "MODIFY", new_image=item, old_image=copy.deepcopy(item))))

    assert pledges_stack.queued_messages() == []


def test_relay_remove_of_pledge_publishes_nothing(pledges_stack, campaign, stream_arn):
    item = _pledge_item(pledges_stack, campaign)

    response = pledges_stack.relay_batch(_batch(_record(stream_arn, "REMOVE", old_image=item)))

    assert response == {"batchItemFailures": []}
    assert pledges_stack.queued_messages() == []


@pytest.mark.parametrize("entity", [{"entity": {"S": "IDEMPOTENCY"}}, {"entity": {"S": "pledge"}}, {}])
def test_relay_insert_of_non_pledge_item_publishes_nothing(pledges_stack, campaign, stream_arn, entity):
    item = {k: v for k, v in _pledge_item(pledges_stack, campaign).items() if k != "entity"}

    response = pledges_stack.relay_batch(_batch(_insert(stream_arn, {**item, **entity})))

    assert response == {"batchItemFailures": []}
    assert pledges_stack.queued_messages() == []


# ------------------------------------------------------------------------------------------ failures
def test_relay_failing_publish_reports_its_sequence_number_and_publishes_the_rest(
        pledges_stack, campaign, stream_arn, failing_for):
    # GIVEN three new pledges, and SQS failing for the second one
    items = [_pledge_item(pledges_stack, campaign, key=f"k{i}") for i in range(3)]
    records = [_insert(stream_arn, item) for item in items]
    failing_for(items[1]["id"]["S"])

    # WHEN the batch is relayed
    response = pledges_stack.relay_batch(_batch(*records))

    # THEN only that record is reported for retry, and the others are on the queue
    assert response == {"batchItemFailures": [{"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}]}
    assert sorted(b["data"]["pledge_id"] for b in _bodies(pledges_stack.queued_messages())) == sorted(
        [items[0]["id"]["S"], items[2]["id"]["S"]])


def test_relay_retry_of_reported_record_publishes_it_once(pledges_stack, campaign, stream_arn, failing_for):
    # GIVEN a batch whose second record failed to publish
    items = [_pledge_item(pledges_stack, campaign, key=f"k{i}") for i in range(2)]
    records = [_insert(stream_arn, item) for item in items]
    failing_for(items[1]["id"]["S"])
    pledges_stack.relay_batch(_batch(*records))

    # WHEN SQS recovers and Lambda redelivers from the failed record on (the first was already sent)
    failing_for()
    response = pledges_stack.relay_batch(_batch(*records))

    # THEN each pledge has exactly one message
    assert response == {"batchItemFailures": []}
    assert sorted(b["data"]["pledge_id"] for b in _bodies(pledges_stack.queued_messages())) == sorted(
        item["id"]["S"] for item in items)


def test_relay_malformed_pledge_image_is_reported_not_dropped(pledges_stack, campaign, stream_arn):
    good = _pledge_item(pledges_stack, campaign, key="good")
    broken = {k: v for k, v in _pledge_item(pledges_stack, campaign, key="broken").items() if k != "amount_cents"}
    records = [_insert(stream_arn, broken), _insert(stream_arn, good)]

    response = pledges_stack.relay_batch(_batch(*records))

    assert response == {"batchItemFailures": [{"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}]}
    assert [b["data"]["pledge_id"] for b in _bodies(pledges_stack.queued_messages())] == [good["id"]["S"]]


def test_relay_batch_where_every_publish_fails_raises_for_a_whole_retry(pledges_stack, campaign, stream_arn,
                                                                        failing_for):
    item = _pledge_item(pledges_stack, campaign)
    failing_for(item["id"]["S"])

    with pytest.raises(BatchProcessingError):
        pledges_stack.relay_batch(_batch(_insert(stream_arn, item)))

    assert pledges_stack.queued_messages() == []
