"""The outbox relay: the pledges table's stream in, one pledge.created message per new pledge out.

A crash between the pledge write and the publish loses nothing: the stream redelivers the record,
the FIFO queue drops the repeat by pledge id, and what still fails after the mapping's retries is
kept in the relay's failure queue for ops.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord, DynamoDBRecordEventName
from aws_lambda_powertools.utilities.typing import LambdaContext

from careforall.clock import now_iso
from careforall.config import load_settings
from careforall.money import format_amount, from_cents
from careforall.observability import logger, metrics, tracer
from careforall.tracing import correlation, joined_trace

from pledges_service.dal import SqsEventPublisher
from pledges_service.models import PledgeCreatedEvent, RelaySettings

SETTINGS = load_settings(RelaySettings)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@cache
def publisher() -> SqsEventPublisher:
    return SqsEventPublisher(SETTINGS.payments_queue_url)


def pledge_created(image: dict[str, Any]) -> PledgeCreatedEvent:
    return PledgeCreatedEvent(id=f"pledge.created:{image['id']}", occurred_at=now_iso(),
                              correlation_id=image.get("correlation_id"), data={
        "pledge_id": image["id"], "campaign_id": image["campaign_id"], "donor_id": image.get("donor_id"),
        "donor_email": image["donor_email"], "amount": format_amount(from_cents(int(image["amount_cents"]))),
        "amount_cents": int(image["amount_cents"]), "currency": image["currency"],
        "payment_method": image["payment_method"], "created_at": image["created_at"]})


@tracer.capture_method
def relay_record(record: DynamoDBRecord) -> None:
    # Only a new pledge is news; MODIFY/REMOVE (and moto's no-op MODIFYs) are not events to publish.
    if record.event_name is not DynamoDBRecordEventName.INSERT:
        return
    image = record.dynamodb.new_image
    if image.get("entity") != "PLEDGE":
        return
    with correlation(image.get("correlation_id")), \
            joined_trace(image.get("trace_header"), pledge_id=image["id"],
                         correlation_id=image.get("correlation_id")) as trace_header:
        publisher().publish(pledge_created(image), trace_header)
        metrics.add_metric(name="PledgeEventsPublished", unit="Count", value=1)
        logger.info("pledge.created published", extra={"pledge_id": image["id"]})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=relay_record, processor=processor, context=context)
