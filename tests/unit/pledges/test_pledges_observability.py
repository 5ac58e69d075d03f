"""Issue 7 in the pledges service: the pledge keeps its request's correlation id and trace header (the stream,
the outbox, carries none), the relay hands them on in pledge.created and SQS's AWSTraceHeader."""

from __future__ import annotations

import itertools
import json
import uuid

import boto3
import pytest

from pledges_service.dal import SqsEventPublisher
from pledges_service.models import CreatePledgeRequest, PledgeCreatedEvent

CAMPAIGN = "0b6f2f3e-8d1c-4c55-9a0e-6f2b8a7c9d10"
KEY = "9b2f6c1e-4d7a-4f3b-a8e5-0c1d2e3f4a5b"
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
OTHER_TRACE_HEADER = "Root=1-6a7b8c9d-0e1f2a3b4c5d6e7f8a9b0c1d;Parent=0123456789abcdef;Sampled=1"
REQUEST = CreatePledgeRequest(amount="25.00", donor_email="guest@example.com")
_sequence = itertools.count(111300000000012345678901)


# ---------------------------------------------------------------------------------------- PledgesService.create
@pytest.fixture
def campaign(campaigns) -> str:
    return campaigns.add(CAMPAIGN)


def test_create_stores_correlation_id_and_trace_header_on_record(service, pledges_repo, campaign):
    reply = service.create(None, campaign, KEY, REQUEST, correlation_id="checkout-42", trace_header=TRACE_HEADER)

    stored = pledges_repo.items[reply.pledge_id]
    assert (stored.correlation_id, stored.trace_header) == ("checkout-42", TRACE_HEADER)


def test_create_without_correlation_id_or_trace_header_stores_none(service, pledges_repo, campaign):
    reply = service.create(None, campaign, KEY, REQUEST)

    stored = pledges_repo.items[reply.pledge_id]
    assert (stored.correlation_id, stored.trace_header) == (None, None)


def test_create_replay_keeps_first_correlation_id_and_trace_header(service, pledges_repo, campaign):
    # GIVEN a pledge created under one request's correlation id and trace
    first = service.create(None, campaign, KEY, REQUEST, correlation_id="checkout-42", trace_header=TRACE_HEADER)

    # WHEN the client retries it under another request id and trace
    again = service.create(None, campaign, KEY, REQUEST, correlation_id="retry-43", trace_header=OTHER_TRACE_HEADER)

    # THEN it is a replay, and the pledge still names the first request
    assert again.replayed is True
    stored = pledges_repo.items[first.pledge_id]
    assert (stored.correlation_id, stored.trace_header) == ("checkout-42", TRACE_HEADER)


def test_create_response_body_names_neither_correlation_id_nor_trace_header(service, campaign):
    reply = service.create(None, campaign, KEY, REQUEST, correlation_id="checkout-42", trace_header=TRACE_HEADER)

    body = json.loads(reply.body)
    assert "correlation_id" not in body and "trace_header" not in body
    assert "checkout-42" not in reply.body and TRACE_HEADER not in reply.body


# ---------------------------------------------------------------------------------------- the API function
def _create_through_api(ps, campaign_id: str, **headers: str):
    result = ps.api(ps.stack.event("pledges_create", body={"amount": "25.00", "donor_email": "guest@example.com"},
                                   path=f"/campaigns/{campaign_id}/pledges", path_params={"id": campaign_id},
                                   headers={"Idempotency-Key": KEY, **headers}))
    assert result.status == 201, result.raw_body
    return result


def _stored_item(ps, pledge_id: str) -> dict:
    return ps.stack.dynamodb.get_item(TableName=ps.stack.tables["PledgesTable"],
                                      Key={"pk": {"S": f"PLEDGE#{pledge_id}"}})["Item"]


def test_api_create_stores_request_correlation_id_on_pledge_item(pledges_stack):
    campaign_id = pledges_stack.put_campaign()

    result = _create_through_api(pledges_stack, campaign_id, **{"X-Correlation-Id": "checkout-42"})

    item = _stored_item(pledges_stack, result.json["id"])
    assert item["correlation_id"] == {"S": "checkout-42"}


def test_api_create_with_tracing_disabled_stores_no_trace_header(pledges_stack):
    campaign_id = pledges_stack.put_campaign()

    result = _create_through_api(pledges_stack, campaign_id)

    assert "trace_header" not in _stored_item(pledges_stack, result.json["id"])


# ---------------------------------------------------------------------------------------- the relay
class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[tuple[PledgeCreatedEvent, str | None]] = []

    def publish(self, event: PledgeCreatedEvent, trace_header: str | None = None) -> None:
        self.published.append((event, trace_header))


@pytest.fixture
def publisher(pledges_stack, monkeypatch) -> RecordingPublisher:
    fake = RecordingPublisher()
    monkeypatch.setattr(pledges_stack.relay, "publisher", lambda: fake)
    return fake


def _insert(ps, image: dict) -> dict:
    """One INSERT stream record of `image` (DynamoDB JSON), as Lambda's event source delivers it."""
    arn = ps.stack.dynamodb.describe_table(TableName=ps.stack.tables["PledgesTable"])["Table"]["LatestStreamArn"]
    return {"eventID": uuid.uuid4().hex, "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1", "eventSourceARN": arn,
            "dynamodb": {"ApproximateCreationDateTime": 1744202096, "Keys": {"pk": image["pk"]}, "NewImage": image,
                         "SequenceNumber": str(next(_sequence)), "SizeBytes": 800,
                         "StreamViewType": "NEW_AND_OLD_IMAGES"}}


@pytest.fixture
def traced_image(pledges_stack) -> dict:
    """A pledge item as stored by the API, plus the trace header a traced request would have stored."""
    result = _create_through_api(pledges_stack, pledges_stack.put_campaign(), **{"X-Correlation-Id": "checkout-42"})
    return {**_stored_item(pledges_stack, result.json["id"]), "trace_header": {"S": TRACE_HEADER}}


def test_relay_publishes_pledge_created_carrying_the_pledge_correlation_id(pledges_stack, publisher, traced_image):
    response = pledges_stack.relay_batch({"Records": [_insert(pledges_stack, traced_image)]})

    assert response == {"batchItemFailures": []}
    ((event, _),) = publisher.published
    assert (event.type, event.correlation_id) == ("pledge.created", "checkout-42")
    assert event.data["pledge_id"] == traced_image["id"]["S"]


def test_relay_with_tracing_disabled_passes_no_trace_header_to_publisher(pledges_stack, publisher, traced_image):
    pledges_stack.relay_batch({"Records": [_insert(pledges_stack, traced_image)]})

    ((_, trace_header),) = publisher.published
    assert trace_header is None


def test_relay_image_without_correlation_id_publishes_event_without_one(pledges_stack, publisher, traced_image):
    older = {k: v for k, v in traced_image.items() if k not in ("correlation_id", "trace_header")}

    pledges_stack.relay_batch({"Records": [_insert(pledges_stack, older)]})

    ((event, trace_header),) = publisher.published
    assert (event.correlation_id, trace_header) == (None, None)


def test_relay_queued_message_body_carries_correlation_id(pledges_stack, traced_image):
    pledges_stack.relay_batch({"Records": [_insert(pledges_stack, traced_image)]})

    (message,) = pledges_stack.queued_messages()
    assert json.loads(message["Body"])["correlation_id"] == "checkout-42"


# ---------------------------------------------------------------------------------------- SqsEventPublisher
def _event(pledge_id: str = "3d6a1f52-9c4e-5b7a-8e21-4f0c9b7d2a61") -> PledgeCreatedEvent:
    return PledgeCreatedEvent(id=f"pledge.created:{pledge_id}", occurred_at="2025-04-09T12:34:57.012Z",
                              correlation_id="checkout-42", data={"pledge_id": pledge_id})


@pytest.fixture
def sqs_publisher(pledges_stack) -> SqsEventPublisher:
    return SqsEventPublisher(pledges_stack.queue_url, client=boto3.client("sqs", region_name="us-east-1"))


def test_publish_with_trace_header_sends_it_as_aws_trace_header(pledges_stack, sqs_publisher):
    sqs_publisher.publish(_event(), TRACE_HEADER)

    (message,) = pledges_stack.queued_messages()
    assert message["Attributes"]["AWSTraceHeader"] == TRACE_HEADER


def test_publish_without_trace_header_sends_no_aws_trace_header(pledges_stack, sqs_publisher):
    sqs_publisher.publish(_event())

    (message,) = pledges_stack.queued_messages()
    assert "AWSTraceHeader" not in message["Attributes"]


def test_publish_empty_trace_header_sends_no_aws_trace_header(pledges_stack, sqs_publisher):
    sqs_publisher.publish(_event(), "")

    (message,) = pledges_stack.queued_messages()
    assert "AWSTraceHeader" not in message["Attributes"]
