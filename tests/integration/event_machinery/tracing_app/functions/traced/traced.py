"""Probe handlers with Powertools Tracer, Logger and Metrics, the way the CareForAll functions use them:
annotations pledge_id / payment_id / correlation_id on the handler's subsegment, structured log lines
carrying correlation_id, one EMF metric per donation."""

import json
import os

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = Tracer()
metrics = Metrics()
_sqs = boto3.client("sqs")


@tracer.capture_lambda_handler
@metrics.log_metrics
def api(event, context):
    """POST /donations {"pledge_id"}: annotates, logs, counts, then hands the donation on through SQS."""
    body = json.loads(event["body"])
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}  # any case, as API GW
    correlation_id = headers.get("x-correlation-id")
    logger.set_correlation_id(correlation_id)
    tracer.put_annotation(key="pledge_id", value=body["pledge_id"])
    tracer.put_annotation(key="correlation_id", value=correlation_id)
    metrics.add_metric(name="ProbeDonations", unit=MetricUnit.Count, value=1)
    logger.info("probe donation received", extra={"pledge_id": body["pledge_id"]})
    # No AWSTraceHeader here: the X-Ray SDK sends X-Amzn-Trace-Id with the request and SQS keeps it.
    _sqs.send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=json.dumps(
        {"pledge_id": body["pledge_id"], "correlation_id": correlation_id}))
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"trace": os.environ.get("_X_AMZN_TRACE_ID")})}


@tracer.capture_lambda_handler
def consume(event, context):
    for record in event["Records"]:
        body = json.loads(record["body"])
        logger.set_correlation_id(body.get("correlation_id"))
        tracer.put_annotation(key="pledge_id", value=body["pledge_id"])
        logger.info("probe donation consumed", extra={"trace_attribute": record["attributes"].get("AWSTraceHeader")})
    return {}


@tracer.capture_lambda_handler
def direct(event, context):
    """Invoked like a Step Functions task whose payload carries `trace_header`."""
    tracer.put_annotation(key="payment_id", value=event["payment_id"])
    return {"trace": os.environ.get("_X_AMZN_TRACE_ID")}
