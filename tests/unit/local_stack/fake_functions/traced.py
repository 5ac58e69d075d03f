"""A fake handler with Powertools Tracer on, as the functions have it (the X-Ray SDK in Lambda mode)."""

import os

from aws_lambda_powertools import Tracer

tracer = Tracer(service="fake-traced")


@tracer.capture_lambda_handler
def handler(event, context):
    tracer.put_annotation(key="pledge_id", value=event["pledge_id"])
    return {"trace": os.environ.get("_X_AMZN_TRACE_ID"), "tracer_disabled": tracer.disabled}
