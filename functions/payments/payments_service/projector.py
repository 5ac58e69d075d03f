"""Projects payments onto pledges: the payments table's stream in, the pledge's status and
`payment` view out. A pledge is COMPLETED when its payment is, FAILED when it failed."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from careforall.config import load_settings
from careforall.observability import count, logger, metrics, tracer
from careforall.tracing import correlation, joined_trace

from payments_service.dal import DynamoPledgeProjection
from payments_service.models import ProjectorSettings

SETTINGS = load_settings(ProjectorSettings)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
PLEDGE_STATUS = {"COMPLETED": "COMPLETED", "FAILED": "FAILED"}


@cache
def projection() -> DynamoPledgeProjection:
    return DynamoPledgeProjection(SETTINGS.pledges_table_name)


def project_record(record: DynamoDBRecord) -> None:
    image = record.dynamodb.new_image if record.dynamodb else None
    if not image or image.get("entity") != "PAYMENT":
        return
    old_state = ((record.dynamodb.old_image or {}) if record.dynamodb else {}).get("state")
    view = {"id": image["id"], "state": image["state"], "provider_ref": image.get("provider_ref"),
            "updated_at": image["updated_at"]}
    with correlation(image.get("correlation_id")), \
            joined_trace(image.get("trace_header"), payment_id=image["id"], pledge_id=image["pledge_id"],
                         correlation_id=image.get("correlation_id")):
        projected = projection().project(image["pledge_id"], image["campaign_id"],
                                         PLEDGE_STATUS.get(image["state"], "PENDING"), view, int(image["version"]))
        logger.info("payment projected onto pledge" if projected else "older payment image skipped",
                    extra={"pledge_id": image["pledge_id"], "payment_id": image["id"], "state": image["state"]})
        if projected and image["state"] in PLEDGE_STATUS and old_state != image["state"]:
            # Counted with the projection's conditional write: a redelivered record counts nothing again.
            count(name="PaymentsFinished", final_state=image["state"])


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=project_record, processor=processor, context=context)
