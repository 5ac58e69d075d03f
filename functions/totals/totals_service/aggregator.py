"""The totals aggregator: the payments table's stream in, each campaign's totals item out."""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from careforall.config import load_settings
from careforall.observability import logger, metrics, tracer
from careforall.tracing import correlation, report_span

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
                                     version=int(image["version"]), correlation_id=image.get("correlation_id"),
                                     trace_header=image.get("trace_header")))
    return changes


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=DynamoDBStreamEvent)
def lambda_handler(event: DynamoDBStreamEvent, context: LambdaContext) -> dict[str, Any]:
    # The whole batch is one unit: a failure re-delivers it, and the ledger makes the repeat a no-op.
    changes, started = payment_changes(event), time.time()
    result = aggregator().apply_batch(changes)
    ended = time.time()
    for change in result.applied:  # one line and one trace span per donation the totals now include
        with correlation(change.correlation_id):
            logger.info("payment applied to totals", extra={
                "payment_id": change.payment_id, "campaign_id": change.campaign_id, "state": change.state,
                "counted": change.counted})
        report_span(change.trace_header, started, ended, payment_id=change.payment_id,
                    correlation_id=change.correlation_id)
    metrics.add_metric(name="TotalsApplied", unit="Count", value=len(result.applied))
    metrics.add_metric(name="TotalsWrites", unit="Count", value=sum(result.writes.values()))
    logger.info("totals applied", extra={"records": len(changes), "campaigns": len(result.writes),
                                         "writes": result.writes,
                                         "correlation_ids": [c.correlation_id for c in result.applied]})
    return {"batchItemFailures": []}
