"""The totals aggregator: the payments table's stream in, each campaign's totals item out."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from careforall.config import load_settings
from careforall.observability import logger, metrics, tracer

from totals_service.dal import DynamoTotalsStore
from totals_service.logic import TotalsAggregator
from totals_service.models import AggregatorSettings, PaymentChange

SETTINGS = load_settings(AggregatorSettings)


@cache
def aggregator() -> TotalsAggregator:
    return TotalsAggregator(DynamoTotalsStore(SETTINGS.totals_table_name, SETTINGS.ledger_table_name))


def payment_changes(event: DynamoDBStreamEvent) -> list[PaymentChange]:
    changes = []
    for record in event.records:
        image = record.dynamodb.new_image if record.dynamodb else None
        if not image or image.get("entity") != "PAYMENT":
            continue  # provider events, removals, and moto's no-op MODIFYs of other items
        changes.append(PaymentChange(payment_id=image["id"], campaign_id=image["campaign_id"],
                                     amount_cents=int(image["amount_cents"]), state=image["state"],
                                     version=int(image["version"])))
    return changes


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=DynamoDBStreamEvent)
def lambda_handler(event: DynamoDBStreamEvent, context: LambdaContext) -> dict[str, Any]:
    # The whole batch is one unit: a failure re-delivers it, and the ledger makes the repeat a no-op.
    writes = aggregator().apply_batch(payment_changes(event))
    metrics.add_metric(name="TotalsWrites", unit="Count", value=sum(writes.values()))
    logger.info("totals applied", extra={"campaigns": len(writes), "writes": writes})
    return {"batchItemFailures": []}
